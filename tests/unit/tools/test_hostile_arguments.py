"""Huge and hostile arguments are answered quickly with the envelope, whatever their shape.

The audit record of a refused call redacts its arguments; with backtracking patterns a 20 KB username froze the
server for 14 s (the time grew faster than the square of the length).
"""

from __future__ import annotations

import time

import pytest
from tests.conftest import ToolCaller

SHAPES = ["password" * 2_500, "'password': '" * 1_500, "eyJ-" * 5_000, "a" * 20_000]


@pytest.mark.parametrize("username", SHAPES, ids=["password", "quoted-pairs", "jwt-like", "plain"])
async def test_a_huge_hostile_login_is_refused_at_once(call: ToolCaller, username: str) -> None:
    started = time.perf_counter()
    answer = await call("login", username=username, password="x" * 20_000)
    elapsed = time.perf_counter() - started
    assert answer.is_error and answer.error == "VALIDATION_ERROR", answer.envelope
    assert elapsed < 2.0, f"{elapsed:.2f} s"


async def test_a_huge_argument_to_any_tool_is_refused_at_once(call: ToolCaller) -> None:
    started = time.perf_counter()
    answer = await call("get_server", server_id="password" * 125_000)
    assert answer.is_error and answer.error == "VALIDATION_ERROR", answer.envelope
    assert time.perf_counter() - started < 3.0
