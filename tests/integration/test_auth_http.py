"""Authentication over real HTTP: a `tomo serve --transport http` process on 127.0.0.1.

The server starts once for the module with a known TOMO_JWT_SECRET (so tests can forge tokens
with it and with other secrets), an admin made with `tomo admin create` and an API token made
with `tomo token create`. Each test works with its own users. Refusals are checked with plain
HTTP (status 401 and WWW-Authenticate); allowed use goes through the official mcp client with
an Authorization header. The last test reads the server's stderr and audit log for secrets.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sqlite3
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from tests.httpkit import (
    ACCEPT,
    create_admin,
    create_token,
    envelope_of,
    mcp_client,
    rpc,
    server_env,
    start_http,
    stop,
    tool_call,
)

from tomo.lib.security import encode_jwt

JWT_SECRET = "integration-test-secret-0123456789abcdef"
ADMIN_PASSWORD = "harbour lights at midnight"
USER_PASSWORD = "seven lanterns over quiet water"
STATE_TABLES = ("users", "sessions", "api_tokens", "settings", "lockouts", "jobs")


@dataclass
class Server:
    base: str
    data_dir: Path
    stderr: Path
    admin_token: str
    secrets: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"{self.base}/mcp"

    def rows(self) -> dict[str, list[str]]:
        with sqlite3.connect(self.data_dir / "tomo.db") as conn:
            return {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}").fetchall()))  # noqa: S608
                    for t in STATE_TABLES}

    def execute(self, sql: str, *params: Any) -> None:
        with sqlite3.connect(self.data_dir / "tomo.db") as conn:
            conn.execute(sql, params)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("auth-http")
    env = server_env(data_dir, TOMO_JWT_SECRET=JWT_SECRET)
    create_admin(env, "root", ADMIN_PASSWORD)
    token = create_token(env, "root", "it")
    stderr = data_dir / "server-stderr.log"
    with stderr.open("wb") as log:
        proc, base = start_http(env, log)
        try:
            yield Server(base, data_dir, stderr, token, {ADMIN_PASSWORD, USER_PASSWORD, token, JWT_SECRET})
        finally:
            stop(proc)


async def post(server: Server, body: dict[str, Any], token: str | None = None,
               headers: dict[str, str] | None = None) -> httpx2.Response:
    sent = {"accept": ACCEPT, **(headers or {})}
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    async with httpx2.AsyncClient(timeout=30) as http:
        return await http.post(server.url, json=body, headers=sent)


async def call(server: Server, token: str | None, tool: str, /, **arguments: Any) -> dict[str, Any]:
    response = await post(server, tool_call(tool, **arguments), token)
    assert response.status_code == 200, (response.status_code, response.text)
    return envelope_of(response)


async def admin(server: Server, tool: str, /, **arguments: Any) -> dict[str, Any]:
    answer = await call(server, server.admin_token, tool, **arguments)
    assert answer["success"], answer
    return answer


async def new_user(server: Server, username: str, role: str) -> tuple[str, str]:
    """Create a user and log them in; returns (user id, login token)."""
    user = (await admin(server, "create_user", username=username, password=USER_PASSWORD, role=role))["data"]["user"]
    token = await login(server, username)
    return user["id"], token


async def login(server: Server, username: str, password: str = USER_PASSWORD) -> str:
    answer = await call(server, None, "login", username=username, password=password)
    assert answer["success"], answer
    token: str = answer["data"]["token"]
    server.secrets.add(token)
    return token


async def assert_refused(server: Server, token: str | None, raw_header: str | None = None) -> None:
    headers = {"authorization": raw_header} if raw_header else None
    response = await post(server, tool_call("get_current_user"), token, headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_anonymous_may_only_reach_login_and_basic_health_check(server: Server) -> None:
    async with mcp_client(server.url, None) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        health = await client.call_tool("health_check", {})
    assert names == {"login", "health_check"}
    assert health.structured_content["success"] is True
    detailed = await post(server, tool_call("health_check", detailed=True))
    assert detailed.status_code == 401
    assert (await post(server, rpc("resources/list"))).status_code == 401


async def test_resources_and_prompts_need_a_token_and_serve_a_viewer(server: Server) -> None:
    read = rpc("resources/read", uri="tomo://servers")
    prompt = rpc("prompts/get", name="diagnose_server", arguments={"server_id": "nas"})
    assert (await post(server, read)).status_code == 401
    assert (await post(server, prompt)).status_code == 401
    _, token = await new_user(server, "rita", "viewer")
    async with mcp_client(server.url, token) as client:
        servers = await client.read_resource("tomo://servers")
        diagnose = await client.get_prompt("diagnose_server", {"server_id": "nas"})
    listed = json.loads(servers.contents[0].text)
    assert (listed["servers"], listed["total"], listed["has_more"]) == ([], 0, False)
    assert "get_server(server_id='nas')" in diagnose.messages[0].content.text


async def test_missing_malformed_and_foreign_tokens_are_refused(server: Server) -> None:
    user_id, token = await new_user(server, "forger-victim", "admin")
    session_id = jwt.decode(token, JWT_SECRET, algorithms=["HS256"], issuer="tomo")["sid"]
    now = datetime.now(UTC)
    claims = {"sub": user_id, "role": "admin", "sid": session_id, "iss": "tomo", "iat": int(now.timestamp()),
              "exp": int((now + timedelta(hours=1)).timestamp()), "jti": "forged"}
    await assert_refused(server, None)
    await assert_refused(server, "not-a-token")
    await assert_refused(server, None, raw_header="Basic cm9vdDpwYXNzd29yZA==")
    await assert_refused(server, jwt.encode(claims, "another-secret-of-at-least-32-bytes!", algorithm="HS256"))
    await assert_refused(server, jwt.encode(claims, None, algorithm="none"))
    await assert_refused(server, jwt.encode({**claims, "iss": "someone-else"}, JWT_SECRET, algorithm="HS256"))
    expired = encode_jwt(JWT_SECRET.encode(), user_id, "admin", session_id, now - timedelta(hours=25),
                         now - timedelta(hours=1))
    await assert_refused(server, expired)
    assert (await call(server, token, "get_current_user"))["data"]["user"]["username"] == "forger-victim"


async def test_token_after_logout_is_refused(server: Server) -> None:
    _, token = await new_user(server, "leaver", "viewer")
    assert (await call(server, token, "logout"))["success"] is True
    await assert_refused(server, token)


async def test_revoked_api_token_is_refused(server: Server) -> None:
    created = (await admin(server, "create_api_token", name="short-lived", role="viewer"))["data"]
    server.secrets.add(created["token"])
    assert (await call(server, created["token"], "get_current_user"))["success"] is True
    await admin(server, "revoke_api_token", token_id=created["api_token"]["id"])
    await assert_refused(server, created["token"])


@pytest.mark.parametrize("change", ["deactivate", "delete"])
async def test_token_of_a_deactivated_or_deleted_user_is_refused(server: Server, change: str) -> None:
    user_id, token = await new_user(server, f"gone-{change}", "operator")
    api_token = (await call(server, token, "create_api_token", name="mine"))["data"]["token"]
    server.secrets.add(api_token)
    if change == "deactivate":
        await admin(server, "update_user", user_id=user_id, active=False)
    else:
        await admin(server, "delete_user", user_id=user_id)
    await assert_refused(server, token)
    await assert_refused(server, api_token)


async def test_viewer_is_denied_every_state_changing_tool(server: Server) -> None:
    _, token = await new_user(server, "vera", "viewer")
    self_service = {"logout", "change_password", "revoke_session", "create_api_token", "revoke_api_token",
                    "rate_marketplace_app", "mark_notification_read", "dismiss_notification"}  # TOOLS.md: V
    async with mcp_client(server.url, server.admin_token) as client:
        every = (await client.list_tools()).tools
    changing = sorted(t.name for t in every if not (t.annotations and t.annotations.read_only_hint)
                      and t.name not in self_service | {"login"})
    before = server.rows()
    async with mcp_client(server.url, token) as client:
        visible = {t.name for t in (await client.list_tools()).tools}
        for name in changing:
            result = await client.call_tool(name, {})
            assert result.structured_content["error"] == "PERMISSION_DENIED", (name, result.structured_content)
    assert not visible & set(changing)
    assert server.rows() == before


async def test_operator_cannot_manage_users_or_settings(server: Server) -> None:
    _, token = await new_user(server, "otto", "operator")
    admin_tools = ["create_user", "update_user", "delete_user", "list_users", "reset_user_password",
                   "get_locked_accounts", "unlock_account", "update_settings", "reset_settings", "get_audit_log"]
    before = server.rows()
    async with mcp_client(server.url, token) as client:
        visible = {t.name for t in (await client.list_tools()).tools}
        attempts = {
            "create_user": {"username": "mallory", "password": USER_PASSWORD, "role": "admin"},
            "update_user": {"user_id": "otto", "role": "admin"},
            "update_settings": {"settings": {"lockout_threshold": 100}},
            "reset_settings": {"confirm": True},
        }
        for name in admin_tools:
            result = await client.call_tool(name, attempts.get(name, {}))
            assert result.structured_content["error"] == "PERMISSION_DENIED", (name, result.structured_content)
    assert not visible & set(admin_tools) and "cancel_job" in visible
    assert server.rows() == before


async def test_ten_wrong_passwords_lock_until_unlocked_or_expired(server: Server) -> None:
    await new_user(server, "locky", "viewer")
    answers = [await call(server, None, "login", username="locky", password=f"wrong guess {i}") for i in range(10)]
    assert [a["error"] for a in answers] == ["AUTHENTICATION_FAILED"] * 9 + ["ACCOUNT_LOCKED"]
    assert (await call(server, None, "login", username="locky", password=USER_PASSWORD))["error"] == "ACCOUNT_LOCKED"
    locks = (await admin(server, "get_locked_accounts"))["data"]["locks"]
    assert ("user", "locky") in {(lock["kind"], lock["subject"]) for lock in locks}
    await admin(server, "unlock_account", username="locky")
    await login(server, "locky")
    for i in range(10):
        await call(server, None, "login", username="locky", password=f"wrong again {i}")
    assert (await call(server, None, "login", username="locky", password=USER_PASSWORD))["error"] == "ACCOUNT_LOCKED"
    past = (datetime.now(UTC) - timedelta(seconds=1)).replace(tzinfo=None).isoformat(sep=" ")
    server.execute("UPDATE lockouts SET locked_until = ? WHERE subject = 'locky'", past)  # the lock runs out
    await login(server, "locky")


async def test_forwarded_for_is_believed_only_from_trusted_proxies(server: Server) -> None:
    await new_user(server, "proxied", "viewer")

    async def session_ip() -> str:
        response = await post(server, tool_call("login", username="proxied", password=USER_PASSWORD),
                              headers={"x-forwarded-for": "198.51.100.23"})
        token = envelope_of(response)["data"]["token"]
        server.secrets.add(token)
        sessions = (await call(server, token, "list_sessions"))["data"]["sessions"]
        return str(next(s["client_ip"] for s in sessions if s["current"]))

    assert await session_ip() == "127.0.0.1"
    await admin(server, "update_settings", settings={"trusted_proxies": ["127.0.0.1"]})
    try:
        assert await session_ip() == "198.51.100.23"
    finally:
        await admin(server, "update_settings", settings={"trusted_proxies": []})


async def test_health_check_stays_fast_while_20_logins_hash(server: Server) -> None:
    names = [f"crowd{i}" for i in range(20)]
    for name in names:
        await admin(server, "create_user", username=name, password=USER_PASSWORD, role="viewer")
    latencies: list[float] = []
    login_times: list[float] = []

    async def one_login(http: httpx2.AsyncClient, name: str) -> None:
        started = time.perf_counter()
        response = await http.post(server.url, json=tool_call("login", username=name, password=USER_PASSWORD),
                                   headers={"accept": ACCEPT})
        login_times.append(time.perf_counter() - started)
        answer = envelope_of(response)
        assert answer["success"], answer
        server.secrets.add(answer["data"]["token"])

    async def probe(http: httpx2.AsyncClient, until: asyncio.Event) -> None:
        while not until.is_set():
            started = time.perf_counter()
            response = await http.post(server.url, json=tool_call("health_check"), headers={"accept": ACCEPT})
            latencies.append(time.perf_counter() - started)
            assert envelope_of(response)["success"]
            await asyncio.sleep(0.002)

    async with httpx2.AsyncClient(timeout=60) as logins, httpx2.AsyncClient(timeout=60) as other:
        await other.post(server.url, json=tool_call("health_check"), headers={"accept": ACCEPT})
        done = asyncio.Event()
        gc.disable()  # this process's own collections would show up as server latency
        try:
            prober = asyncio.create_task(probe(other, done))
            await asyncio.sleep(0.05)
            await asyncio.gather(*(one_login(logins, name) for name in names))
            done.set()
            await prober
        finally:
            gc.enable()
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98] * 1000
    print(f"\nhealth_check during 20 concurrent logins: n={len(latencies)} "  # noqa: T201
          f"p50={statistics.median(latencies) * 1000:.1f} ms p99={p99:.1f} ms max={max(latencies) * 1000:.1f} ms; "
          f"logins: min={min(login_times) * 1000:.0f} ms median={statistics.median(login_times) * 1000:.0f} ms "
          f"max={max(login_times) * 1000:.0f} ms")
    assert len(latencies) >= 20
    assert p99 < 50


async def test_secrets_never_reach_logs_audit_or_other_tool_output(server: Server) -> None:
    _, token = await new_user(server, "secretive", "viewer")
    await call(server, token, "change_password", current_password=USER_PASSWORD,
               new_password="a completely different passphrase")
    await call(server, None, "login", username="secretive", password="typo in the passphrase")
    server.secrets |= {"a completely different passphrase", "typo in the passphrase"}
    outputs = [await admin(server, name) for name in ("list_users", "list_api_tokens", "list_sessions")]
    outputs.append(await admin(server, "get_audit_log", limit=1000))
    outputs.append(await call(server, server.admin_token, "get_logs", limit=1000))
    text = json.dumps(outputs)
    log = server.stderr.read_text()
    assert "login_succeeded" in log and "login_failed" in log
    for secret in server.secrets:
        assert secret not in log, "a secret reached the server log"
        assert secret not in text, "a secret reached tool output or the audit log"
    assert "$argon2" not in log and "$argon2" not in text
    login_audit = [e for e in outputs[3]["data"]["entries"] if e["tool"] == "login"]
    assert login_audit and all(e["arguments"]["password"] == "***" for e in login_audit)
