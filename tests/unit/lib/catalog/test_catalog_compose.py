"""Compose helpers and variable handling shared by the format readers."""

from __future__ import annotations

import pytest

from tomo.lib.catalog.compose import complete_inputs, parse_port, parse_volume
from tomo.lib.compose.interpolation import default_of, referenced_names, rename
from tomo.lib.compose.ports import split_outside_braces


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("8080:80", (80, None, 8080, "tcp")),
        ("127.0.0.1:8080:80/udp", (80, None, 8080, "udp")),
        ("[::1]:8080:80", (80, None, 8080, "tcp")),
        ("${APP_PORT}:3000", (3000, None, 9000, "tcp")),
        ("${WEB_PORT:-8081}:80", (80, None, 8081, "tcp")),
        ("25565-25570:25565-25570/udp", (25565, 25570, 25565, "udp")),
        ("9090", (9090, None, None, "tcp")),
        ({"target": 8096, "published": "8097", "protocol": "tcp"}, (8096, None, 8097, "tcp")),
        ({"target": 53, "published": 53, "protocol": "udp"}, (53, None, 53, "udp")),
    ],
)
def test_ports_are_parsed_in_both_syntaxes(entry: object, expected: tuple[object, ...]) -> None:
    port = parse_port("web", entry, app_port=9000)
    assert port is not None
    assert (port.container_port, port.container_port_end, port.host_port, port.protocol) == expected


@pytest.mark.parametrize("entry", ["${PORT}", "web:abc", {"published": 80}])
def test_unparseable_ports_are_left_out(entry: object) -> None:
    assert parse_port("web", entry) is None


def test_volumes_are_classified() -> None:
    bind = parse_volume("web", "${APP_DATA_DIR}/config:/config:ro")
    named = parse_volume("web", "cache:/cache")
    anonymous = parse_volume("web", "/tmp/scratch")
    long_form = parse_volume("web", {"type": "bind", "source": "/srv", "target": "/data", "read_only": True})
    assert bind is not None and (bind.kind, bind.source, bind.read_only) == ("bind", "${APP_DATA_DIR}/config", True)
    assert named is not None and (named.kind, named.source) == ("named", "cache")
    assert anonymous is not None and (anonymous.kind, anonymous.target) == ("anonymous", "/tmp/scratch")
    assert long_form is not None and (long_form.kind, long_form.read_only) == ("bind", True)


def test_split_ignores_separators_inside_braces() -> None:
    assert split_outside_braces("${A:-1}:${B:-2}:/x") == ["${A:-1}", "${B:-2}", "/x"]


def test_rename_maps_both_reference_forms_and_keeps_escapes() -> None:
    text = "/DATA/$AppID/x ${AppID:-app} $$AppID ${OTHER}"
    assert rename(text, {"AppID": "APP_ID"}) == "/DATA/${APP_ID}/x ${APP_ID:-app} $$AppID ${OTHER}"


def test_references_skip_escaped_dollars() -> None:
    assert referenced_names({"k": "pg_isready -U $${POSTGRES_USER} ${DB}", "${KEY}": ["$X"]}) == {"DB", "KEY", "X"}


def test_inline_default_is_found() -> None:
    assert default_of("${A:-http}://${B-x}", "A") == "http"
    assert default_of("${A:-http}://${B-x}", "B") == "x"
    assert default_of("${A}", "A") is None


def test_unknown_references_become_optional_inputs() -> None:
    compose = {"services": {"web": {"image": "x", "environment": {"TOKEN": "${API_TOKEN}", "ID": "${GID-1000}"}}}}
    inputs = complete_inputs(compose, [])
    assert [(item.key, item.type, item.default, item.required) for item in inputs] == [
        ("API_TOKEN", "password", None, False),
        ("GID", "text", "1000", False),
    ]


def test_tomo_variables_do_not_become_inputs() -> None:
    compose = {"services": {"web": {"image": "x", "volumes": ["${APP_DATA_DIR}:/data"], "user": "${PUID}"}}}
    assert complete_inputs(compose, []) == []
