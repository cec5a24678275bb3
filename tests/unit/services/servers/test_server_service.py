"""Server tools through the MCP protocol, with the SSH pool replaced by a fake that records every call.

The fake stands in for :class:`tomo.lib.ssh.SSHPool` (same methods); host key pinning, status tracking,
caching, credential storage and the tool envelopes are the real code. tests/integration/test_servers.py
runs the same tools against a real sshd.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.authkit import act_as_user
from tests.conftest import ToolCaller, heap_frozen

from tomo.database.types import utcnow
from tomo.errors import (
    AuthenticationFailed,
    CommandFailed,
    ConnectionFailed,
    HostKeyMismatch,
    HostKeyUnknown,
    TomoError,
)
from tomo.lib.ssh import CommandResult, SSHTarget
from tomo.main import TomoApp
from tomo.models.principal import Role
from tomo.services.servers.servers import ServerService
from tomo.services.servers.ssh import LazySSHPool, SSHService
from tomo.services.servers.system_info import system_info_argv

KEY_A = "SHA256:" + "A" * 43
KEY_B = "SHA256:" + "B" * 43
PASSWORD = "correct-horse-battery-staple-42"

SYSTEM_INFO = (
    "@@os-release\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n@@hostname\nnas\n@@arch\nx86_64\n@@kernel\n6.1\n"
    "@@cpus\n4\n@@meminfo\nMemTotal: 1000 kB\n@@disk\nFilesystem 1024-blocks Used Available Capacity Mounted on\n"
    "/dev/sda1 100 40 60 40% /\n@@docker\n24.0.7|24.0.7\n"
    "@@compose\n2.24.0\n@@end\n"
)


@dataclass
class FakeProbe:
    fingerprint: str
    latency_ms: float
    reused: bool


@dataclass
class FakePool:
    """Records what the SSH service asks of the pool; the "server" presents ``fingerprint``."""

    options: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = KEY_A
    error: TomoError | None = None
    runs: list[tuple[SSHTarget, list[str], float | None, int]] = field(default_factory=list)
    probes: list[SSHTarget] = field(default_factory=list)
    connected: set[str] = field(default_factory=set)
    closed: list[str] = field(default_factory=list)
    closed_all: int = 0

    def _login(self, target: SSHTarget) -> bool:
        if self.error is not None:
            raise self.error
        if target.pinned_fingerprint not in (None, self.fingerprint):
            raise HostKeyMismatch("host key changed", details={"expected": target.pinned_fingerprint,
                                                               "actual": self.fingerprint})  # fmt: skip
        reused = target.key in self.connected
        self.connected.add(target.key)
        return reused

    async def run(self, target: SSHTarget, argv: Sequence[str], *, timeout: float | None = None,
                  stdin: Any = None, check: bool = False, max_output: int = 0) -> CommandResult:  # fmt: skip
        self._login(target)
        self.runs.append((target, list(argv), timeout, max_output))
        stdout = SYSTEM_INFO if list(argv) == system_info_argv() else "ran\n"
        result = CommandResult(exit_status=0, stdout=stdout, stderr="", duration_ms=1.5)
        if check and not result.ok:
            raise CommandFailed("failed")
        return result

    async def probe(self, target: SSHTarget, *, reconnect: bool = False) -> FakeProbe:
        if reconnect:
            await self.close(target.key)
        reused = self._login(target)
        self.probes.append(target)
        return FakeProbe(self.fingerprint, 2.5, reused)

    async def host_key_fingerprint(self, target: SSHTarget) -> str:
        if self.error is not None:
            raise self.error
        return self.fingerprint

    async def close(self, key: str) -> None:
        self.closed.append(key)
        self.connected.discard(key)

    async def close_all(self) -> None:
        self.closed_all += 1
        self.connected.clear()

    def stats(self) -> dict[str, Any]:
        return {"connections": len(self.connected), "channels_in_use": 0}


@pytest.fixture
def fake(tomo_app: TomoApp) -> FakePool:
    pool = FakePool()

    def factory(**options: Any) -> FakePool:
        pool.options = options
        return pool

    tomo_app.services["ssh_pool"].factory = factory
    return pool


async def add(call: ToolCaller, name: str = "nas", **extra: Any) -> dict[str, Any]:
    fields = {"name": name, "host": "192.168.1.10", "username": "admin", "auth_type": "password", "password": PASSWORD}
    answer = await call("add_server", **{**fields, **extra})
    assert answer.envelope["success"], answer.envelope
    return dict(answer.data["server"])


def ed25519_key(passphrase: str | None = None) -> str:
    """A new key; encrypted with few bcrypt rounds, to keep the test fast (strength is not under test)."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*bcrypt.kdf", UserWarning)
        return key.export_private_key("openssh", passphrase, rounds=2).decode()


