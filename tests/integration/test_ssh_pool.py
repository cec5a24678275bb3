"""SSHPool against the real testbed sshd: auth, pooling, reconnection, host key pinning, quoting, SFTP.

Runs against ``scripts/testbed.sh up``; skips when it is not running (fails when ``TOMO_TESTBED=required``).
Every remote file a test creates lives under a unique /tmp path removed by a finalizer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncssh
import pytest
from tests.testbed import TESTBED_SCRIPT, Testbed, remote_path_exists, testbed_or_skip

from tomo.errors import (
    AuthenticationFailed,
    CommandFailed,
    CommandTimeout,
    ConnectionFailed,
    HostKeyMismatch,
    ValidationError,
)
from tomo.lib.ssh import SSHPool, SSHTarget

pytestmark = pytest.mark.testbed

CONNECT_TIMEOUT = 3.0


@pytest.fixture
def testbed() -> Testbed:
    return testbed_or_skip()


@pytest.fixture
async def pool() -> AsyncIterator[SSHPool]:
    pool = SSHPool(connect_timeout=CONNECT_TIMEOUT, command_timeout=30)
    yield pool
    await pool.close_all()


@pytest.fixture
def scratch(testbed: Testbed) -> Iterator[str]:
    """A unique remote directory path (not created), removed afterwards (shared filesystem: see testbed.py)."""
    path = f"/tmp/tomo-ssh-test-{uuid.uuid4().hex}"
    yield path
    subprocess.run(["rm", "-rf", "--", path], check=False)


def password_target(testbed: Testbed, key: str = "main", **changes: object) -> SSHTarget:
    fields: dict[str, object] = {
        "key": key,
        "host": testbed.host,
        "port": testbed.port,
        "username": testbed.user,
        "password": testbed.password,
    }
    return SSHTarget(**{**fields, **changes})  # type: ignore[arg-type]


def key_target(testbed: Testbed, key_file: Path, passphrase: str | None) -> SSHTarget:
    return SSHTarget(
        key=key_file.name,
        host=testbed.host,
        port=testbed.port,
        username=testbed.user,
        private_key=key_file.read_text(),
        passphrase=passphrase,
    )


# -- authentication -------------------------------------------------------------------------------


async def test_password_login_runs_a_command(pool: SSHPool, testbed: Testbed) -> None:
    result = await pool.run(password_target(testbed), ["id", "-un"])
    assert (result.exit_status, result.stdout, result.stderr) == (0, f"{testbed.user}\n", "")


@pytest.mark.parametrize("key_attr", ["key", "key_ecdsa", "key_rsa"])
async def test_private_key_login_for_each_key_type(pool: SSHPool, testbed: Testbed, key_attr: str) -> None:
    key_file: Path = getattr(testbed, key_attr)
    passphrase = None if key_attr == "key" else testbed.key_passphrase
    result = await pool.run(key_target(testbed, key_file, passphrase), ["id", "-un"])
    assert result.stdout == f"{testbed.user}\n"


async def test_openssh_format_key_with_passphrase_logs_in(pool: SSHPool, testbed: Testbed, tmp_path: Path) -> None:
    """The usual ssh-keygen output: an ed25519 key in OpenSSH format, bcrypt-encrypted."""
    encrypted = asyncssh.read_private_key(testbed.key).export_private_key("openssh", "secret words")
    key_file = tmp_path / "id_ed25519_encrypted"
    key_file.write_bytes(encrypted)
    result = await pool.run(key_target(testbed, key_file, "secret words"), ["id", "-un"])
    assert result.stdout == f"{testbed.user}\n"


async def test_wrong_password_is_authentication_failed(pool: SSHPool, testbed: Testbed) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        await pool.run(password_target(testbed, password="not-the-password"), ["true"])
    assert f"'{testbed.user}'" in caught.value.message and "update_server" in caught.value.message
    assert "not-the-password" not in caught.value.message


async def test_unknown_key_is_authentication_failed(pool: SSHPool, testbed: Testbed) -> None:
    stranger = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    target = SSHTarget("stranger", testbed.host, testbed.port, testbed.user, private_key=stranger)
    with pytest.raises(AuthenticationFailed):
        await pool.run(target, ["true"])


async def test_wrong_key_passphrase_is_validation_error(pool: SSHPool, testbed: Testbed) -> None:
    with pytest.raises(ValidationError, match="wrong passphrase"):
        await pool.run(key_target(testbed, testbed.key_rsa, "wrong passphrase"), ["true"])


# -- connection failures --------------------------------------------------------------------------


async def test_closed_port_is_connection_failed_quickly(pool: SSHPool, testbed: Testbed) -> None:
    started = time.monotonic()
    with pytest.raises(ConnectionFailed, match="refused"):
        await pool.run(password_target(testbed, port=2299), ["true"])
    assert time.monotonic() - started < CONNECT_TIMEOUT


async def test_silent_address_times_out_within_connect_timeout(testbed: Testbed) -> None:
    """10.231.0.3 is an unused address on the testbed's own veth link: nobody answers ARP."""
    pool = SSHPool(connect_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ConnectionFailed):
        await pool.run(password_target(testbed, host="10.231.0.3"), ["true"])
    assert time.monotonic() - started < 1.0 + 0.5


