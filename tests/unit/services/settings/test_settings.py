"""Settings: typed, range-checked, all-or-nothing, audited, resettable."""

from __future__ import annotations

import pytest
from tests.conftest import ToolCaller

from tomo.main import TomoApp


@pytest.mark.parametrize(
    "change",
    [
        {"ssh_connect_timeout": 0},
        {"ssh_connect_timeout": 121},
        {"ssh_connect_timeout": "10"},
        {"ssh_connect_timeout": True},
        {"allow_local_servers": "yes"},
        {"stored_log_level": "LOUD"},
        {"no_such_setting": 1},
    ],
)
async def test_update_rejects_bad_values(call: ToolCaller, tomo_app: TomoApp, change: dict[str, object]) -> None:
    answer = await call("update_settings", settings=change)
    assert answer.is_error and answer.error == "VALIDATION_ERROR"
    assert tomo_app.services["settings_service"].get("ssh_connect_timeout") == 10


async def test_update_is_all_or_nothing(call: ToolCaller, tomo_app: TomoApp) -> None:
    answer = await call("update_settings", settings={"allow_local_servers": True, "lockout_minutes": 99999})
    assert answer.error == "VALIDATION_ERROR"
    assert tomo_app.services["settings_service"].get("allow_local_servers") is False


async def test_update_persists_and_audits_old_and_new(call: ToolCaller, tomo_app: TomoApp) -> None:
    answer = await call("update_settings", settings={"ssh_command_timeout": 120})
    assert answer.data["changed"] == {"ssh_command_timeout": 120}
    await tomo_app.services["settings_service"].load()
    assert tomo_app.services["settings_service"].get("ssh_command_timeout") == 120
    audit = await call("get_audit_log", tool="setting_changed")
    assert audit.data["entries"][0]["arguments"] == {"key": "ssh_command_timeout", "old": 60, "new": 120}
    assert audit.data["entries"][0]["id"] in answer.data["audit_ids"]


async def test_reset_restores_defaults_for_a_category(call: ToolCaller, tomo_app: TomoApp) -> None:
    await call("update_settings", settings={"ssh_command_timeout": 120, "allow_local_servers": True})
    answer = await call("reset_settings", category="ssh", confirm=True)
    assert answer.data["reset"] == ["ssh_command_timeout"]
    settings = tomo_app.services["settings_service"]
    assert settings.get("ssh_command_timeout") == 60
    assert settings.get("allow_local_servers") is True


async def test_get_settings_and_schema_describe_every_key(call: ToolCaller) -> None:
    values = (await call("get_settings", category="ssh")).data["settings"]
    assert {v["category"] for v in values} == {"ssh"}
    timeout = next(v for v in values if v["key"] == "ssh_connect_timeout")
    assert (timeout["value"], timeout["default"], timeout["minimum"], timeout["maximum"]) == (10, 10, 1, 120)
    schema = (await call("get_settings_schema")).data["settings"]
    assert all(entry["description"] for entry in schema)
    assert (await call("get_settings", category="nope")).error == "VALIDATION_ERROR"
