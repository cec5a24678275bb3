"""The tool wrapper: envelope, isError, confirm, validation, roles, audit, jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from tests.conftest import ToolCaller
from tests.toolpkg import ECHO_MODULE, make_tool_package

from tomo.lib.config import TomoConfig
from tomo.main import TomoApp, build_app
from tomo.models.principal import Principal, Role


@pytest.fixture
def echo_app(tmp_path: Path) -> TomoApp:
    package = make_tool_package(tmp_path / "pkgs", {"echo": ECHO_MODULE})
    return build_app(TomoConfig(data_dir=tmp_path / "data"), tool_packages=("tomo.tools", package))


@pytest.fixture
async def echo(echo_app: TomoApp) -> AsyncIterator[ToolCaller]:
    async with Client(echo_app.mcp) as client:
        yield ToolCaller(client)


def act_as(app: TomoApp, role: Role | None) -> None:
    app.services["identity_service"]._principal = Principal(username="someone", role=role, transport="http")


async def audit_entries(call: ToolCaller, **filters: Any) -> list[dict[str, Any]]:
    answer = await call("get_audit_log", **filters)
    return list(answer.data["entries"])


async def test_domain_error_gives_envelope_with_code_and_is_error(echo: ToolCaller) -> None:
    answer = await echo("echo_missing_server", server_id="nas")
    assert answer.is_error
    assert answer.envelope == {"success": False, "error": "SERVER_NOT_FOUND",
                               "message": "Server 'nas' not found; call list_servers."}


async def test_unexpected_exception_is_internal_error_without_details(echo: ToolCaller) -> None:
    answer = await echo("echo_crash", password="hunter2hunter2")
    assert answer.is_error
    assert answer.error == "INTERNAL_ERROR"
    assert "secret-internal-detail" not in str(answer.envelope)
    assert "shadow" not in str(answer.envelope)
    assert "Traceback" not in str(answer.envelope)


async def test_destructive_tool_without_confirm_changes_nothing(echo: ToolCaller) -> None:
    refused = await echo("echo_destroy")
    assert refused.is_error and refused.error == "CONFIRMATION_REQUIRED"
    done = await echo("echo_destroy", confirm=True)
    assert done.data == {"calls": 1}


async def test_confirmation_required_keeps_stored_logs(call: ToolCaller, tomo_app: TomoApp) -> None:
    await tomo_app.services["log_service"].log_event("test", "INFO", "keep me")
    refused = await call("purge_logs", older_than_days=0)
    assert refused.error == "CONFIRMATION_REQUIRED"
    assert (await call("get_logs", search="keep me")).data["total"] == 1


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("purge_logs", {"older_than_days": -1, "confirm": True}),
        ("list_jobs", {"limit": 0}),
        ("list_jobs", {"status": "exploded"}),
        ("get_logs", {"level": "LOUD"}),
        ("update_settings", {"settings": "not-a-dict"}),
        ("get_job", {}),
    ],
)
async def test_invalid_arguments_give_validation_error(call: ToolCaller, tool: str, arguments: dict[str, Any]) -> None:
    answer = await call(tool, **arguments)
    assert answer.is_error
    assert answer.error == "VALIDATION_ERROR"
    assert f"Invalid arguments for {tool}" in answer.envelope["message"]


async def test_validation_error_does_not_echo_secret_values(echo: ToolCaller) -> None:
    answer = await echo("echo_crash", password=["hunter2-secret-value"])
    assert answer.error == "VALIDATION_ERROR"
    assert "hunter2-secret-value" not in str(answer.envelope)


async def test_state_changing_calls_are_audited_with_redacted_arguments(echo: ToolCaller) -> None:
    await echo("echo_crash", password="hunter2hunter2")
    await echo("echo_text", text="read-only call")
    entries = await audit_entries(echo)
    assert [e["tool"] for e in entries] == ["echo_crash"]
    assert entries[0]["outcome"] == "error"
    assert entries[0]["error_code"] == "INTERNAL_ERROR"
    assert entries[0]["arguments"] == {"password": "***"}
    assert entries[0]["username"] == "local-admin"


async def test_values_marked_secret_are_masked_in_the_audit_record(echo: ToolCaller) -> None:
    await echo("echo_pin", settings={"PIN": "4711-9876", "note": "pin is 4711-9876"})
    entries = await audit_entries(echo, tool="echo_pin")
    assert entries[0]["arguments"] == {"settings": {"PIN": "***", "note": "pin is ***"}}
    assert "4711-9876" not in str(entries)


async def test_viewer_is_denied_admin_tool_and_nothing_changes(echo: ToolCaller, echo_app: TomoApp) -> None:
    act_as(echo_app, Role.VIEWER)
    denied = await echo("update_settings", settings={"allow_local_servers": True})
    assert denied.is_error and denied.error == "PERMISSION_DENIED"
    assert echo_app.services["settings_service"].get("allow_local_servers") is False


async def test_tools_list_shows_only_permitted_tools(echo_app: TomoApp) -> None:
    act_as(echo_app, Role.VIEWER)
    async with Client(echo_app.mcp) as client:
        names = {tool.name for tool in await client.list_tools()}
    assert "get_job" in names and "health_check" in names
    assert not names & {"update_settings", "purge_logs", "echo_destroy", "cancel_job", "get_audit_log"}


async def test_anonymous_caller_may_only_use_public_tools(echo: ToolCaller, echo_app: TomoApp) -> None:
    act_as(echo_app, None)
    assert (await echo("health_check")).envelope["success"] is True
    assert (await echo("health_check", detailed=True)).error == "PERMISSION_DENIED"
    assert (await echo("list_jobs")).error == "PERMISSION_DENIED"


async def test_job_tool_waits_and_reports_progress(echo_app: TomoApp) -> None:
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with Client(echo_app.mcp) as client:
        result = await client.call_tool("echo_sleep_job", {"seconds": 0.3}, progress_handler=on_progress)
    envelope = result.structured_content
    assert envelope is not None and envelope["success"] is True
    assert envelope["data"]["status"] == "succeeded"
    assert envelope["data"]["slept"] == 0.3
    assert [s["name"] for s in envelope["data"]["job"]["steps"]] == ["sleeping"]
    assert progress and max(progress) >= 50


async def test_job_tool_returns_early_with_job_id(echo: ToolCaller) -> None:
    answer = await echo("echo_sleep_job", seconds=1.0, wait_seconds=0)
    assert answer.envelope["success"] is True
    assert answer.data["status"] in {"pending", "running"}
    assert "get_job" in answer.envelope["message"]
    job_id = answer.data["job_id"]
    conflict = await echo("echo_sleep_job", seconds=0.1, wait_seconds=0)
    assert conflict.error == "CONFLICT"
    cancelled = await echo("cancel_job", job_id=job_id)
    assert cancelled.data["status"] == "cancelled"


async def test_failed_job_reports_code_and_failed_step(echo: ToolCaller) -> None:
    answer = await echo("echo_sleep_job", seconds=0.05, fail=True)
    assert answer.is_error and answer.error == "SERVER_NOT_FOUND"
    steps = answer.data["job"]["steps"]
    assert [(s["name"], s["status"]) for s in steps] == [("sleeping", "ok"), ("failing", "failed")]
