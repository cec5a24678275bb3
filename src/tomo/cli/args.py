"""``key=value`` words from a terminal turned into a tool's arguments, by the tool's input schema.

A value is read literally, from a file (``@path``, e.g. a private key; ``@@x`` is the literal ``@x``) or from
stdin (``-``, so a password never appears in shell history), then converted to the type the schema asks for:
integers, numbers, booleans (true/false, yes/no, on/off, 1/0), ``null`` where allowed, JSON for objects and
lists. Every refusal is a :class:`UsageError` naming the parameter and what is expected; a value is never
repeated in a message unless it was typed on the command line (a file or stdin may hold a secret).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})


class UsageError(Exception):
    """The command line cannot become a tool call: exit status 2, the message says what to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def closest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean x?)`` when one of ``choices`` is close to ``word``, else an empty string."""
    match = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {match[0]}?)" if match else ""


def parse_arguments(words: list[str], schema: Mapping[str, Any], stdin: TextIO) -> dict[str, Any]:
    """The arguments ``words`` stand for, checked against ``schema`` (a JSON schema of an object)."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    arguments: dict[str, Any] = {}
    stdin_used = False
    for word in words:
        key, separator, raw = word.partition("=")
        key = key.strip().replace("-", "_")
        if not separator or not key:
            raise UsageError(f"'{word}' is not key=value; parameters: {_names(properties)}.")
        if key not in properties:
            raise UsageError(f"Unknown parameter '{key}'{closest(key, properties)}; parameters: "
                             f"{_names(properties)}.")
        if key in arguments:
            raise UsageError(f"Parameter '{key}' is given twice.")
        if raw == "-":
            if stdin_used:
                raise UsageError("Only one parameter can be read from stdin ('-').")
            stdin_used = True
        arguments[key] = convert(key, raw, properties[key], stdin)
    check(arguments, schema)
    return arguments


def read_value(key: str, raw: str, stdin: TextIO) -> tuple[str, bool]:
    """The text ``raw`` stands for and whether it was typed on the command line."""
    if raw == "-":
        return stdin.read().removesuffix("\n").removesuffix("\r"), False
    if raw.startswith("@@"):
        return raw[1:], True
    if raw.startswith("@"):
        path = Path(raw[1:]).expanduser()
        try:
            return path.read_text(encoding="utf-8"), False
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not readable UTF-8 text"
            raise UsageError(f"{key}: cannot read '{path}': {reason}.") from exc
    return raw, True


def convert(key: str, raw: str, prop: Mapping[str, Any], stdin: TextIO) -> Any:
    """``raw`` as the JSON type ``prop`` accepts (the first that fits, in the schema's order)."""
    text, typed = read_value(key, raw, stdin)
    kinds = schema_types(prop)
    if "null" in kinds and text == "null":
        return None
    for kind in kinds:
        value = _as(kind, text)
        if value is not _REFUSED:
            return value
    shown = f", got '{text}'" if typed else ""
    raise UsageError(f"{key}: expected {describe(prop)}{shown}.")


_REFUSED = object()


def _as(kind: str, text: str) -> Any:
    if kind == "string":
        return text
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            return _REFUSED
    if kind == "number":
        try:
            return float(text)
        except ValueError:
            return _REFUSED
    if kind == "boolean":
        word = text.strip().lower()
        return True if word in TRUE_WORDS else False if word in FALSE_WORDS else _REFUSED
    if kind in ("object", "array"):
        try:
            value = json.loads(text)
        except ValueError:
            return _REFUSED
        return value if isinstance(value, dict if kind == "object" else list) else _REFUSED
    return _REFUSED


def schema_types(prop: Mapping[str, Any]) -> list[str]:
    """The JSON types a property accepts; a property without a type accepts a string (or JSON if it parses)."""
    if "type" in prop:
        kind = prop["type"]
        return list(kind) if isinstance(kind, list) else [kind]
    if "enum" in prop or "const" in prop:
        return ["string"]
    found = [kind for option in prop.get("anyOf", []) + prop.get("oneOf", []) for kind in schema_types(option)]
    return found or ["object", "array", "string"]


def describe(prop: Mapping[str, Any]) -> str:
    """What a property expects, in words: 'an integer', 'one of auto, tomo', 'a JSON object or null'."""
    enum = prop.get("enum") or [v for option in prop.get("anyOf", []) for v in option.get("enum", [])]
    if enum:
        return "one of " + ", ".join(str(value) for value in enum)
    words = {"string": "text", "integer": "an integer", "number": "a number", "boolean": "true or false",
             "object": "a JSON object", "array": "a JSON list", "null": "null"}
    return " or ".join(dict.fromkeys(words.get(kind, kind) for kind in schema_types(prop)))


def check(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    """Raise a UsageError listing every way ``arguments`` break ``schema`` (never showing a value)."""
    from jsonschema import Draft202012Validator

    problems: list[str] = []
    for error in sorted(Draft202012Validator(schema).iter_errors(dict(arguments)), key=lambda e: list(e.path)):
        if error.validator == "required":
            missing = [name for name in error.validator_value if name not in arguments]
            problems.extend(f"missing required parameter '{name}' ({describe(schema['properties'][name])})"
                            for name in missing)
            continue
        name = ".".join(str(part) for part in error.absolute_path) or "arguments"
        problems.append(f"{name}: {_expectation(error.validator, error.validator_value, error.schema)}")
    if problems:
        raise UsageError("; ".join(problems) + ".")


def _expectation(validator: Any, limit: Any, prop: Mapping[str, Any]) -> str:
    messages = {
        "minLength": f"expected at least {limit} character(s)", "maxLength": f"expected at most {limit} character(s)",
        "minimum": f"expected at least {limit}", "maximum": f"expected at most {limit}",
        "exclusiveMinimum": f"expected more than {limit}", "exclusiveMaximum": f"expected less than {limit}",
        "pattern": f"expected text matching {limit}", "minItems": f"expected at least {limit} item(s)",
        "maxItems": f"expected at most {limit} item(s)", "additionalProperties": "unexpected key(s)",
    }
    if validator in messages:
        return messages[validator]
    if validator in ("enum", "type", "anyOf", "oneOf", "const"):
        return f"expected {describe(prop)}"
    return f"refused by the schema ({validator})"


def _names(properties: Mapping[str, Any]) -> str:
    return ", ".join(sorted(properties)) or "none"
