"""Stored logs: log_event writes a redacted entry; queries filter and page with a correct total."""

from __future__ import annotations

from tests.conftest import ToolCaller

from tomo.main import TomoApp


async def test_log_event_is_stored_redacted(call: ToolCaller, tomo_app: TomoApp) -> None:
    logs = tomo_app.services["log_service"]
    await logs.log_event("server", "WARNING", "login with Bearer abcdefghijklmnop failed",
                         tags=["ssh"], metadata={"password": "hunter2", "host": "nas"})
    entry = (await call("get_logs", source="server")).data["entries"][0]
    assert entry["metadata"] == {"password": "***", "host": "nas"}
    assert "abcdefghijklmnop" not in entry["message"]
    assert entry["tags"] == ["ssh"]


async def test_get_logs_filters_level_and_pages(call: ToolCaller, tomo_app: TomoApp) -> None:
    logs = tomo_app.services["log_service"]
    for i in range(7):
        await logs.log_event("test", "INFO", f"info {i}")
    await logs.log_event("test", "ERROR", "boom happened")
    page = await call("get_logs", source="test", limit=3, offset=3)
    assert page.data["total"] == 8 and len(page.data["entries"]) == 3
    errors = await call("get_logs", level="WARNING", source="test")
    assert [e["message"] for e in errors.data["entries"]] == ["boom happened"]
    assert (await call("get_logs", search="BOOM")).data["total"] == 1
    assert (await call("get_logs", search="%")).data["total"] == 0


async def test_purge_deletes_old_entries_only(call: ToolCaller, tomo_app: TomoApp) -> None:
    await tomo_app.services["log_service"].log_event("test", "INFO", "fresh")
    kept = await call("purge_logs", older_than_days=1, confirm=True)
    assert kept.data["deleted"] == 0
    purged = await call("purge_logs", older_than_days=0, confirm=True)
    assert purged.data["deleted"] >= 1
    assert (await call("get_logs", source="test")).data["total"] == 0
