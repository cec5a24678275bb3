"""Audit records of tool calls that end together are written in one transaction, each before its call returns."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tomo.main import TomoApp
from tomo.models.log import AuditOutcome, AuditQuery
from tomo.models.principal import Principal, Role

ADMIN = Principal(username="ada", role=Role.ADMIN, transport="stdio")


@pytest.fixture
async def audit(tomo_app: TomoApp) -> Any:
    await tomo_app.startup()
    yield tomo_app.services["audit_service"]
    await tomo_app.shutdown()


def count_batches(audit: Any) -> list[int]:
    sizes: list[int] = []
    write = audit.repo.add_audits

    async def counted(rows: list[dict[str, Any]]) -> None:
        sizes.append(len(rows))
        await write(rows)

    audit.repo.add_audits = counted
    return sizes


async def test_calls_ending_together_share_a_transaction_and_all_are_stored(audit: Any) -> None:
    batches = count_batches(audit)
    await asyncio.gather(*(audit.record_call(ADMIN, f"tool_{i}", {"n": i}, AuditOutcome.SUCCESS, None, 1.0)
                           for i in range(10)))  # fmt: skip
    entries, total = await audit.query(AuditQuery(limit=50))
    assert total == 10 and sorted(entry.tool for entry in entries) == sorted(f"tool_{i}" for i in range(10))
    assert sum(batches) == 10 and len(batches) < 10


async def test_a_record_is_stored_before_its_call_returns(audit: Any) -> None:
    await audit.record_call(ADMIN, "add_server", {"password": "hunter2"}, AuditOutcome.ERROR, "VALIDATION_ERROR", 2.0)
    entries, total = await audit.query(AuditQuery(tool="add_server"))
    assert total == 1 and entries[0].arguments == {"password": "***"} and entries[0].error_code == "VALIDATION_ERROR"


async def test_a_failed_write_fails_every_call_in_its_batch(audit: Any) -> None:
    async def broken(rows: list[dict[str, Any]]) -> None:
        raise RuntimeError("disk full")

    audit.repo.add_audits = broken
    results = await asyncio.gather(*(audit.record_call(ADMIN, "t", {}, AuditOutcome.SUCCESS, None, 0.0)
                                     for _ in range(3)), return_exceptions=True)  # fmt: skip
    assert [type(result) for result in results] == [RuntimeError] * 3
