"""The stored event log: state changes and every warning land in log_entries, where get_logs finds them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from tests.conftest import ToolCaller

from tomo.lib.logging_config import configure_logging
from tomo.main import TomoApp
from tomo.models.server import ServerCreate, ServerCredentials
from tomo.services.logs.events import EventStore


@pytest.fixture
def real_logging() -> Iterator[None]:
    """Tomo's logging as `tomo serve` configures it, undone afterwards (other tests keep structlog's default)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("INFO", "json")
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


async def flushed(app: TomoApp) -> None:
    store: EventStore = app.services["event_store"]
    await store.flush_now()


async def test_state_changes_and_warnings_are_stored_and_found(real_logging: None, tomo_app: TomoApp,
                                                              call: ToolCaller) -> None:
    await call("health_check")  # starts the app
    services = tomo_app.services
    await services["server_service"].add(ServerCreate(
        name="nas", host="192.0.2.10", username="admin",
        credentials=ServerCredentials.model_validate({"auth_type": "password", "password": "pw-123456-secret"})))
    structlog.get_logger("tomo.apps").warning("app_disk_low", free_bytes=10, token="tomo_" + "x" * 30)
    structlog.get_logger("tomo.apps").info("app_status_read", installation_id="i1")  # routine: not stored
    await flushed(tomo_app)
    answer = await call("get_logs", limit=50)
    entries: list[dict[str, Any]] = answer.data["entries"]
    tags = [tag for entry in entries for tag in entry["tags"]]
    assert "server_added" in tags and "app_disk_low" in tags and "app_status_read" not in tags
    warning = next(e for e in entries if "app_disk_low" in e["tags"])
    assert warning["level"] == "WARNING" and warning["source"] == "apps"
    assert warning["metadata"]["free_bytes"] == 10 and "tomo_xxx" not in str(warning)
    assert "pw-123456-secret" not in str(entries)
    only_warnings = await call("get_logs", level="WARNING")
    assert all(e["level"] in {"WARNING", "ERROR"} for e in only_warnings.data["entries"])


async def test_the_stored_level_setting_filters_what_is_kept(real_logging: None, tomo_app: TomoApp,
                                                            call: ToolCaller) -> None:
    await call("update_settings", settings={"stored_log_level": "ERROR"})
    structlog.get_logger("tomo.apps").warning("app_disk_low", free_bytes=10)
    structlog.get_logger("tomo.apps").error("app_broken", reason="x")
    await flushed(tomo_app)
    entries = (await call("get_logs", limit=50)).data["entries"]
    tags = [tag for entry in entries for tag in entry["tags"]]
    assert "app_broken" in tags and "app_disk_low" not in tags