# -- pooling --------------------------------------------------------------------------------------


async def test_fifty_concurrent_commands_share_one_connection(pool: SSHPool, testbed: Testbed) -> None:
    target = password_target(testbed)
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, pool.stats()["channels_in_use"])
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    results = await asyncio.gather(*(pool.run(target, ["sh", "-c", f"sleep 0.1; echo {i}"]) for i in range(50)))
    watcher.cancel()
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(50)]
    stats = pool.stats()
    assert (stats["connections"], stats["connects_total"], stats["channels_in_use"]) == (1, 1, 0)
    assert 1 < peak <= 8


async def test_changed_credentials_replace_the_connection(pool: SSHPool, testbed: Testbed) -> None:
    await pool.run(password_target(testbed), ["true"])
    old = pool._connection_for_tests("main")
    with_key = dataclasses.replace(password_target(testbed), password=None, private_key=testbed.key.read_text())
    await pool.run(with_key, ["true"])
    assert pool._connection_for_tests("main") is not old
    assert pool.stats()["connects_total"] == 2
    assert old is not None and old.is_closed()


# -- reconnection ---------------------------------------------------------------------------------


async def test_aborted_connection_reconnects_transparently(pool: SSHPool, testbed: Testbed) -> None:
    target = password_target(testbed)
    await pool.run(target, ["true"])
    assert pool._connection_for_tests("main") is not None
    await pool._abort_for_tests("main")
    result = await pool.run(target, ["echo", "again"])
    assert result.stdout == "again\n"
    assert pool.stats()["connects_total"] == 2


