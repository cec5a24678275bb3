"""The HTTP check from Tomo to an app's web UI: any HTTP status below 500 counts as answering.

One GET over httpx2 (the httpx fork FastMCP itself depends on), imported on first use so that
`tomo serve` does not load its transport at start. What the check does, as before the library:

- a fresh connection per check (no pool, no keep-alive), ``Connection: close``, ``User-Agent: tomo``,
  ``Host`` as written in the URL (its netloc);
- no proxy or other setting from the environment (``trust_env=False``): Tomo opens the app's port itself;
- certificates are not checked (apps on a LAN serve self-signed ones), redirects are not followed (a 3xx
  is an answer), the body is not read;
- one ``timeout`` for the whole attempt (connect, TLS, request, status line and headers).

Library errors are translated once, in :func:`_get_status`: a timeout becomes :class:`TimeoutError`, a
failed connection the :class:`OSError` beneath it, anything that is not HTTP a :class:`ValueError`.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tomo.models.installation import HttpCheck

if TYPE_CHECKING:
    import httpx2


async def http_check(url: str, timeout: float = 5.0) -> HttpCheck:
    """GET ``url`` from Tomo; answering = any HTTP status below 500 (certificates are not checked)."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            status = await _get_status(url, timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        detail = "no answer within the timeout" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        return HttpCheck(url=url, ok=False, detail=detail[:200], elapsed_ms=_ms(started))
    return HttpCheck(url=url, ok=status < 500, status=status, elapsed_ms=_ms(started),
                     detail=None if status < 500 else f"the app answered HTTP {status}")


async def _get_status(url: str, timeout: float) -> int:
    """The HTTP status of one GET of ``url``; raises TimeoutError, OSError or ValueError."""
    import httpx2  # lazy: its transport is not needed to start Tomo

    parts = urlsplit(url)
    _ = parts.port  # ValueError on a port out of range, which httpx2 would pass on to connect()
    headers = {"Host": parts.netloc, "User-Agent": "tomo", "Connection": "close"}
    client = httpx2.AsyncClient(verify=False, trust_env=False, follow_redirects=False, timeout=timeout)  # noqa: S501 - see the module doc
    try:
        async with client, client.stream("GET", url, headers=headers) as response:
            return response.status_code
    except httpx2.TimeoutException as exc:
        raise TimeoutError(str(exc)) from exc
    except httpx2.TransportError as exc:
        cause = _os_error(exc)
        if cause is None:
            raise ValueError(f"not an HTTP answer: {exc}") from exc
        raise cause from None  # already in exc's chain: the error as the socket raised it
    except httpx2.InvalidURL as exc:
        raise ValueError(str(exc)) from exc


def _os_error(exc: httpx2.TransportError) -> OSError | None:
    """The innermost OSError beneath a transport error (a refused connection, a failed TLS handshake), if any."""
    found, cause, seen = None, exc.__cause__ or exc.__context__, {id(exc)}
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        found = cause if isinstance(cause, OSError) else found
        cause = cause.__cause__ or cause.__context__
    return found


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
