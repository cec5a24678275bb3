"""Compose's variable syntax: ``$NAME``, ``${NAME}``, ``${NAME<op>argument}`` and the ``$$`` escape.

``<op>`` is one of ``:-`` ``-`` (default), ``:?`` ``?`` (error), ``:+`` ``+`` (alternative). :func:`scan`
finds every reference of a text in one pass: it jumps from ``$`` to ``$`` and looks the closing ``}``
up once per stretch of text, so a hostile catalog string costs linear time. What a braced reference
is, as Tomo has always read it:

* a name right after ``${`` makes a reference, whatever follows (``${NAME/x}`` references NAME);
* it is *closed* when ``}`` follows the name, or an operator, the argument and the ``}`` that matches the
  reference's own ``${`` (as Compose reads it: ``${A:-${B}/x}`` has the argument ``${B}/x``); the matching
  braces are found in one more linear pass, only for a text whose argument holds a ``$``;
* references inside an argument are found too (the scan goes on right after each name).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

_NAME_START: Final = frozenset(string.ascii_letters + "_")
_NAME_CHARS: Final = _NAME_START | frozenset(string.digits)
_OPERATORS: Final = (":-", ":?", ":+", "-", "?", "+")
_DEFAULTS: Final = (":-", "-")
_BRACES: Final = re.compile(r"\$\$|\$\{|\}")  # escapes, openings and closings, in one linear pass
_MAX_NESTING: Final = 8  # interpolate() fills nested defaults this deep, then shows the rest as written


@dataclass(frozen=True, slots=True)
class Reference:
    """One variable reference in ``text``: ``text[start:end]`` is ``$NAME``, ``${NAME}`` or ``${NAME<op>arg}``.

    An unclosed braced reference (``${NAME`` then anything but an operator and a ``}``) ends after its
    name, with no operator.
    """

    text: str = field(repr=False)
    name: str
    start: int
    end: int
    braced: bool
    closed: bool
    operator: str | None = None
    argument_start: int = 0
    nested: bool = False  # the argument holds a '$' (a reference or an escape)

    @property
    def argument(self) -> str | None:
        """The text between the operator and the closing brace (None without an operator)."""
        return None if self.operator is None else self.text[self.argument_start : self.end - 1]

    @property
    def literal_default(self) -> str | None:
        """The inline default of ``${NAME:-default}`` / ``${NAME-default}`` when it holds no ``$``."""
        return self.argument if self.operator in _DEFAULTS and not self.nested else None


def scan(text: str) -> Iterator[Reference]:
    """Every reference in ``text``, in order (``$$`` escapes are not references)."""
    position, close = text.find("$"), text.find("}")
    matching: dict[int, int] | None = None
    while position != -1:
        after = position + 1
        if text.startswith("$", after):
            position = text.find("$", after + 1)
            continue
        braced = text.startswith("{", after)
        name_start = after + braced
        name_end = _name_end(text, name_start)
        following = text.find("$", name_end) if name_end > name_start else text.find("$", after)
        if name_end > name_start:
            name = text[name_start:name_end]
            if not braced:
                yield Reference(text, name, position, name_end, braced=False, closed=True)
            elif text.startswith("}", name_end):
                yield Reference(text, name, position, name_end + 1, braced=True, closed=True)
            else:
                operator = next((op for op in _OPERATORS if text.startswith(op, name_end)), None)
                argument_start = name_end + len(operator or "")
                if operator is not None and close < argument_start:
                    close = text.find("}", argument_start) if close != -1 else -1
                nested = operator is not None and close != -1 and following != -1 and following < close
                end = close
                if nested:
                    matching = _matching_braces(text) if matching is None else matching
                    end = matching.get(after, -1)
                if operator is None or end == -1:
                    yield Reference(text, name, position, name_end, braced=True, closed=False)
                else:
                    yield Reference(text, name, position, end + 1, braced=True, closed=True, operator=operator,
                                    argument_start=argument_start, nested=nested)  # fmt: skip
        position = following


def _matching_braces(text: str) -> dict[int, int]:
    """For each ``{`` of a ``${``, the index of the ``}`` that closes it (nesting counted, ``$$`` skipped)."""
    opened: list[int] = []
    matching: dict[int, int] = {}
    for match in _BRACES.finditer(text):
        mark = match.group()
        if mark == "${":
            opened.append(match.start() + 1)
        elif mark == "}" and opened:
            matching[opened.pop()] = match.start()
    return matching


def _name_end(text: str, start: int) -> int:
    """The end of the variable name starting at ``start`` (``start`` itself when there is none)."""
    if start >= len(text) or text[start] not in _NAME_START:
        return start
    end = start + 1
    while end < len(text) and text[end] in _NAME_CHARS:
        end += 1
    return end


def references(text: str) -> Iterator[str]:
    """Yield the names of the variables referenced in ``text`` (``$$`` escapes are not references)."""
    return (reference.name for reference in scan(text))


def default_of(text: str, name: str) -> str | None:
    """The inline default of ``${name:-default}`` (or ``${name-default}``) in ``text``, if any."""
    for reference in scan(text):
        if reference.name == name and (default := reference.literal_default) is not None:
            return default
    return None


def single_reference(text: str) -> Reference | None:
    """The reference ``text`` consists of, when it is exactly one (``${PORT}``, ``$PORT``, ``${PORT:-80}``)."""
    reference = next(scan(text), None)
    return reference if reference is not None and reference.start == 0 and reference.end == len(text) else None


def rename(text: str, mapping: Mapping[str, str]) -> str:
    """Rename variable references per ``mapping``; a renamed ``$NAME`` becomes ``${NEW}``.

    Only the name changes: ``${OLD:-x}`` becomes ``${NEW:-x}``, and an argument keeps its shape.
    """
    if "$" not in text:
        return text
    renamed = (
        (ref.start, ref.start + len(ref.name) + 1 + ref.braced, "${" + new + ("" if ref.braced else "}"))
        for ref in scan(text)
        if (new := mapping.get(ref.name)) is not None
    )
    return _spliced(text, renamed)


def interpolate(text: str, value_of: Callable[[str], str | None], _depth: int = 0) -> str:
    """Fill closed references in from ``value_of`` (None: unset); unset ones stay as written; ``$$`` stays.

    ``${NAME:-default}`` takes the default when NAME is unset or empty, ``${NAME-default}`` when unset, and a
    default holding references is filled in too (up to 8 levels deep); the other operators are shown with the
    value (a display, not Compose's own evaluation).
    """
    if "$" not in text:
        return text
    return _spliced(text, ((ref.start, ref.end, _filled(ref, value_of, _depth))
                           for ref in _outermost(scan(text))))


def _outermost(references: Iterable[Reference]) -> Iterator[Reference]:
    """The closed references that are not inside the argument of an earlier one."""
    done = 0
    for reference in references:
        if reference.closed and reference.start >= done:
            done = reference.end
            yield reference


def _filled(reference: Reference, value_of: Callable[[str], str | None], depth: int) -> str:
    operator, value = reference.operator, value_of(reference.name)
    if operator in _DEFAULTS and (value is None or (operator == ":-" and value == "")):
        argument = reference.argument or ""
        return interpolate(argument, value_of, depth + 1) if reference.nested and depth < _MAX_NESTING else argument
    return reference.text[reference.start : reference.end] if value is None else value


def _spliced(text: str, replacements: Iterable[tuple[int, int, str]]) -> str:
    """``text`` with each ``(start, end, new)`` (in order, not overlapping) put in place of its span."""
    pieces: list[str] = []
    done = 0
    for start, end, new in replacements:
        pieces += [text[done:start], new]
        done = end
    return "".join([*pieces, text[done:]])


def map_strings(data: Any, func: Callable[[str], str]) -> Any:
    """Return a copy of JSON-like ``data`` with ``func`` applied to every string, keys included."""
    if isinstance(data, str):
        return func(data)
    if isinstance(data, dict):
        return {map_strings(key, func): map_strings(value, func) for key, value in data.items()}
    if isinstance(data, list):
        return [map_strings(item, func) for item in data]
    return data


def iter_strings(data: Any) -> Iterator[str]:
    """Yield every string in JSON-like ``data``, keys included."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from iter_strings(key)
            yield from iter_strings(value)
    elif isinstance(data, list):
        for item in data:
            yield from iter_strings(item)


def referenced_names(data: Any) -> set[str]:
    """Every variable name referenced anywhere in JSON-like ``data``."""
    return {name for text in iter_strings(data) if "$" in text for name in references(text)}