# -- add, list, get -------------------------------------------------------------------------------


async def test_add_server_stores_it_without_returning_credentials(call: ToolCaller) -> None:
    answer = await call("add_server", name="nas", host="NAS.lan", username="admin", auth_type="password",
                        password=PASSWORD)  # fmt: skip
    server = answer.data["server"]
    assert (server["name"], server["host"], server["port"], server["status"]) == ("nas", "nas.lan", 22, "unknown")
    assert len(server["id"]) == 32 and "test_connection" in answer.envelope["message"]
    assert PASSWORD not in str(answer.envelope) and "credentials" not in server


async def test_add_server_with_encrypted_key_records_its_type(call: ToolCaller) -> None:
    server = await add(call, auth_type="key", password=None, private_key=ed25519_key("pass phrase"),
                       passphrase="pass phrase")  # fmt: skip
    assert (server["auth_type"], server["key_type"]) == ("key", "ssh-ed25519")


@pytest.mark.parametrize(
    ("key", "passphrase", "problem"),
    [("not a key at all", None, "malformed"), ("ENCRYPTED", "wrong", "wrong passphrase"),
     ("ENCRYPTED", None, "give its passphrase")],
)  # fmt: skip
async def test_bad_private_key_is_refused_at_add_time(call: ToolCaller, key: str, passphrase: str | None,
                                                      problem: str) -> None:  # fmt: skip
    text = ed25519_key("right") if key == "ENCRYPTED" else key
    answer = await call("add_server", name="nas", host="10.0.0.5", username="admin", auth_type="key",
                        private_key=text, passphrase=passphrase)  # fmt: skip
    assert answer.error == "VALIDATION_ERROR" and problem in answer.envelope["message"]
    assert (await call("list_servers")).data["servers"] == []


async def test_duplicate_name_is_already_exists_regardless_of_case(call: ToolCaller) -> None:
    await add(call, name="nas")
    answer = await call("add_server", name="NAS", host="10.0.0.6", username="admin", auth_type="password",
                        password="x")  # fmt: skip
    assert answer.error == "ALREADY_EXISTS" and "'NAS' already exists" in answer.envelope["message"]


