"""The HTTP door: bearer tokens, the anonymous allow-list, body replay and size limit, client addresses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tomo.errors import InvalidToken
from tomo.lib.mcp.http_auth import (
    CLIENT_IP_KEY,
    PRINCIPAL_KEY,
    BearerAuthMiddleware,
    bearer_token,
    client_address,
    is_public_request,
)
from tomo.models.principal import Principal, Role

ADMIN = Principal(username="root", role=Role.ADMIN, transport="http", user_id="u1")


def rpc(method: str, **params: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()


@pytest.mark.parametrize(
    ("body", "public"),
    [
        (rpc("initialize", protocolVersion="2025-06-18"), True),
        (rpc("notifications/initialized"), True),
        (rpc("tools/list"), True),
        (rpc("ping"), True),
        (rpc("tools/call", name="login", arguments={"username": "a", "password": "b"}), True),
        (rpc("tools/call", name="health_check", arguments={}), True),
        (rpc("tools/call", name="health_check"), True),
        (rpc("tools/call", name="health_check", arguments={"detailed": True}), False),
        (rpc("tools/call", name="list_jobs", arguments={}), False),
        (rpc("resources/list"), False),
        (b"[" + rpc("ping") + b"," + rpc("tools/call", name="list_jobs") + b"]", False),
        (b"[" + rpc("ping") + b"," + rpc("tools/list") + b"]", True),
        (b"[]", False),
        (b"not json", False),
        (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": "x"}).encode(), False),
    ],
)
def test_only_plumbing_login_and_basic_health_check_are_anonymous(body: bytes, public: bool) -> None:
    assert is_public_request(body) is public


@pytest.mark.parametrize(
    ("value", "token"),
    [("Bearer abc.def", "abc.def"), ("bearer tomo_x", "tomo_x"), ("Basic dXNlcjpwYXNz", None), ("Bearer", None),
     ("Bearer a b", None), ("tomo_x", None)],
)
def test_bearer_token_parsing(value: str, token: str | None) -> None:
    assert bearer_token(value) == token


def scope(peer: str = "203.0.113.9", headers: dict[str, str] | None = None, method: str = "POST",
          path: str = "/mcp") -> dict[str, Any]:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return {"type": "http", "method": method, "path": path, "headers": raw, "client": (peer, 5555)}


def test_client_address_ignores_forwarded_headers_from_untrusted_peers() -> None:
    assert client_address(scope(headers={"X-Forwarded-For": "1.2.3.4"}), []) == "203.0.113.9"
    assert client_address(scope(headers={"X-Forwarded-For": "1.2.3.4"}), ["10.0.0.0/8"]) == "203.0.113.9"


def test_client_address_believes_trusted_proxies_up_to_the_first_untrusted_hop() -> None:
    trusted = ["10.0.0.0/8", "192.0.2.1"]
    headers = {"X-Forwarded-For": "6.6.6.6, 198.51.100.4, 10.1.1.1"}
    assert client_address(scope("192.0.2.1", headers), trusted) == "198.51.100.4"
    assert client_address(scope("10.2.2.2", {"X-Forwarded-For": "garbage"}), trusted) == "10.2.2.2"
    assert client_address(scope("10.2.2.2"), trusted) == "10.2.2.2"


class Recorder:
    """A fake app and ASGI plumbing that records what happens."""

    def __init__(self, body: bytes = b"", chunk: int = 1 << 20) -> None:
        self.chunks = [body[i:i + chunk] for i in range(0, len(body), chunk)] or [b""]
        self.app_body: bytes | None = None
        self.app_scope: dict[str, Any] | None = None
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        chunk = self.chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.app_scope = scope
        message = await receive()
        self.app_body = message["body"]

    @property
    def status(self) -> int | None:
        return self.sent[0]["status"] if self.sent else None

    def header(self, name: bytes) -> bytes | None:
        return dict(self.sent[0]["headers"]).get(name) if self.sent else None


async def authenticate(token: str) -> Principal:
    if token == "good":
        return ADMIN
    raise InvalidToken("The bearer token is not valid: call login, or use an API token.")


async def run(recorder: Recorder, request_scope: dict[str, Any], max_body: int = 1 << 20) -> None:
    middleware = BearerAuthMiddleware(recorder.app, authenticate, lambda s: "203.0.113.9", max_body=max_body)
    await middleware(request_scope, recorder.receive, recorder.send)


async def test_valid_token_reaches_the_app_with_its_principal() -> None:
    recorder = Recorder(rpc("tools/call", name="list_jobs"))
    await run(recorder, scope(headers={"Authorization": "Bearer good"}))
    assert recorder.app_scope is not None and recorder.app_scope[PRINCIPAL_KEY] == ADMIN
    assert recorder.app_scope[CLIENT_IP_KEY] == "203.0.113.9"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer bad"}, {"Authorization": "Basic Zm9vOmJhcg=="}])
async def test_protected_calls_without_a_valid_token_get_401(headers: dict[str, str]) -> None:
    recorder = Recorder(rpc("tools/call", name="list_jobs"))
    await run(recorder, scope(headers=headers))
    assert recorder.status == 401 and recorder.app_scope is None
    challenge = recorder.header(b"www-authenticate")
    assert challenge is not None and challenge.startswith(b"Bearer")


async def test_anonymous_public_call_is_replayed_whole_to_the_app() -> None:
    body = rpc("tools/call", name="login", arguments={"username": "alice", "password": "x" * 5000})
    recorder = Recorder(body, chunk=1000)
    await run(recorder, scope())
    assert recorder.app_body == body
    assert recorder.app_scope is not None and recorder.app_scope[PRINCIPAL_KEY].role is None


async def test_oversized_anonymous_body_gets_413() -> None:
    recorder = Recorder(rpc("tools/call", name="login", arguments={"password": "x" * 3000}), chunk=500)
    await run(recorder, scope(), max_body=1000)
    assert recorder.status == 413 and recorder.app_scope is None


async def test_anonymous_get_gets_401_and_other_paths_pass() -> None:
    recorder = Recorder()
    await run(recorder, scope(method="GET"))
    assert recorder.status == 401
    health = Recorder()
    await run(health, scope(method="GET", path="/healthz"))
    assert health.app_scope is not None and health.status is None


async def test_an_anonymous_body_is_limited_to_64_kib_by_default() -> None:
    body = rpc("tools/call", name="login", arguments={"username": "alice", "password": "x" * 70_000})
    recorder = Recorder(body, chunk=8192)
    middleware = BearerAuthMiddleware(recorder.app, authenticate, lambda s: "203.0.113.9")
    await middleware(scope(), recorder.receive, recorder.send)
    assert recorder.status == 413 and recorder.app_scope is None


async def test_a_signed_in_body_over_its_limit_is_refused_or_cut_off() -> None:
    big = rpc("tools/call", name="add_server", arguments={"private_key": "k" * 5000})
    declared = Recorder(big)
    middleware = BearerAuthMiddleware(declared.app, authenticate, lambda s: "203.0.113.9", max_authenticated_body=4096)
    await middleware(scope(headers={"Authorization": "Bearer good", "Content-Length": str(len(big))}),
                     declared.receive, declared.send)
    assert declared.status == 413 and declared.app_scope is None
    streamed = Recorder(big, chunk=1000)
    received: list[dict[str, Any]] = []

    async def app(_scope: dict[str, Any], receive: Any, _send: Any) -> None:
        while not received or received[-1]["type"] == "http.request" and received[-1].get("more_body"):
            received.append(await receive())

    middleware = BearerAuthMiddleware(app, authenticate, lambda s: "203.0.113.9", max_authenticated_body=4096)
    await middleware(scope(headers={"Authorization": "Bearer good"}), streamed.receive, streamed.send)
    assert received[-1]["type"] == "http.disconnect" and len(received) == 5  # four chunks, then cut off
    small = Recorder(rpc("tools/call", name="list_jobs"))
    middleware = BearerAuthMiddleware(small.app, authenticate, lambda s: "203.0.113.9", max_authenticated_body=4096)
    await middleware(scope(headers={"Authorization": "Bearer good"}), small.receive, small.send)
    assert small.app_body is not None and small.app_scope is not None
