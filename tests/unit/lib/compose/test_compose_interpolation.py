"""Compose's variable syntax read by one scanner: references, inline defaults, renaming, filling values in."""

from __future__ import annotations

import time

import pytest

from tomo.lib.compose.interpolation import (
    default_of,
    interpolate,
    map_strings,
    referenced_names,
    references,
    rename,
    scan,
    single_reference,
)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("$A ${B} ${C:-x} ${D-y} ${E:?e} ${F+f}", ["A", "B", "C", "D", "E", "F"]),
        ("$$A $${B} $$$C", ["C"]),
        ("${A:-${B:-$C}}", ["A", "B", "C"]),
        ("${A/x} ${B", ["A", "B"]),
        ("$1 ${2} $ ${} $-", []),
        ("no dollar", []),
    ],
)
def test_references_are_every_name_after_a_dollar_but_escapes(text: str, names: list[str]) -> None:
    assert list(references(text)) == names


def test_a_reference_says_where_it_ends_and_what_its_operator_and_argument_are() -> None:
    text = "x${PORT:-80}y${OPEN ${N}"
    port, opened, nested = scan(text)
    assert (port.name, text[port.start : port.end], port.operator, port.argument) == ("PORT", "${PORT:-80}", ":-", "80")
    assert (opened.name, opened.closed, text[opened.start : opened.end]) == ("OPEN", False, "${OPEN")
    assert (nested.name, nested.closed, nested.operator) == ("N", True, None)


def test_a_nested_default_closes_at_its_own_brace_as_compose_reads_it() -> None:
    outer = next(scan("${A:-${B}/x} ${C}"))
    assert (outer.argument, outer.nested, outer.literal_default) == ("${B}/x", True, None)
    assert [ref.name for ref in scan("${A:-${B:-$${C}}} ${D}")] == ["A", "B", "D"]
    unclosed = next(scan("${A:-${B}"))
    assert (unclosed.closed, unclosed.operator) == (False, None)


@pytest.mark.parametrize(
    ("text", "name", "default"),
    [
        ("${A:-http}://${B-x}", "A", "http"),
        ("${A:-http}://${B-x}", "B", "x"),
        ("${A}", "A", None),
        ("${A:-}", "A", ""),
        ("${A:-$B}", "A", None),
        ("${A:?must be set}", "A", None),
        ("$${A:-escaped} ${A:-real}", "A", "real"),
    ],
)
def test_the_inline_default_is_a_literal_one(text: str, name: str, default: str | None) -> None:
    assert default_of(text, name) == default


@pytest.mark.parametrize(("text", "whole"), [("${P}", True), ("$P", True), ("${P:-80}", True), ("${P}x", False),
                                             ("x$P", False), ("${P}${Q}", False), ("80", False)])
def test_a_single_reference_is_the_whole_text(text: str, whole: bool) -> None:
    assert (single_reference(text) is not None) is whole


def test_rename_changes_names_only() -> None:
    text = "/DATA/$AppID/x ${AppID:-app} $$AppID ${OTHER} ${AppID:-${AppID}}"
    assert rename(text, {"AppID": "APP_ID"}) == "/DATA/${APP_ID}/x ${APP_ID:-app} $$AppID ${OTHER} ${APP_ID:-${APP_ID}}"


def test_interpolate_fills_closed_references_and_keeps_the_rest() -> None:
    values = {"A": "a", "EMPTY": ""}
    text = "$A ${A} ${EMPTY:-d1} ${EMPTY-d2} ${UNSET-d3} ${UNSET} $$A ${A:+alt} ${OPEN"
    assert interpolate(text, values.get) == "a a d1  d3 ${UNSET} $$A a ${OPEN"


def test_interpolate_fills_a_nested_default() -> None:
    assert interpolate("${A:-${B}}", {}.get) == "${B}"
    assert interpolate("${A:-${APP_DATA_DIR}/x}", {"APP_DATA_DIR": "/srv/data"}.get) == "/srv/data/x"
    assert interpolate("${A:-${B:-${C}}}/y", {"C": "c"}.get) == "c/y"
    assert interpolate("${A:-${APP_DATA_DIR}/x}", {"A": "set"}.get) == "set"


def test_strings_are_mapped_and_read_everywhere_keys_included() -> None:
    data = {"$K": ["${A}", {"x": "$B"}], "n": 1}
    assert map_strings(data, str.upper) == {"$K": ["${A}", {"X": "$B"}], "N": 1}
    assert referenced_names(data) == {"K", "A", "B"}


@pytest.mark.parametrize("hostile", ["${A:-" * 20_000, "${A" * 30_000 + "}", "$" * 100_001, "${A:-${A:-" * 10_000,
                                     "${A:-" * 20_000 + "}" * 20_000, "${A:-${B}/x}" * 20_000])
def test_hostile_text_is_read_in_linear_time(hostile: str) -> None:
    started = time.process_time()
    list(scan(hostile))
    interpolate(hostile, {}.get)
    default_of(hostile, "A")
    rename(hostile, {"A": "B"})
    assert time.process_time() - started < 2.0  # a backtracking reading takes over 10 s on the first one
