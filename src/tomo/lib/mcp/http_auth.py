"""HTTP authentication at the door: an ASGI middleware in front of ``/mcp``.

Every request to ``/mcp`` must carry ``Authorization: Bearer <token>``; a missing or
invalid token gets HTTP 401 with ``WWW-Authenticate: Bearer``. The only exceptions are
what an unauthenticated client needs to reach ``login`` and the minimal
``health_check``: protocol plumbing (initialize, ping, notifications, tools/list, which
then lists only public tools) and those two calls. To tell them apart the JSON-RPC
body is read (at most ``max_body`` bytes, else 413) and replayed to the app.

The principal found here is stored in the request scope, so the tool call that
follows resolves it without a second lookup: one check per request, no per-session
state. The client address is the TCP peer; ``X-Forwarded-For`` is believed only when
the peer is a trusted proxy.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tomo.errors import InvalidToken, TomoError
from tomo.models.principal import ANONYMOUS_HTTP, Principal

PRINCIPAL_KEY = "tomo.principal"
CLIENT_IP_KEY = "tomo.client_ip"
#: What an anonymous request may send: login and the basic health check need far less. A larger body is refused
#: with 413 before anything parses it.
MAX_BODY = 64 * 1024
#: What a signed-in request may send (a private key, a compose file, settings): 4 MiB, counted as it arrives.
MAX_AUTHENTICATED_BODY = 4 * 1024 * 1024
PUBLIC_METHODS = frozenset({"initialize", "ping", "tools/list", "server/discover"})
JSONRPC_UNAUTHORIZED = -32001

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (``name`` lower-case), decoded as latin-1."""
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def bearer_token(value: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, or None when it is not one."""
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token or len(token) > 4096:
        return None
    return token


def _networks(trusted: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for entry in trusted:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue
    return networks


def _is_trusted(address: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(scope: Scope, trusted_proxies: Sequence[str]) -> str:
    """The client's IP: the TCP peer, or the nearest untrusted hop of X-Forwarded-For behind trusted proxies."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    networks = _networks(trusted_proxies)
    if not networks or not _is_trusted(peer, networks):
        return peer
    forwarded = header(scope, b"x-forwarded-for")
    hops = [hop.strip() for hop in (forwarded or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer
        if not _is_trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


def _public_message(message: Any) -> bool:
    if not isinstance(message, dict) or not isinstance(message.get("method"), str):
        return False
    method = message["method"]
    if method in PUBLIC_METHODS or method.startswith("notifications/"):
        return True
    if method != "tools/call" or not isinstance(message.get("params"), dict):
        return False
    name, arguments = message["params"].get("name"), message["params"].get("arguments") or {}
    if not isinstance(arguments, dict):
        return False
    return name == "login" or (name == "health_check" and not arguments.get("detailed"))


def is_public_request(body: bytes) -> bool:
    """Whether a JSON-RPC body (message or batch) only needs what an anonymous caller may do."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    messages = parsed if isinstance(parsed, list) else [parsed]
    return bool(messages) and all(_public_message(m) for m in messages)


async def _send_json(send: Send, status: int, payload: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps(payload).encode()
    base = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": base + headers})
    await send({"type": "http.response.body", "body": body})


async def unauthorized(send: Send, message: str, error: str | None) -> None:
    """HTTP 401 with ``WWW-Authenticate: Bearer`` and a JSON-RPC error body an MCP client can show."""
    challenge = 'Bearer realm="tomo"'
    if error:
        description = message.replace('"', "'")
        challenge += f', error="{error}", error_description="{description}"'
    payload = {"jsonrpc": "2.0", "id": None, "error": {"code": JSONRPC_UNAUTHORIZED, "message": message}}
    await _send_json(send, 401, payload, [(b"www-authenticate", challenge.encode("latin-1", "replace"))])


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it exceeds ``limit`` bytes or the client left."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _bounded(receive: Receive, limit: int) -> Receive:
    """``receive`` that reports the client gone once more than ``limit`` body bytes came (no Content-Length)."""
    size = 0

    async def bounded() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                return {"type": "http.disconnect"}
        return message

    return bounded


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class BearerAuthMiddleware:
    """Refuses unauthenticated requests to the MCP endpoint (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        authenticate: Callable[[str], Awaitable[Principal]],
        client_ip: Callable[[Scope], str],
        path: str = "/mcp",
        max_body: int = MAX_BODY,
        max_authenticated_body: int = MAX_AUTHENTICATED_BODY,
    ) -> None:
        self.app = app
        self.authenticate = authenticate
        self.client_ip = client_ip
        self.path = path.rstrip("/")
        self.max_body = max_body
        self.max_authenticated_body = max_authenticated_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == self.path or path.startswith(self.path + "/")):
            await self.app(scope, receive, send)
            return
        scope[CLIENT_IP_KEY] = self.client_ip(scope)
        value = header(scope, b"authorization")
        if value is not None:
            await self._with_token(value, scope, receive, send)
            return
        await self._anonymous(scope, receive, send)

    async def _with_token(self, value: str, scope: Scope, receive: Receive, send: Send) -> None:
        token = bearer_token(value)
        if token is None:
            await unauthorized(send, "The Authorization header must be 'Bearer <token>'.", "invalid_request")
            return
        try:
            scope[PRINCIPAL_KEY] = await self.authenticate(token)
        except InvalidToken as exc:
            await unauthorized(send, exc.message, "invalid_token")
            return
        except TomoError as exc:
            await _send_json(send, 503, {"error": exc.code, "error_description": exc.message}, [])
            return
        limit = self.max_authenticated_body
        length = header(scope, b"content-length")
        if length and length.isdigit() and int(length) > limit:
            await _send_json(send, 413, {"error": f"Request body over {limit} bytes."}, [])
            return
        await self.app(scope, _bounded(receive, limit), send)

    async def _anonymous(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = ("Authentication required: send 'Authorization: Bearer <token>' (an API token, "
                   "or the token from the login tool).")
        if scope.get("method") != "POST":
            await unauthorized(send, refusal, None)
            return
        length = header(scope, b"content-length")
        body = None if length and length.isdigit() and int(length) > self.max_body else \
            await _read_body(receive, self.max_body)
        if body is None:
            await _send_json(send, 413, {"error": f"Request body missing or over {self.max_body} bytes."}, [])
            return
        if not is_public_request(body):
            await unauthorized(send, refusal, None)
            return
        scope[PRINCIPAL_KEY] = ANONYMOUS_HTTP
        await self.app(scope, _replay(body, receive), send)
