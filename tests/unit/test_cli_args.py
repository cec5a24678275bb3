"""`tomo call` words become arguments by the tool's input schema; every refusal names the parameter."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from tomo.cli.args import UsageError, parse_arguments

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 10},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "ratio": {"type": "number"},
        "confirm": {"type": "boolean"},
        "format": {"type": "string", "enum": ["auto", "tomo"]},
        "config": {"anyOf": [{"type": "object"}, {"type": "null"}]},
        "tags": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
        "since": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "password": {"type": "string", "minLength": 12},
        "auth_type": {"type": "string"},
    },
}


def parse(*words: str, stdin: str = "") -> dict[str, Any]:
    return parse_arguments(list(words), SCHEMA, io.StringIO(stdin))


def test_values_take_the_type_the_schema_asks_for() -> None:
    assert parse("name=nas", "port=2222", "ratio=0.5", "confirm=yes", "format=tomo", 'config={"a": 1}',
                 'tags=["x","y"]', "since=null") == {
        "name": "nas", "port": 2222, "ratio": 0.5, "confirm": True, "format": "tomo", "config": {"a": 1},
        "tags": ["x", "y"], "since": None}


def test_dashes_in_names_and_equals_signs_in_values_are_kept_apart() -> None:
    assert parse("name=a=b") == {"name": "a=b"}
    assert parse("name=n", "auth-type=key") == {"name": "n", "auth_type": "key"}


@pytest.mark.parametrize(("words", "expected"), [
    (["name=n", "port=ssh"], "port: expected an integer, got 'ssh'."),
    (["name=n", "confirm=maybe"], "confirm: expected true or false, got 'maybe'."),
    (["name=n", "config=[1]"], "config: expected a JSON object or null, got '[1]'."),
    (["name=n", "format=yaml"], "format: expected one of auto, tomo."),
    (["name=n", "port=0"], "port: expected at least 1."),
    (["name=much-too-long"], "name: expected at most 10 character(s)."),
    (["port=22"], "missing required parameter 'name' (text)."),
    (["nam=x"], "Unknown parameter 'nam' (did you mean name?); parameters: auth_type, config, confirm, format, "
                "name, password, port, ratio, since, tags."),
    (["name"], "'name' is not key=value; parameters: auth_type, config, confirm, format, name, password, port, "
               "ratio, since, tags."),
    (["name=a", "name=b"], "Parameter 'name' is given twice."),
])
def test_a_refused_value_names_the_parameter_and_what_is_expected(words: list[str], expected: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse(*words)
    assert refused.value.message == expected


def test_a_value_from_stdin_is_read_once_and_never_repeated_in_a_message() -> None:
    assert parse("name=n", "password=-", stdin="correct-horse-battery\n") == {
        "name": "n", "password": "correct-horse-battery"}
    with pytest.raises(UsageError) as refused:
        parse("name=n", "password=-", stdin="short\n")
    assert refused.value.message == "password: expected at least 12 character(s)."
    with pytest.raises(UsageError, match="Only one parameter can be read from stdin"):
        parse("name=-", "password=-", stdin="x")


def test_at_file_reads_the_file_and_at_at_is_a_literal_at(tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n")
    settings = tmp_path / "settings.json"
    settings.write_text('{"default_wait_seconds": 7}')
    parsed = parse("name=n", f"password=@{key}", f"config=@{settings}")
    assert parsed["password"] == key.read_text()
    assert parsed["config"] == {"default_wait_seconds": 7}
    assert parse("name=@@home") == {"name": "@home"}
    with pytest.raises(UsageError) as refused:
        parse(f"name=@{tmp_path / 'missing'}")
    assert refused.value.message == f"name: cannot read '{tmp_path / 'missing'}': No such file or directory."