def _sshd_pids_serving(testbed: Testbed, local_port: int) -> list[int]:
    """The sshd processes (in the testbed namespace) whose TCP peer is our local port."""
    out = subprocess.run(
        ["ip", "netns", "exec", "tomo-remote", "ss", "-tnpH", "state", "established", f"( dport = :{local_port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted({int(part.split("=")[1]) for part in out.replace(",", " ").split() if part.startswith("pid=")})


async def test_server_side_kill_reconnects_on_next_command(pool: SSHPool, testbed: Testbed) -> None:
    target = password_target(testbed)
    await pool.run(target, ["true"])
    conn = pool._connection_for_tests("main")
    assert conn is not None
    pids = _sshd_pids_serving(testbed, conn.get_extra_info("sockname")[1])
    assert pids, "no sshd process found for our connection"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    result = await pool.run(target, ["echo", "back"])
    assert result.stdout == "back\n"
    assert pool.stats()["connects_total"] == 2


async def _freeze_server_side(pool: SSHPool, testbed: Testbed, key: str) -> list[int]:
    """SIGSTOP the sshd processes serving our connection: the link stays up but nothing answers."""
    conn = pool._connection_for_tests(key)
    assert conn is not None
    pids = _sshd_pids_serving(testbed, conn.get_extra_info("sockname")[1])
    assert pids, "no sshd process found for our connection"
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    return pids


def _kill_pids(pids: list[int]) -> None:
    for pid in pids:
        os.kill(pid, signal.SIGKILL)


async def test_unresponsive_connection_is_replaced_within_connect_timeout(testbed: Testbed) -> None:
    pool = SSHPool(connect_timeout=1.0, keepalive_interval=60)
    target = password_target(testbed)
    try:
        await pool.run(target, ["true"])
        frozen = await _freeze_server_side(pool, testbed, "main")
        started = time.monotonic()
        try:
            result = await pool.run(target, ["echo", "fresh"])
        finally:
            _kill_pids(frozen)
        assert result.stdout == "fresh\n" and time.monotonic() - started < 2.5
        assert pool.stats()["connects_total"] == 2
    finally:
        await pool.close_all()


async def test_keepalive_closes_a_connection_whose_server_stopped_answering(testbed: Testbed) -> None:
    pool = SSHPool(keepalive_interval=0.3, keepalive_count_max=1)
    target = password_target(testbed)
    try:
        await pool.run(target, ["true"])
        frozen = await _freeze_server_side(pool, testbed, "main")
        try:
            await asyncio.sleep(1.5)
            assert pool.stats()["connections"] == 0
        finally:
            _kill_pids(frozen)
        assert (await pool.run(target, ["echo", "ok"])).stdout == "ok\n"
    finally:
        await pool.close_all()


async def test_command_cut_off_mid_run_is_not_rerun(pool: SSHPool, testbed: Testbed, scratch: str) -> None:
    target = password_target(testbed)
    await pool.makedirs(target, scratch)
    marker = f"{scratch}/runs"
    running = asyncio.create_task(pool.run(target, ["sh", "-c", 'echo run >> "$1"; sleep 5', "sh", marker]))
    await asyncio.sleep(0.5)
    assert pool._connection_for_tests("main") is not None
    await pool._abort_for_tests("main")
    with pytest.raises(ConnectionFailed, match="may or may not have completed"):
        await running
    assert Path(marker).read_text() == "run\n"


# -- host keys ------------------------------------------------------------------------------------


async def test_probe_reports_the_host_key_fingerprint(pool: SSHPool, testbed: Testbed) -> None:
    target = password_target(testbed)
    fingerprint = await pool.host_key_fingerprint(target)
    probe = await pool.probe(target)
    assert fingerprint.startswith("SHA256:") and probe.fingerprint == fingerprint
    assert probe.latency_ms > 0 and not probe.reused
    assert (await pool.probe(target)).reused


async def test_wrong_pin_fails_before_authentication(pool: SSHPool, testbed: Testbed) -> None:
    """A mismatching key aborts the key exchange: a wrong password is never even tried."""
    pin = "SHA256:" + "A" * 43
    target = password_target(testbed, password="wrong", pinned_fingerprint=pin)
    with pytest.raises(HostKeyMismatch) as caught:
        await pool.run(target, ["true"])
    assert caught.value.details["expected"] == pin
    assert caught.value.details["actual"] == await pool.host_key_fingerprint(target)


async def test_rotated_host_key_fails_the_old_pin_and_passes_the_new(testbed: Testbed) -> None:
    if os.geteuid() != 0:
        pytest.skip("rotate-hostkey needs root")
    target = password_target(testbed)
    async with _fresh_pool() as pool:
        old = (await pool.probe(target)).fingerprint
    subprocess.run(["bash", str(TESTBED_SCRIPT), "rotate-hostkey"], check=True, capture_output=True, timeout=60)
    async with _fresh_pool() as pool:
        with pytest.raises(HostKeyMismatch) as caught:
            await pool.run(password_target(testbed, pinned_fingerprint=old), ["true"])
        new = caught.value.details["actual"]
        assert new != old and caught.value.details["expected"] == old
        assert new == await pool.host_key_fingerprint(target)
        probe = await pool.probe(password_target(testbed, pinned_fingerprint=new))
        assert probe.fingerprint == new


class _fresh_pool:  # noqa: N801 - reads as a function in `async with`
    async def __aenter__(self) -> SSHPool:
        self.pool = SSHPool(connect_timeout=CONNECT_TIMEOUT)
        return self.pool

    async def __aexit__(self, *_: object) -> None:
        await self.pool.close_all()


# -- commands -------------------------------------------------------------------------------------


@pytest.mark.parametrize("template", ["; touch {m}", "$(touch {m})", "`touch {m}`", "\ntouch {m}", "' ; touch {m} '"])
async def test_metacharacters_are_echoed_literally_and_execute_nothing(
    pool: SSHPool, testbed: Testbed, scratch: str, template: str
) -> None:
    marker = f"{scratch}-pwned"
    value = template.format(m=marker)
    result = await pool.run(password_target(testbed), ["echo", value])
    assert result.stdout == value + "\n"
    assert not remote_path_exists(marker)


async def test_metacharacters_in_a_file_name_create_that_literal_file(
    pool: SSHPool, testbed: Testbed, scratch: str
) -> None:
    target = password_target(testbed)
    await pool.makedirs(target, scratch)
    name = f"{scratch}/a; touch pwned $(id) `id` \x27q\x27"
    await pool.run(target, ["touch", "--", name], check=True)
    assert sorted(os.listdir(scratch)) == [os.path.basename(name)]


async def test_stdin_reaches_the_command(pool: SSHPool, testbed: Testbed) -> None:
    result = await pool.run(password_target(testbed), ["wc", "-c"], stdin=b"\x00" * 1000 + "ünï".encode())
    assert result.stdout.strip() == str(1000 + len("ünï".encode()))


async def test_check_raises_command_failed_with_stderr_tail(pool: SSHPool, testbed: Testbed) -> None:
    with pytest.raises(CommandFailed) as caught:
        await pool.run(password_target(testbed), ["ls", "/nonexistent-tomo-dir"], check=True)
    assert caught.value.details["exit_status"] == 2
    assert "nonexistent-tomo-dir" in caught.value.details["stderr_tail"]


async def test_output_is_bounded_to_the_tail(pool: SSHPool, testbed: Testbed) -> None:
    command = ["sh", "-c", "head -c 200000 /dev/zero | tr '\\0' a; echo END"]
    result = await pool.run(password_target(testbed), command, max_output=1000)
    assert len(result.stdout) == 1000 and result.stdout.endswith("aEND\n") and result.truncated


async def test_slow_command_times_out_and_is_killed(pool: SSHPool, testbed: Testbed) -> None:
    target = password_target(testbed)
    started = time.monotonic()
    with pytest.raises(CommandTimeout):
        await pool.run(target, ["sleep", "31.25"], timeout=1)
    assert time.monotonic() - started < 2.5
    await asyncio.sleep(0.3)
    survivors = await pool.run(target, ["pgrep", "-f", "sleep 31.25"])
    assert survivors.exit_status == 1, survivors.stdout


async def test_stream_delivers_lines_as_they_arrive(pool: SSHPool, testbed: Testbed) -> None:
    seen: list[tuple[str, str, float]] = []

    async def on_output(stream: str, line: str) -> None:
        seen.append((stream, line, time.monotonic()))

    script = "for i in 1 2 3; do echo line $i; sleep 0.4; done; echo oops >&2; printf tail"
    result = await pool.stream(password_target(testbed), ["sh", "-c", script], on_output)
    finished = time.monotonic()
    assert [(s, line) for s, line, _ in seen] == [
        ("stdout", "line 1"),
        ("stdout", "line 2"),
        ("stdout", "line 3"),
        ("stderr", "oops"),
        ("stdout", "tail"),
    ]
    # Each line arrives when printed, not all at the end (the connection set-up before line 1 is not timed).
    assert finished - seen[0][2] > 0.8 and seen[1][2] - seen[0][2] > 0.3 and seen[2][2] - seen[1][2] > 0.3
    assert result.exit_status == 0 and result.stdout == "line 1\nline 2\nline 3\ntail"


async def test_stream_callback_error_stops_the_command(pool: SSHPool, testbed: Testbed) -> None:
    def on_output(stream: str, line: str) -> None:
        raise RuntimeError("consumer gave up")

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="consumer gave up"):
        await pool.stream(password_target(testbed), ["sh", "-c", "echo hi; sleep 30"], on_output)
    assert time.monotonic() - started < 5
    assert pool.stats()["channels_in_use"] == 0


async def test_stream_with_a_slow_consumer_pauses_and_loses_no_line(pool: SSHPool, testbed: Testbed) -> None:
    lines: list[str] = []

    async def on_output(stream: str, line: str) -> None:
        lines.append(line)
        if len(lines) % 500 == 0:
            await asyncio.sleep(0.01)  # lag behind: the queue passes its high-water mark and reading pauses

    result = await pool.stream(password_target(testbed), ["seq", "1", "20000"], on_output)
    assert lines == [str(n) for n in range(1, 20001)]
    assert result.exit_status == 0 and pool.stats()["channels_in_use"] == 0


async def test_cancelled_call_kills_the_remote_command_and_frees_its_channel(pool: SSHPool, testbed: Testbed) -> None:
    target = password_target(testbed)
    running = asyncio.create_task(pool.run(target, ["sleep", "32.75"]))
    await asyncio.sleep(0.5)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert pool.stats()["channels_in_use"] == 0  # the SSH side unwound before the caller saw the cancel
    await asyncio.sleep(0.3)
    survivors = await pool.run(target, ["pgrep", "-f", "sleep 32.75"])
    assert survivors.exit_status == 1, survivors.stdout


# -- files ----------------------------------------------------------------------------------------


async def test_put_and_get_file_round_trip_with_mode(pool: SSHPool, testbed: Testbed, scratch: str) -> None:
    target = password_target(testbed)
    data = os.urandom(3 * 1024 * 1024) + b"\x00end"
    path = f"{scratch}/deep/dir/compose.yaml"
    await pool.makedirs(target, f"{scratch}/deep/dir")
    await pool.put_file(target, path, data, mode=0o640)
    assert await pool.get_file(target, path) == data
    mode = await pool.run(target, ["stat", "-c", "%a", path], check=True)
    assert mode.stdout.strip() == "640"
    await pool.put_file(target, path, b"second", mode=0o600)
    assert await pool.get_file(target, path) == b"second"
    assert os.listdir(f"{scratch}/deep/dir") == ["compose.yaml"]


async def test_get_file_refuses_a_file_over_max_bytes(pool: SSHPool, testbed: Testbed, scratch: str) -> None:
    target = password_target(testbed)
    await pool.makedirs(target, scratch)
    await pool.put_file(target, f"{scratch}/big", b"x" * 2048)
    with pytest.raises(ValidationError, match="larger than"):
        await pool.get_file(target, f"{scratch}/big", max_bytes=1024)


async def test_get_file_missing_is_command_failed(pool: SSHPool, testbed: Testbed, scratch: str) -> None:
    with pytest.raises(CommandFailed, match="SFTP read"):
        await pool.get_file(password_target(testbed), f"{scratch}/missing")
