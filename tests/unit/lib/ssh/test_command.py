"""to_shell is the one place that quotes: every argv item must come out as one literal shell word."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from tomo.errors import ValidationError
from tomo.lib.ssh.command import LineSplitter, OutputTail, to_shell

HOSTILE = [
    "; touch /tmp/tomo-pwned",
    "$(id)",
    "`id`",
    "it's",
    'say "hi"',
    "two\nlines",
    "with  spaces\tand tab",
    "&& rm -rf /",
    "| cat /etc/shadow",
    "> /tmp/out",
    "$HOME ${PATH} $((1+1))",
    "*",
    "~root",
    "--option=value",
    "",
    "\\ backslash \\",
    "ünïcødé ☃",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_to_shell_round_trips_metacharacters_as_one_word(value: str) -> None:
    argv = ["echo", value]
    assert shlex.split(to_shell(argv)) == argv


def test_to_shell_round_trips_a_whole_hostile_argv() -> None:
    assert shlex.split(to_shell(["printf", "%s\\n", *HOSTILE])) == ["printf", "%s\\n", *HOSTILE]


def test_to_shell_output_executes_nothing_in_a_real_shell(tmp_path: Path) -> None:
    marker = f"{tmp_path}/pwned"
    values = [f"; touch {marker}", f"$(touch {marker})", f"`touch {marker}`", f"\ntouch {marker}\n"]
    out = subprocess.run(["sh", "-c", to_shell(["printf", "%s\\0", *values])], capture_output=True, check=True).stdout
    assert out.split(b"\0")[:-1] == [value.encode() for value in values]
    assert not os.path.exists(marker)


def test_to_shell_leaves_plain_words_unquoted() -> None:
    assert to_shell(["docker", "compose", "-p", "web_1", "up", "-d"]) == "docker compose -p web_1 up -d"


def test_to_shell_rejects_nul_bytes() -> None:
    with pytest.raises(ValidationError, match="NUL"):
        to_shell(["echo", "a\x00b"])


def test_to_shell_rejects_an_empty_argv() -> None:
    with pytest.raises(ValidationError, match="non-empty"):
        to_shell([])


def test_to_shell_rejects_a_plain_string() -> None:
    with pytest.raises(ValidationError):
        to_shell("rm -rf /")


def test_to_shell_rejects_non_string_items() -> None:
    with pytest.raises(ValidationError, match="item 1 is int"):
        to_shell(["sleep", 5])  # type: ignore[list-item]


def test_output_tail_keeps_the_last_bytes() -> None:
    tail = OutputTail(10)
    for chunk in (b"0123456789", b"abcdef", b"XYZ"):
        tail.feed(chunk)
    assert tail.text() == "9abcdefXYZ"[-10:]
    assert tail.truncated


def test_output_tail_under_the_limit_is_whole_and_not_truncated() -> None:
    tail = OutputTail(100)
    tail.feed(b"hello ")
    tail.feed(b"world")
    assert tail.text() == "hello world"
    assert not tail.truncated


def test_output_tail_replaces_invalid_utf8() -> None:
    tail = OutputTail(100)
    tail.feed(b"ok \xff\xfe end")
    assert tail.text() == "ok \ufffd\ufffd end"


def test_line_splitter_joins_lines_and_multibyte_chars_across_chunks() -> None:
    lines: list[str] = []
    splitter = LineSplitter(lines.append)
    snowman = "☃".encode()
    for chunk in (b"first li", b"ne\r\nsec", b"ond " + snowman[:1], snowman[1:] + b"\nlast"):
        splitter.feed(chunk)
    assert lines == ["first line", "second ☃"]
    splitter.close()
    assert lines == ["first line", "second ☃", "last"]


def test_line_splitter_cuts_overlong_lines() -> None:
    lines: list[str] = []
    splitter = LineSplitter(lines.append, max_line=4)
    splitter.feed(b"abcdefghij\n")
    assert lines == ["abcd", "efgh", "ij"]
