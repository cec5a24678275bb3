"""The HTTP check of an app's web UI against real HTTP servers on loopback: what counts as answering, timeouts,
refused ports, self-signed TLS, redirects, and the retry budget of wait_for_http."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tomo.services.apps.probe import http_check, wait_for_http

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Site:
    """A tiny HTTP/1.1 server answering each request with the next status of ``statuses`` (the last one repeats)."""

    def __init__(self, *statuses: int, extra: str = "") -> None:
        self.statuses, self.extra, self.requests = list(statuses), extra, list[list[str]]()

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lines = []
        while (line := await reader.readline()) not in (b"\r\n", b""):
            lines.append(line.decode().rstrip("\r\n"))
        self.requests.append(lines)
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        writer.write(f"HTTP/1.1 {status} Whatever\r\n{self.extra}Content-Length: 2\r\n\r\nhi".encode())
        await writer.drain()
        writer.close()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept, read, never answer (until the client goes away)."""
    await reader.read()
    writer.close()


async def not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readline()
    writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    await writer.drain()
    writer.close()


@asynccontextmanager
async def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed(tmp_path: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app.invalid")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


@pytest.mark.parametrize("status", [200, 404])
async def test_a_status_below_500_counts_as_answering(status: int) -> None:
    async with serving(Site(status)) as port:
        check = await http_check(f"http://127.0.0.1:{port}/")
    assert (check.ok, check.status, check.detail) == (True, status, None)
    assert check.elapsed_ms is not None and 0 < check.elapsed_ms < 5000


@pytest.mark.parametrize("status", [500, 503])
async def test_a_server_error_is_not_answering(status: int) -> None:
    async with serving(Site(status)) as port:
        check = await http_check(f"http://127.0.0.1:{port}/")
    assert (check.ok, check.status, check.detail) == (False, status, f"the app answered HTTP {status}")


async def test_the_request_is_one_get_of_the_path_with_the_url_netloc_as_host() -> None:
    site = Site(200)
    async with serving(site) as port:
        await http_check(f"http://LocalHost:{port}/admin/?tab=1")
    [request] = site.requests
    headers = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in request[1:]}
    assert request[0] == "GET /admin/?tab=1 HTTP/1.1"
    assert (headers["host"], headers["user-agent"], headers["connection"]) == (f"LocalHost:{port}", "tomo", "close")


async def test_a_redirect_is_an_answer_and_is_not_followed() -> None:
    target = Site(500)
    async with (
        serving(target) as elsewhere,
        serving(Site(302, extra=f"Location: http://127.0.0.1:{elsewhere}/login\r\n")) as port,
    ):
        check = await http_check(f"http://127.0.0.1:{port}/")
    assert (check.ok, check.status) == (True, 302)
    assert target.requests == []


async def test_a_server_that_never_answers_times_out_within_the_timeout() -> None:
    async with serving(silent) as port:
        started = time.monotonic()
        check = await http_check(f"http://127.0.0.1:{port}/", timeout=0.3)
    assert (check.ok, check.status, check.detail) == (False, None, "no answer within the timeout")
    assert 0.25 <= time.monotonic() - started < 2.0


async def test_a_refused_port_says_the_connection_was_refused() -> None:
    check = await http_check(f"http://127.0.0.1:{free_port()}/")
    assert not check.ok and check.status is None
    assert check.detail is not None and check.detail.startswith("ConnectionRefusedError: ")


async def test_an_answer_that_is_not_http_is_not_answering() -> None:
    async with serving(not_http) as port:
        check = await http_check(f"http://127.0.0.1:{port}/")
    assert not check.ok and check.status is None
    assert check.detail is not None and check.detail.startswith("ValueError: not an HTTP answer: ")


async def test_https_with_a_self_signed_certificate_answers(tmp_path: Path) -> None:
    async with serving(Site(200), tls=self_signed(tmp_path)) as port:
        check = await http_check(f"https://127.0.0.1:{port}/")
    assert (check.ok, check.status) == (True, 200)


async def test_a_proxy_in_the_environment_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with serving(Site(200)) as port:
        check = await http_check(f"http://127.0.0.1:{port}/")
    assert check.ok


async def test_wait_for_http_retries_until_the_app_answers() -> None:
    site = Site(503, 502, 200)
    async with serving(site) as port:
        check = await wait_for_http(f"http://127.0.0.1:{port}/", budget=10.0)
    assert (check.ok, check.status, len(site.requests)) == (True, 200, 3)


async def test_wait_for_http_gives_up_after_its_budget_with_the_last_result() -> None:
    async with serving(silent) as port:
        started = time.monotonic()
        check = await wait_for_http(f"http://127.0.0.1:{port}/", budget=1.2, attempt_timeout=0.5)
    elapsed = time.monotonic() - started
    assert (check.ok, check.detail) == (False, "no answer within the timeout")
    assert 1.2 <= elapsed < 2.5