@pytest.mark.parametrize(
    ("arguments", "hint"),
    [
        ({"port": 0}, "greater than or equal to 1"),
        ({"port": 70000}, "less than or equal to 65535"),
        ({"username": "root; touch /tmp/x"}, "shell characters"),
        ({"host": "nas lan"}, "DNS name"),
        ({"host": ""}, "host is required"),
        ({"name": "my nas"}, "send something like 'nas'"),
        ({"auth_type": "key"}, "needs private_key"),
        ({"private_key": "x"}, "takes only password"),
    ],
)
async def test_invalid_input_is_validation_error_saying_what_to_send(call: ToolCaller, arguments: dict[str, Any],
                                                                      hint: str) -> None:  # fmt: skip
    fields = {"name": "nas", "host": "10.0.0.5", "username": "admin", "auth_type": "password", "password": "pw"}
    answer = await call("add_server", **{**fields, **arguments})
    assert answer.error == "VALIDATION_ERROR" and answer.is_error
    assert hint in answer.envelope["message"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.2", "[::1]", "0.0.0.0"])  # noqa: S104
async def test_this_machine_is_refused_unless_allowed(call: ToolCaller, host: str) -> None:
    answer = await call("add_server", name="self", host=host, username="admin", auth_type="password", password="pw")
    assert answer.error == "VALIDATION_ERROR" and "allow_local_servers" in answer.envelope["message"]
    await call("update_settings", settings={"allow_local_servers": True})
    assert (await call("add_server", name="self", host=host, username="admin", auth_type="password",
                       password="pw")).envelope["success"]  # fmt: skip


async def test_name_resolving_only_to_loopback_is_refused(call: ToolCaller, tomo_app: TomoApp) -> None:
    answers = {"loop.lan": ["127.0.1.1", "::1"], "mixed.lan": ["127.0.1.1", "10.0.0.9"]}

    async def resolver(host: str) -> list[str]:
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    tomo_app.services["server_service"].resolve = resolver
    refused = await call("add_server", name="a", host="loop.lan", username="u", auth_type="password", password="p")
    assert refused.error == "VALIDATION_ERROR" and "resolves to 127.0.1.1, ::1" in refused.envelope["message"]
    await add(call, name="b", host="mixed.lan")
    unknown = await add_answer(call, name="c", host="later.lan")
    assert "does not resolve" in unknown.envelope["message"]


async def test_slow_dns_does_not_block_add_server(call: ToolCaller, tomo_app: TomoApp,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    async def hang(host: str) -> list[str]:
        await asyncio.sleep(60)
        return []

    monkeypatch.setattr("tomo.services.servers.servers.RESOLVE_TIMEOUT_S", 0.2)
    tomo_app.services["server_service"].resolve = hang
    answer = await add_answer(call, name="slow", host="slow.lan")
    assert answer.envelope["success"] and "does not resolve" in answer.envelope["message"]


async def add_answer(call: ToolCaller, name: str, host: str) -> Any:
    return await call("add_server", name=name, host=host, username="u", auth_type="password", password="p")


async def test_get_server_by_id_or_name_and_unknown_is_server_not_found(call: ToolCaller) -> None:
    server = await add(call)
    assert (await call("get_server", server_id=server["id"])).data["server"]["name"] == "nas"
    assert (await call("get_server", server_id="NAS")).data["server"]["id"] == server["id"]
    missing = await call("get_server", server_id="nope")
    assert missing.error == "SERVER_NOT_FOUND" and "call list_servers" in missing.envelope["message"]


async def test_list_servers_is_compact_and_sorted(call: ToolCaller) -> None:
    await add(call, name="zeta")
    await add(call, name="Alpha")
    servers = (await call("list_servers")).data["servers"]
    assert [s["name"] for s in servers] == ["Alpha", "zeta"]
    assert set(servers[0]) == {"id", "name", "host", "port", "username", "auth_type", "status", "last_seen", "os",
                               "docker_version"}  # fmt: skip


# -- update and delete ----------------------------------------------------------------------------


async def test_update_server_changes_fields_and_credentials_and_reconnects(call: ToolCaller, fake: FakePool) -> None:
    server = await add(call)
    await call("test_connection", server_id="nas")
    answer = await call("update_server", server_id="nas", name="nas2", port=2222,
                        credentials={"auth_type": "password", "password": "new-password-1"})  # fmt: skip
    assert answer.data["changed"] == ["credentials", "name", "port"]
    assert (answer.data["server"]["name"], answer.data["server"]["port"]) == ("nas2", 2222)
    assert answer.data["server"]["host_key_fingerprint"] == KEY_A  # the pin stays
    assert server["id"] in fake.closed
    await call("test_connection", server_id="nas2")
    target = fake.probes[-1]
    assert (target.port, target.password, target.pinned_fingerprint) == (2222, "new-password-1", KEY_A)


async def test_update_with_same_values_changes_nothing(call: ToolCaller) -> None:
    await add(call)
    answer = await call("update_server", server_id="nas", host="192.168.1.10", username="admin")
    assert answer.data["changed"] == [] and "Nothing changed" in answer.envelope["message"]


async def test_update_to_a_taken_name_is_already_exists(call: ToolCaller) -> None:
    await add(call, name="one")
    await add(call, name="two")
    answer = await call("update_server", server_id="two", name="ONE")
    assert answer.error == "ALREADY_EXISTS"


async def test_update_with_inconsistent_credentials_is_validation_error(call: ToolCaller) -> None:
    await add(call)
    answer = await call("update_server", server_id="nas", credentials={"auth_type": "key", "password": "x"})
    assert answer.error == "VALIDATION_ERROR" and "needs private_key" in answer.envelope["message"]


async def test_delete_server_needs_confirm_then_removes_it(call: ToolCaller) -> None:
    await add(call)
    assert (await call("delete_server", server_id="nas")).error == "CONFIRMATION_REQUIRED"
    assert (await call("get_server", server_id="nas")).envelope["success"]
    assert (await call("delete_server", server_id="nas", confirm=True)).envelope["success"]
    assert (await call("get_server", server_id="nas")).error == "SERVER_NOT_FOUND"


async def test_delete_refuses_while_dependents_exist_unless_forced(call: ToolCaller, tomo_app: TomoApp) -> None:
    server = await add(call)
    asked: list[str] = []

    async def installed_apps(server_id: str) -> int:
        asked.append(server_id)
        return 2

    service: ServerService = tomo_app.services["server_service"]
    service.register_dependents_check(installed_apps)
    refused = await call("delete_server", server_id="nas", confirm=True)
    assert refused.error == "CONFLICT" and "2 installed app(s)" in refused.envelope["message"]
    assert "force=true" in refused.envelope["message"] and asked == [server["id"]]
    forced = await call("delete_server", server_id="nas", confirm=True, force=True)
    assert forced.data["forgotten"] == {"installed app(s)": 2}
    assert (await call("get_server", server_id="nas")).error == "SERVER_NOT_FOUND"


# -- connection, pinning, status ------------------------------------------------------------------


async def test_first_connection_pins_the_host_key_and_later_ones_verify_it(call: ToolCaller, fake: FakePool) -> None:
    await add(call)
    first = await call("test_connection", server_id="nas")
    assert first.data["host_key_pinned_now"] and first.data["host_key_fingerprint"] == KEY_A
    assert first.data["system_info"]["os"] == "Debian GNU/Linux 12 (bookworm)"
    second = await call("test_connection", server_id="nas")
    assert not second.data["host_key_pinned_now"] and second.data["reused_connection"]
    assert fake.probes[-1].pinned_fingerprint == KEY_A
    server = (await call("get_server", server_id="nas")).data["server"]
    assert (server["status"], server["host_key_fingerprint"]) == ("online", KEY_A) and server["last_seen"]


async def test_changed_host_key_is_refused_until_an_admin_trusts_it(call: ToolCaller, fake: FakePool) -> None:
    await add(call)
    await call("test_connection", server_id="nas")
    fake.fingerprint = KEY_B
    fake.connected.clear()
    refused = await call("test_connection", server_id="nas")
    assert refused.error == "HOST_KEY_MISMATCH"
    server = (await call("get_server", server_id="nas")).data["server"]
    assert (server["status"], server["host_key_fingerprint"]) == ("error", KEY_A)
    assert server["last_error"].startswith("HOST_KEY_MISMATCH")
    wrong = await call("trust_host_key", server_id="nas", fingerprint="SHA256:" + "C" * 43)
    assert wrong.error == "HOST_KEY_MISMATCH" and "nothing was changed" in wrong.envelope["message"]
    assert (await call("get_server", server_id="nas")).data["server"]["host_key_fingerprint"] == KEY_A
    trusted = await call("trust_host_key", server_id="nas", fingerprint=KEY_B)
    assert trusted.data["changed"] and trusted.data["server"]["host_key_fingerprint"] == KEY_B
    assert (await call("test_connection", server_id="nas")).data["connected"]
    again = await call("trust_host_key", server_id="nas", fingerprint=KEY_B)
    assert again.data["changed"] is False


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [(ConnectionFailed("10.0.0.5:22 refused the connection"), "CONNECTION_FAILED", "offline"),
     (AuthenticationFailed("SSH login as 'admin' was rejected"), "AUTHENTICATION_FAILED", "error")],
)  # fmt: skip
async def test_failed_connection_records_status_and_last_error(call: ToolCaller, fake: FakePool, error: TomoError,
                                                               code: str, status: str) -> None:  # fmt: skip
    await add(call)
    fake.error = error
    answer = await call("test_connection", server_id="nas")
    assert answer.error == code and answer.envelope["message"] == error.message
    server = (await call("get_server", server_id="nas")).data["server"]
    assert (server["status"], server["last_error"]) == (status, f"{code}: {error.message}")
    assert server["host_key_fingerprint"] is None


async def test_a_command_on_an_unpinned_server_is_host_key_unknown(call: ToolCaller, fake: FakePool,
                                                                    tomo_app: TomoApp) -> None:  # fmt: skip
    server = await add(call)
    ssh: SSHService = tomo_app.services["ssh_service"]
    with pytest.raises(HostKeyUnknown, match=r"test_connection\(server_id='nas'\)"):
        await ssh.run(server["id"], ["echo", "hi"])
    assert fake.probes == [] and fake.runs == []  # nothing was sent to whatever answers at that address
    assert (await call("get_server", server_id="nas")).data["server"]["host_key_fingerprint"] is None
    await call("test_connection", server_id="nas")
    assert (await ssh.run(server["id"], ["echo", "hi"])).ok and fake.runs[-1][0].pinned_fingerprint == KEY_A


async def test_a_viewers_read_tool_does_not_pin_the_host_key(call: ToolCaller, fake: FakePool,
                                                             tomo_app: TomoApp) -> None:  # fmt: skip
    await add(call)
    await act_as_user(tomo_app, "vic", Role.VIEWER)
    answer = await call("get_server_info", server_id="nas", refresh=True)
    assert answer.error == "HOST_KEY_UNKNOWN" and "test_connection" in answer.envelope["message"]
    assert (await call("get_server", server_id="nas")).data["server"]["host_key_fingerprint"] is None
    assert fake.probes == [] and fake.runs == []


async def test_trust_host_key_pins_an_unpinned_server(call: ToolCaller, fake: FakePool) -> None:
    await add(call)
    trusted = await call("trust_host_key", server_id="nas", fingerprint=KEY_A)
    assert trusted.data["changed"] and trusted.data["server"]["host_key_fingerprint"] == KEY_A
    assert (await call("get_server_info", server_id="nas", refresh=True)).data["system_info"]["cpu_count"] == 4


async def test_a_pin_by_another_instance_is_seen_without_waiting_for_the_change_counter(
    call: ToolCaller, fake: FakePool, tomo_app: TomoApp
) -> None:
    server = await add(call)
    ssh: SSHService = tomo_app.services["ssh_service"]
    await ssh.target(server["id"])  # cached while unpinned
    await tomo_app.services["server_service"].repo.pin_host_key(server["id"], KEY_A, utcnow(), replace=False)
    assert (await ssh.run(server["id"], ["true"])).ok and fake.runs[-1][0].pinned_fingerprint == KEY_A


async def test_server_info_is_cached_until_refresh(call: ToolCaller, fake: FakePool) -> None:
    await add(call)
    await call("trust_host_key", server_id="nas", fingerprint=KEY_A)
    first = await call("get_server_info", server_id="nas")
    assert first.data["cached"] is False and first.data["system_info"]["cpu_count"] == 4
    runs = len(fake.runs)
    cached = await call("get_server_info", server_id="nas")
    assert cached.data["cached"] is True and len(fake.runs) == runs
    assert (await call("get_server_info", server_id="nas", refresh=True)).data["cached"] is False
    assert len(fake.runs) == runs + 1


# -- execute_command ------------------------------------------------------------------------------


async def test_execute_command_is_disabled_by_default(call: ToolCaller, fake: FakePool) -> None:
    await add(call)
    answer = await call("execute_command", server_id="nas", command="id", confirm=True)
    assert answer.error == "FEATURE_DISABLED" and "allow_execute_command" in answer.envelope["message"]
    assert fake.runs == []


async def test_execute_command_runs_sh_c_with_timeout_and_output_limit(call: ToolCaller, fake: FakePool) -> None:
    await add(call)
    await call("trust_host_key", server_id="nas", fingerprint=KEY_A)
    await call("update_settings", settings={"allow_execute_command": True, "execute_command_max_output": 2048})
    answer = await call("execute_command", server_id="nas", command="df -h / | tail -1", timeout=5, confirm=True)
    assert answer.data == {"exit_status": 0, "stdout_tail": "ran\n", "stderr_tail": "", "truncated": False,
                           "duration_ms": 1.5}  # fmt: skip
    _, argv, timeout, max_output = fake.runs[-1]
    assert (argv, timeout, max_output) == (["sh", "-c", "df -h / | tail -1"], 5, 2048)


@pytest.mark.parametrize("timeout", [0, 3601])
async def test_execute_command_timeout_is_bounded(call: ToolCaller, timeout: int) -> None:
    await add(call)
    answer = await call("execute_command", server_id="nas", command="true", timeout=timeout, confirm=True)
    assert answer.error == "VALIDATION_ERROR"


# -- secrets at rest ------------------------------------------------------------------------------


async def test_credentials_are_encrypted_in_the_database_and_masked_in_the_audit_log(
    call: ToolCaller, tomo_app: TomoApp, fake: FakePool
) -> None:
    key = ed25519_key()
    await add(call, name="pw")
    await add(call, name="key", auth_type="key", password=None, private_key=key)
    await call("update_server", server_id="pw", credentials={"auth_type": "password", "password": PASSWORD + "-2"})
    await call("test_connection", server_id="key")
    audit = await call("get_audit_log", tool="add_server")
    assert audit.data["entries"] and all(e["arguments"].get("password") in (None, "***") for e in audit.data["entries"])
    await tomo_app.database.dispose()
    stored = b"".join(path.read_bytes() for path in tomo_app.config.data_dir.glob("tomo.db*"))
    key_body = key.splitlines()[1].encode()
    assert PASSWORD.encode() not in stored and key_body not in stored
    assert b"BEGIN OPENSSH PRIVATE KEY" not in stored


# -- the pool: lazy, from settings ----------------------------------------------------------------


async def test_pool_is_created_on_first_use_with_the_ssh_settings(call: ToolCaller, tomo_app: TomoApp,
                                                                  fake: FakePool) -> None:  # fmt: skip
    lazy: LazySSHPool = tomo_app.services["ssh_pool"]
    assert lazy.current() is None
    assert (await call("health_check", detailed=True)).data["ssh_pool"]["status"] == "idle"
    await add(call)
    await call("update_settings", settings={"ssh_connect_timeout": 7, "ssh_max_channels": 4})
    await call("test_connection", server_id="nas")
    assert fake.options == {"connect_timeout": 7.0, "command_timeout": 60.0, "keepalive_interval": 30.0,
                            "max_channels": 4}  # fmt: skip
    assert (await call("health_check", detailed=True)).data["ssh_pool"]["connections"] == 1


async def test_changed_ssh_setting_gives_a_new_pool_and_retires_the_old(tomo_app: TomoApp) -> None:
    pools: list[FakePool] = []

    def factory(**options: Any) -> FakePool:
        pools.append(FakePool(options=options))
        return pools[-1]

    lazy = LazySSHPool(tomo_app.services["settings_service"], factory)
    assert lazy.get() is lazy.get() and len(pools) == 1
    tomo_app.services["settings_service"]._values["ssh_command_timeout"] = 120  # read per call: same pool
    assert lazy.get() is pools[0]
    tomo_app.services["settings_service"]._values["ssh_keepalive_interval"] = 5
    assert lazy.get() is pools[1] and pools[1].options["keepalive_interval"] == 5.0
    await asyncio.sleep(0.05)
    assert pools[0].closed_all == 1
    await lazy.close_all()
    assert pools[1].closed_all == 1


def test_starting_tomo_does_not_import_asyncssh(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom pathlib import Path\nfrom tomo.lib.config import TomoConfig\n"
        "from tomo.main import build_app\n"
        f"build_app(TomoConfig(data_dir=Path({str(tmp_path)!r})))\nprint('asyncssh' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "False"


async def test_inconsistent_rsa_key_is_refused_by_the_full_check(call: ToolCaller) -> None:
    numbers = rsa.generate_private_key(65537, 2048).private_numbers()
    broken = rsa.RSAPrivateNumbers(numbers.p, numbers.q, numbers.d, numbers.dmp1, numbers.dmq1,
                                   (numbers.iqmp + 1) % numbers.p, numbers.public_numbers)  # fmt: skip
    pem = broken.private_key(unsafe_skip_rsa_key_validation=True).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    answer = await call("add_server", name="nas", host="10.0.0.5", username="admin", auth_type="key", private_key=pem)
    assert answer.error == "VALIDATION_ERROR" and "malformed" in answer.envelope["message"]


async def test_adding_an_rsa_key_does_not_stall_the_event_loop(call: ToolCaller) -> None:
    """cryptography's RSA check holds the GIL for ~200 ms: add_server runs it in a child process."""
    key = asyncssh.generate_private_key("ssh-rsa", key_size=4096).export_private_key().decode()
    worst = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            worst = max(worst, time.perf_counter() - started)

    with heap_frozen():
        watcher = asyncio.create_task(ticker())
        server = await add(call, auth_type="key", password=None, private_key=key)
        done.set()
        await watcher
    assert server["key_type"] == "ssh-rsa" and worst < 0.15, worst


async def test_prepare_server_refuses_an_unsafe_apps_root_before_starting(call: ToolCaller, fake: FakePool) -> None:
    await add(call)
    await call("update_settings", settings={"apps_root": "/opt/apps; rm -rf /"})
    answer = await call("prepare_server", server_id="nas")
    assert answer.error == "VALIDATION_ERROR" and "apps_root" in answer.envelope["message"]
    assert fake.runs == [] and (await call("list_jobs")).data["jobs"] == []
