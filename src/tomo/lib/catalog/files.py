"""Safe reading of catalog manifests: inside the catalog root only, size-capped, safe YAML.

A catalog is a git repository someone else controls. :class:`ManifestReader` refuses symlinks that
resolve outside the root, non-regular files (FIFOs would block), files over a size limit, and YAML
or JSON that is invalid or expands into an oversized document (alias bombs). Every refusal is a
:class:`tomo.errors.ValidationError` whose message is the reason recorded for the skipped app.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any, Final

import yaml

from tomo.errors import ValidationError

DEFAULT_MAX_MANIFEST_BYTES: Final = 1024 * 1024
MAX_DOCUMENT_NODES: Final = 200_000
MAX_DOCUMENT_DEPTH: Final = 64

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # C speed, same safe constructors

# Plain scalars resolved as Docker Compose (YAML 1.2's core schema) reads them: only true/false are booleans
# (`yes`, `no`, `on`, `off` stay strings), `1:20` is no base-60 number and a date stays text.
_BOOL_12 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT_12 = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$")
_FLOAT_12 = re.compile(r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
                       r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")


class _YamlLoader(_BaseLoader):  # type: ignore[misc]  # the base is chosen at run time
    """The safe loader with Compose's (YAML 1.2 core) reading of booleans, numbers and dates."""

    yaml_implicit_resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {
        first: [(tag, regexp) for tag, regexp in resolvers
                if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                               "tag:yaml.org,2002:timestamp")]
        for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }  # fmt: skip


_YamlLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL_12, list("tTfF"))
_YamlLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT_12, list("-+0123456789"))
_YamlLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


class ManifestReader:
    """Read files under one catalog root, refusing anything unsafe."""

    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES) -> None:
        self.root = Path(os.path.realpath(root))
        self.max_bytes = max_bytes
        self._lexical_root = Path(os.path.abspath(root))

    def relative(self, path: Path) -> str:
        """``path`` relative to the catalog root, as recorded in results (POSIX separators)."""
        try:
            return Path(os.path.abspath(path)).relative_to(self._lexical_root).as_posix()
        except ValueError:
            return path.as_posix()

    def resolve_inside(self, path: Path) -> Path:
        """Resolve symlinks in ``path``; refuse it when the target lies outside the catalog root."""
        real = Path(os.path.realpath(path))
        if real != self.root and not real.is_relative_to(self.root):
            raise ValidationError(f"{self.relative(path)} is a symlink that points outside the catalog")
        return real

    def exists(self, path: Path) -> bool:
        """Whether ``path`` exists as a file or a (possibly dangling) symlink."""
        return os.path.lexists(path)

    def read_bytes(self, path: Path) -> bytes:
        """Read a regular file inside the root, at most ``max_bytes`` long."""
        name = self.relative(path)
        real = self.resolve_inside(path)
        try:
            info = real.stat()
            if not stat.S_ISREG(info.st_mode):
                raise ValidationError(f"{name} is not a regular file")
            if info.st_size > self.max_bytes:
                raise ValidationError(f"{name} is {info.st_size} bytes, over the {self.max_bytes}-byte limit")
            with real.open("rb") as handle:
                data = handle.read(self.max_bytes + 1)
        except OSError as exc:
            raise ValidationError(f"cannot read {name}: {exc.strerror or exc}") from exc
        if len(data) > self.max_bytes:
            raise ValidationError(f"{name} is over the {self.max_bytes}-byte limit")
        return data

    def read_text(self, path: Path) -> str:
        """Read a UTF-8 text file (see :meth:`read_bytes`)."""
        try:
            return self.read_bytes(path).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError(f"{self.relative(path)} is not UTF-8 text") from exc

    def load_yaml(self, path: Path) -> Any:
        """Read and parse a YAML file (see :meth:`parse_yaml`)."""
        return self.parse_yaml(self.read_text(path), path)

    def parse_yaml(self, text: str, path: Path) -> Any:
        """Parse YAML read from ``path`` with the safe loader (C implementation when available)."""
        try:
            data = yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - CSafeLoader or SafeLoader
        except yaml.YAMLError as exc:
            raise ValidationError(f"invalid YAML in {self.relative(path)}: {_first_line(exc)}") from exc
        except RecursionError as exc:
            raise ValidationError(f"{self.relative(path)} is nested too deeply") from exc
        check_document_size(data, self.relative(path))
        return data

    def load_json(self, path: Path) -> Any:
        """Parse a JSON file."""
        text = self.read_text(path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"invalid JSON in {self.relative(path)}: {exc.msg} at line {exc.lineno}") from exc
        except RecursionError as exc:
            raise ValidationError(f"{self.relative(path)} is nested too deeply") from exc
        check_document_size(data, self.relative(path))
        return data


def check_document_size(data: Any, name: str) -> None:
    """Refuse documents with too many nodes or too deep nesting (YAML aliases can multiply nodes)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_DOCUMENT_NODES:
            raise ValidationError(f"{name} expands to more than {MAX_DOCUMENT_NODES} values")
        if depth > MAX_DOCUMENT_DEPTH:
            raise ValidationError(f"{name} is nested deeper than {MAX_DOCUMENT_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)


def _first_line(exc: Exception) -> str:
    """A one-line summary of a parse error, for short skip reasons."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        return f"{exc.problem} at line {mark.line + 1}" if mark else exc.problem
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
