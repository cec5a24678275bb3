"""Every list tool pages: limit and offset in, {items, total, limit, offset, has_more, next_offset} out.

tests/integration/test_postgres_list_paging.py runs the same tests on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.authkit import login, make_user
from tests.conftest import Answer, ToolCaller
from tests.unit.services.marketplace.test_marketplace_kit import commit_all

from tomo.database.repositories.installations import InstallationRecord
from tomo.database.types import new_id, utcnow
from tomo.main import TomoApp
from tomo.models.principal import Role

#: The list tools and the key of their items; each must take limit and offset.
LIST_TOOLS = {"list_servers": "servers", "list_installed_apps": "installations", "list_repos": "repos",
              "list_users": "users", "list_sessions": "sessions", "list_api_tokens": "tokens", "list_jobs": "jobs",
              "search_marketplace": "apps"}


def page_of(answer: Answer, key: str) -> tuple[list[Any], dict[str, Any]]:
    assert answer.envelope["success"], answer.envelope
    data = dict(answer.data)
    return data.pop(key), data


async def add_servers(call: ToolCaller, count: int) -> list[str]:
    ids = []
    for index in range(count):
        answer = await call("add_server", name=f"srv-{index}", host=f"192.168.7.{index + 1}", username="admin",
                            auth_type="password", password="correct-horse-battery-staple-42")
        ids.append(str(answer.data["server"]["id"]))
    return ids


async def test_every_list_tool_takes_limit_and_offset(call: ToolCaller) -> None:
    tools = {tool.name: tool for tool in await call.client.list_tools()}
    for name in LIST_TOOLS:
        properties = tools[name].input_schema["properties"]
        assert {"limit", "offset"} <= set(properties), name
        assert properties["limit"]["maximum"] <= 200 and properties["limit"]["default"] <= 50, name


async def test_list_servers_pages_by_name(call: ToolCaller) -> None:
    await add_servers(call, 5)
    servers, first = page_of(await call("list_servers", limit=2), "servers")
    assert [s["name"] for s in servers] == ["srv-0", "srv-1"]
    assert first == {"total": 5, "limit": 2, "offset": 0, "has_more": True, "next_offset": 2}
    message = (await call("list_servers", limit=2)).envelope["message"]
    assert message.startswith("5 server(s); showing 1-2.") and "offset=2" in message
    servers, last = page_of(await call("list_servers", limit=2, offset=4), "servers")
    assert [s["name"] for s in servers] == ["srv-4"] and (last["has_more"], last["next_offset"]) == (False, None)
    servers, beyond = page_of(await call("list_servers", offset=7), "servers")
    assert servers == [] and beyond["total"] == 5


async def test_list_servers_default_page_is_bounded(call: ToolCaller) -> None:
    await add_servers(call, 55)
    servers, page = page_of(await call("list_servers"), "servers")
    assert len(servers) == 50 and page["total"] == 55 and page["next_offset"] == 50


async def test_no_servers_says_how_to_add_one(call: ToolCaller) -> None:
    answer = await call("list_servers")
    assert answer.data["servers"] == [] and answer.data["total"] == 0 and "add_server" in answer.envelope["message"]


async def test_list_users_pages_oldest_first(call: ToolCaller, tomo_app: TomoApp) -> None:
    for name, role in (("ann", Role.ADMIN), ("bob", Role.VIEWER), ("cid", Role.VIEWER)):
        await make_user(tomo_app, name, role)  # stdio acts as the first admin
    users, page = page_of(await call("list_users", limit=2, offset=1), "users")
    assert [u["username"] for u in users] == ["bob", "cid"] and page["total"] == 3 and not page["has_more"]


async def test_list_sessions_and_tokens_page_newest_first(call: ToolCaller, tomo_app: TomoApp) -> None:
    owner = await make_user(tomo_app, "ann", Role.ADMIN)
    for _ in range(3):
        await login(tomo_app, "ann")
    for name in ("one", "two", "three"):
        await tomo_app.services["token_service"].create(owner, name, None, None)
    sessions, page = page_of(await call("list_sessions", limit=2), "sessions")
    assert len(sessions) == 2 and (page["total"], page["next_offset"]) == (3, 2)
    tokens, page = page_of(await call("list_api_tokens", limit=2, offset=2), "tokens")
    assert [t["name"] for t in tokens] == ["one"] and (page["total"], page["has_more"]) == (3, False)


async def test_list_repos_pages_builtin_first(call: ToolCaller, tmp_path: Path) -> None:
    for name in ("zeta", "alpha"):
        folder = tmp_path / name
        folder.mkdir()
        commit_all(folder, "empty catalog")
        assert (await call("add_repo", name=name, url=str(folder))).envelope["success"]
    repos, page = page_of(await call("list_repos", limit=2), "repos")
    assert [r["name"] for r in repos] == ["builtin", "alpha"] and (page["total"], page["next_offset"]) == (3, 2)


async def test_list_installed_apps_pages_without_asking_other_servers(call: ToolCaller, tomo_app: TomoApp) -> None:
    server_ids = await add_servers(call, 2)
    now = utcnow()
    for server_id, name in [(server_ids[0], "app-a"), (server_ids[0], "app-b"), (server_ids[1], "app-c")]:
        await tomo_app.services["app_service"].repo.insert(InstallationRecord(
            id=new_id(), server_id=server_id, name=name, app_id="builtin/whoami", app_title="Whoami",
            app_version="1", status="running", inputs={}, ports=[], project_dir=f"/opt/tomo/apps/{name}",
            created_at=now, updated_at=now))
    apps, page = page_of(await call("list_installed_apps", limit=2), "installations")
    assert len(apps) == 2 and (page["total"], page["next_offset"]) == (3, 2)
    apps, page = page_of(await call("list_installed_apps", server_id="srv-0", offset=1), "installations")
    assert [a["name"] for a in apps] == ["app-b"] and page["total"] == 2


@pytest.mark.parametrize("tool", sorted(LIST_TOOLS))
async def test_a_page_past_the_end_is_empty_with_the_total(call: ToolCaller, tool: str) -> None:
    items, page = page_of(await call(tool, offset=10_000), LIST_TOOLS[tool])
    assert items == [] and page["has_more"] is False and page["offset"] == 10_000
