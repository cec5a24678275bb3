"""`ports` entries in both syntaxes: reading the sides, port numbers and variables, rewriting the host side."""

from __future__ import annotations

from typing import Any

import pytest

from tomo.lib.compose.ports import PortEntry, port_number, read_port, split_outside_braces, with_published


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("80", PortEntry("80", None, "tcp")),
        ("8080:80", PortEntry("80", "8080", "tcp")),
        ("127.0.0.1:8080:80/UDP", PortEntry("80", "8080", "udp")),
        ("[::1]:8080:80", PortEntry("80", "8080", "tcp")),
        ("${WEB_PORT:-8081}:80", PortEntry("80", "${WEB_PORT:-8081}", "tcp")),
        ({"target": 53, "published": 5353, "protocol": "udp"}, PortEntry(53, 5353, "udp")),
        ({"target": 80}, PortEntry(80, None, "tcp")),
    ],
)
def test_an_entry_is_read_as_written(entry: Any, expected: PortEntry) -> None:
    assert read_port(entry) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (8080, (8080, None)),
        ("8080", (8080, None)),
        (" 8000-8010 ", (8000, 8010)),
        ("${APP_PORT}", (9000, None)),
        ("${APP_PORT:-80}", (9000, None)),
        ("${X:-81}", (81, None)),
        ("${X-82}", (82, None)),
        ("$X", (None, None)),
        ("${X:-abc}", (None, None)),
        ("${X:?83}", (None, None)),
        ("8000-", (None, None)),
        ("web", (None, None)),
        (True, (None, None)),
        (None, (None, None)),
    ],
)
def test_port_numbers_ranges_and_variables(value: Any, expected: tuple[int | None, int | None]) -> None:
    assert port_number(value, app_port=9000) == expected


def test_app_port_without_a_value_gives_its_default_or_nothing() -> None:
    assert port_number("${APP_PORT:-80}") == (80, None)
    assert port_number("${APP_PORT}") == (None, None)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("80", "9000:80"),
        ("8080:80", "9000:80"),
        ("127.0.0.1:8080:80/udp", "127.0.0.1:9000:80/udp"),
        ("${P:-1}:80", "9000:80"),
        ({"target": 80, "published": "8080", "mode": "host"}, {"target": 80, "published": "9000", "mode": "host"}),
    ],
)
def test_with_published_replaces_the_host_side_only(entry: Any, expected: Any) -> None:
    assert with_published(entry, "9000") == expected


def test_split_ignores_separators_inside_braces_and_brackets() -> None:
    assert split_outside_braces("${A:-1}:[::1]:/x") == ["${A:-1}", "[::1]", "/x"]
