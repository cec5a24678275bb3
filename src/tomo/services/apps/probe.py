"""The HTTP check from Tomo to an app's web UI: any HTTP status below 500 counts as answering."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from urllib.parse import urlsplit

from tomo.models.installation import HttpCheck


async def http_check(url: str, timeout: float = 5.0) -> HttpCheck:
    """GET ``url`` from Tomo; answering = any HTTP status below 500 (certificates are not checked)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            status = await _get_status(host, port, path, parts.netloc, parts.scheme == "https")
    except (OSError, TimeoutError, ValueError) as exc:
        detail = "no answer within the timeout" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        return HttpCheck(url=url, ok=False, detail=detail[:200], elapsed_ms=_ms(started))
    return HttpCheck(url=url, ok=status < 500, status=status, elapsed_ms=_ms(started),
                     detail=None if status < 500 else f"the app answered HTTP {status}")


async def _get_status(host: str, port: int, path: str, netloc: str, tls: bool) -> int:
    context: ssl.SSLContext | None = None
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(host, port, ssl=context)
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: {netloc}\r\nUser-Agent: tomo\r\nConnection: close\r\n\r\n"
        writer.write(request.encode("latin-1", errors="replace"))
        await writer.drain()
        line = (await reader.readline()).decode("latin-1")
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await writer.wait_closed()
    fields = line.split()
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise ValueError(f"not an HTTP answer: {line[:60]!r}")
    return int(fields[1])


async def wait_for_http(url: str, budget: float, attempt_timeout: float = 3.0) -> HttpCheck:
    """Retry :func:`http_check` until the app answers or ``budget`` seconds pass; the last result."""
    deadline = time.monotonic() + budget
    while True:
        remaining = deadline - time.monotonic()
        check = await http_check(url, timeout=max(0.5, min(attempt_timeout, remaining)))
        if check.ok or deadline - time.monotonic() <= 0:
            return check
        await asyncio.sleep(min(0.25, max(0.0, deadline - time.monotonic())))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
