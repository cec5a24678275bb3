"""A service's environment in both forms, and the text Compose reads for a scalar."""

from __future__ import annotations

from typing import Any

import pytest

from tomo.lib.compose.environment import env_items, scalar_text


def test_both_forms_give_names_and_values() -> None:
    assert env_items({"A": 1, "B": True, "C": None}) == [("A", "1"), ("B", "true"), ("C", None)]
    assert env_items(["A=1", " B =x=y", "C"]) == [("A", "1"), ("B", "x=y"), ("C", None)]
    assert env_items("A=1") == []


@pytest.mark.parametrize(("value", "text"), [(True, "true"), (False, "false"), (None, ""), (3, "3"), ("x", "x")])
def test_scalars_read_as_compose_reads_them(value: Any, text: str) -> None:
    assert scalar_text(value) == text
