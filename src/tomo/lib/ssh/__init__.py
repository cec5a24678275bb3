"""SSH transport: pooled asyncssh connections, argv-only commands, SFTP, host key pinning.

The only module in Tomo that talks to asyncssh; every asyncssh/OSError failure is translated
here into the domain errors of :mod:`tomo.errors`.
"""

from tomo.lib.ssh.command import CommandResult, to_shell
from tomo.lib.ssh.pool import SSHPool
from tomo.lib.ssh.session import OnOutput
from tomo.lib.ssh.target import ProbeResult, SSHTarget, parse_private_key

__all__ = ["CommandResult", "OnOutput", "ProbeResult", "SSHPool", "SSHTarget", "parse_private_key", "to_shell"]
