"""Turn the literal environment values of a CasaOS compose file into Tomo inputs.

CasaOS lets users edit every environment value before install, and its catalog ships fixed values,
among them passwords and signing keys that every install would otherwise share. Rules:

* a secret-named variable (PASSWORD, SECRET, TOKEN, KEY...) whose value looks random (16+ characters
  with letters and digits) becomes a generated ``secret`` input; the value is replaced by ``${KEY}``
  wherever it appears as a whole token (connection URLs, other services, health checks);
* other secret-named values become ``password`` inputs defaulting to the catalog value; entries of any
  service holding the same value are pointed at the same input (database and app stay in sync). When
  the value also appears elsewhere (inside a URL, as a user name), it stays literal: changing one copy
  would break the app;
* values described in the service's ``x-casaos.envs`` become typed inputs (text, number, boolean, url,
  email) defaulting to the catalog value;
* values with ``$`` (references, escapes), invalid names and Tomo variable names stay as they are.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from tomo.lib.catalog.compose import is_secret_name, label_for
from tomo.lib.catalog.variables import TOMO_VARIABLES
from tomo.lib.compose.environment import env_items, scalar_text
from tomo.lib.compose.interpolation import iter_strings, map_strings
from tomo.models.marketplace import ENV_KEY_PATTERN, AppInput, GenerateSpec

_RANDOM_LOOKING: Final = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9._~+/=-]{16,}$")
_HEX: Final = re.compile(r"^[0-9a-fA-F]+$")
_ENV_KEY: Final = re.compile(ENV_KEY_PATTERN)
_INTEGER: Final = re.compile(r"^-?\d{1,15}$")
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


class _Plan:
    """Which inputs to create and which environment values to replace by references."""

    def __init__(self, texts: list[str], secret_counts: Counter[str]) -> None:
        self.texts = texts
        self.secret_counts = secret_counts
        self.inputs: dict[str, AppInput] = {}
        self.by_entry: dict[tuple[str, str], str] = {}
        self.secret_values: dict[str, str] = {}
        self.tokens: dict[str, str] = {}

    def add_described(self, key: str, value: str, note: str | None) -> None:
        """A described, non-secret entry becomes a typed input, unless it embeds a generated secret."""
        if note is None or key in self.inputs or (key, value) in self.by_entry or self._embeds_token(value):
            return
        if is_secret_name(key) and not _is_flag_or_number(value):
            return
        self.inputs[key] = _typed_input(key, value, note)
        self.by_entry[(key, value)] = key

    def _embeds_token(self, value: str) -> bool:
        """Whether ``value`` contains a generated secret's catalog value (it is rewritten in place)."""
        return any(token in value for token in self.tokens)

    def add_secret(self, key: str, value: str, note: str | None) -> None:
        """A secret-named entry: generated when random-looking, else a password shared by equal values."""
        if not is_secret_name(key) or _is_flag_or_number(value):
            return
        if value in self.tokens or (key, value) in self.by_entry:
            return
        if value in self.secret_values:
            self.by_entry[(key, value)] = self.secret_values[value]
            return
        if key in self.inputs:
            return
        if _RANDOM_LOOKING.match(value):
            charset = "hex" if _HEX.match(value) else "alnum"
            spec = GenerateSpec(length=min(max(len(value), 16), 128), charset=charset)
            self.inputs[key] = AppInput(
                key=key, label=label_for(key), type="secret", generate=spec, description=note or None
            )
            self.tokens[value] = key
            return
        if self._used_elsewhere(value):
            return
        self.inputs[key] = AppInput(
            key=key, label=label_for(key), type="password", default=value, description=note or None
        )
        self.secret_values[value] = key
        self.by_entry[(key, value)] = key

    def _used_elsewhere(self, value: str) -> bool:
        """Whether ``value`` appears beyond the secret entries holding it (a URL, a user name...)."""
        pattern = _whole_token(value)
        found = sum(len(pattern.findall(text)) for text in self.texts if value in text)
        return found > self.secret_counts[value]


def env_inputs(compose: dict[str, Any], notes: Mapping[str, str]) -> tuple[dict[str, Any], list[AppInput]]:
    """Return (compose with literal values replaced by references, the inputs they need)."""
    entries = list(_literal_entries(compose))
    secret_counts = Counter(value for key, value in entries if is_secret_name(key))
    plan = _Plan(list(iter_strings(compose)), secret_counts)
    for key, value in entries:
        plan.add_secret(key, value, notes.get(key))
    for key, value in entries:
        plan.add_described(key, value, notes.get(key))
    for service in compose["services"].values():
        if "environment" in service:
            service["environment"] = _rewrite(service["environment"], plan.by_entry)
    if plan.tokens:
        compose = map_strings(compose, _token_replacer(plan.tokens))
    return compose, list(plan.inputs.values())


def _literal_entries(compose: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(key, value) of every environment entry whose value is a non-empty literal."""
    for service in compose["services"].values():
        for key, value in env_items(service.get("environment")):
            if value and "$" not in value and _ENV_KEY.match(key) and key not in TOMO_VARIABLES:
                yield key, value


def _rewrite(environment: Any, by_entry: Mapping[tuple[str, str], str]) -> Any:
    """Replace planned entries of one ``environment`` (mapping or list form) by ``${INPUT}``."""
    if isinstance(environment, dict):
        result: dict[Any, Any] = {}
        for key, value in environment.items():
            target = by_entry.get((str(key), scalar_text(value)))
            result[key] = "${" + target + "}" if target else value
        return result
    if isinstance(environment, list):
        items: list[Any] = []
        for item in environment:
            key, sep, value = str(item).partition("=")
            target = by_entry.get((key.strip(), value)) if sep else None
            items.append(f"{key}=${{{target}}}" if target else item)
        return items
    return environment


def _whole_token(*values: str) -> re.Pattern[str]:
    """A pattern matching any of ``values`` not glued to other letters or digits."""
    alternatives = "|".join(re.escape(value) for value in sorted(values, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])")


def _token_replacer(tokens: Mapping[str, str]) -> Callable[[str], str]:
    """A function replacing each random literal, as a whole token, by its input reference."""
    pattern = _whole_token(*tokens)

    def replace(text: str) -> str:
        return pattern.sub(lambda match: "${" + tokens[match.group(0)] + "}", text)

    return replace


def _is_flag_or_number(value: str) -> bool:
    """true/false or an integer: a setting, even under a secret-looking name (MAX_TOKENS=1000)."""
    return value in ("true", "false") or bool(_INTEGER.match(value))


def _typed_input(key: str, value: str, note: str) -> AppInput:
    """A described, non-secret input typed from its catalog value."""
    label, description = label_for(key), note or None
    if value in ("true", "false"):
        return AppInput(key=key, label=label, type="boolean", default=value == "true", description=description)
    if _INTEGER.match(value):
        return AppInput(key=key, label=label, type="number", default=int(value), description=description)
    if value.lower().startswith(("http://", "https://")):
        return AppInput(key=key, label=label, type="url", default=value, description=description)
    if _EMAIL.match(value):
        return AppInput(key=key, label=label, type="email", default=value, description=description)
    return AppInput(key=key, label=label, type="text", default=value, description=description)
