"""SSH transport: pooled asyncssh connections, argv-only commands, SFTP, host key pinning.

The only module in Tomo that talks to asyncssh; every asyncssh/OSError failure is translated
here into the domain errors of :mod:`tomo.errors`. The connections live on a private event loop
in a thread of their own (:mod:`tomo.lib.ssh.loop`), so SSH work never queues in front of the
caller's other tasks; SSHPool's coroutines are awaited from the caller's loop as usual.

Importing asyncssh costs about 120 ms, and start-up is on the hot path of every desktop-client
launch, so the names that need it (SSHPool, SSHTarget, ProbeResult, parse_private_key, OnOutput)
are loaded on first access through the module ``__getattr__``. ``CommandResult`` and ``to_shell``
are plain Python and load at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tomo.lib.ssh.command import CommandResult, to_shell

if TYPE_CHECKING:
    from tomo.lib.ssh.pool import SSHPool
    from tomo.lib.ssh.session import OnOutput
    from tomo.lib.ssh.target import ProbeResult, SSHTarget, parse_private_key

_LAZY = {
    "SSHPool": "tomo.lib.ssh.pool",
    "OnOutput": "tomo.lib.ssh.session",
    "ProbeResult": "tomo.lib.ssh.target",
    "SSHTarget": "tomo.lib.ssh.target",
    "parse_private_key": "tomo.lib.ssh.target",
}

__all__ = ["CommandResult", "OnOutput", "ProbeResult", "SSHPool", "SSHTarget", "parse_private_key", "to_shell"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
