"""Remote commands as argument lists: the one place that quotes, and bounded output.

``to_shell`` is the only function in Tomo that turns an argv into a shell string.
An f-string that builds a remote command anywhere else is a bug (design/STYLE.md).
"""

from __future__ import annotations

import codecs
import shlex
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tomo.errors import ValidationError

#: A streamed line longer than this is delivered in pieces of this size.
MAX_LINE_BYTES = 64 * 1024


def to_shell(argv: Sequence[str]) -> str:
    """Quote ``argv`` into one POSIX shell command line in which every item is a literal word.

    Raises ValidationError for an empty argv, a non-string item or a NUL byte (which no
    shell word can carry).
    """
    if isinstance(argv, str | bytes) or not argv:
        raise ValidationError("A remote command must be a non-empty list of strings, e.g. ['docker', 'ps']")
    for index, item in enumerate(argv):
        if not isinstance(item, str):
            raise ValidationError(f"Remote command item {index} is {type(item).__name__}, not a string")
        if "\x00" in item:
            raise ValidationError(f"Remote command item {index} contains a NUL byte")
    return shlex.join(argv)


@dataclass
class CommandResult:
    """What a finished remote command produced (stdout/stderr keep at most the last max_output bytes)."""

    exit_status: int
    stdout: str
    stderr: str
    duration_ms: float
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class OutputTail:
    """Keep the last ``limit`` bytes of a byte stream, in O(total) time."""

    def __init__(self, limit: int) -> None:
        self._limit = max(limit, 0)
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self.truncated = False

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        while self._chunks and self._size - len(self._chunks[0]) >= self._limit:
            self._size -= len(self._chunks.popleft())
            self.truncated = True

    def text(self) -> str:
        data = b"".join(self._chunks)
        if len(data) > self._limit:
            data = data[len(data) - self._limit :]
            self.truncated = True
        return data.decode("utf-8", errors="replace")


class LineSplitter:
    """Turn chunks of bytes into decoded lines (without the newline), for streaming output."""

    def __init__(self, emit: Callable[[str], None], max_line: int = MAX_LINE_BYTES) -> None:
        self._emit = emit
        self._max_line = max_line
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""

    def feed(self, data: bytes) -> None:
        text = self._partial + self._decoder.decode(data)
        *lines, self._partial = text.split("\n")
        for line in lines:
            self._emit_capped(line.removesuffix("\r"))
        while len(self._partial) >= self._max_line:
            self._emit(self._partial[: self._max_line])
            self._partial = self._partial[self._max_line :]

    def _emit_capped(self, line: str) -> None:
        for start in range(0, max(len(line), 1), self._max_line):
            self._emit(line[start : start + self._max_line])

    def close(self) -> None:
        rest = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        if rest:
            self._emit_capped(rest.removesuffix("\r"))
