"""Envelopes shown to people: tables for lists, key/value panels for objects, red errors; job progress bars."""

from __future__ import annotations

import io

from rich.console import Console

from tomo.cli.call import JobProgress, exit_status
from tomo.cli.render import render


def consoles() -> tuple[Console, Console, io.StringIO, io.StringIO]:
    out_file, err_file = io.StringIO(), io.StringIO()
    return (Console(file=out_file, width=100, color_system=None), Console(file=err_file, width=100,
            color_system=None), out_file, err_file)


def test_a_page_of_records_is_a_table_with_its_paging_caption() -> None:
    out, err, out_file, err_file = consoles()
    render({"success": True, "message": "2 server(s).", "data": {
        "servers": [{"id": "a1", "name": "nas", "online": True, "tags": ["x", "y"]},
                    {"id": "b2", "name": "pi", "online": False, "tags": []}],
        "total": 3, "limit": 2, "offset": 0, "has_more": True, "next_offset": 2}}, out, err)
    lines = [line.rstrip() for line in out_file.getvalue().splitlines()]
    assert lines[0] == "2 server(s)."
    assert lines[1] == "servers"
    assert [cell.strip() for cell in lines[3].split("┃")[1:-1]] == ["id", "name", "online", "tags"]
    assert [cell.strip() for cell in lines[5].split("│")[1:-1]] == ["a1", "nas", "yes", "x, y"]
    assert [cell.strip() for cell in lines[6].split("│")[1:-1]] == ["b2", "pi", "no", "-"]
    assert lines[-1] == "total 3 · more with offset=2"
    assert err_file.getvalue() == ""


def test_an_object_is_a_key_value_panel_with_nested_objects_indented() -> None:
    out, err, out_file, _ = consoles()
    render({"success": True, "message": "ok", "data": {"status": "ok", "database": {"dialect": "sqlite"},
                                                       "note": None}}, out, err)
    rows = [line.strip("│╭╰─╮╯ ").split() for line in out_file.getvalue().splitlines()[1:]]
    assert [row for row in rows if row] == [["status", "ok"], ["database", "dialect", "sqlite"], ["note", "-"]]


def test_an_error_goes_to_stderr_with_its_code_and_message() -> None:
    out, err, out_file, err_file = consoles()
    envelope = {"success": False, "message": "Server 'nas' not found.", "error": "SERVER_NOT_FOUND"}
    render(envelope, out, err)
    assert out_file.getvalue() == ""
    assert err_file.getvalue() == "Error (SERVER_NOT_FOUND): Server 'nas' not found.\n"
    assert exit_status(envelope) == 1
    assert exit_status({"success": False, "message": "bad", "error": "VALIDATION_ERROR"}) == 2
    assert exit_status({"success": True, "message": "fine"}) == 0


def test_markup_in_a_message_is_shown_as_typed() -> None:
    out, err, out_file, _ = consoles()
    render({"success": True, "message": "[bold]not markup[/]"}, out, err)
    assert out_file.getvalue() == "[bold]not markup[/]\n"


async def test_job_progress_shows_the_current_step_and_percentage() -> None:
    stream = io.StringIO()
    progress = JobProgress(Console(file=stream, width=100, force_terminal=True, color_system=None), "install_app")
    await progress(10, 100, "pulling images")
    await progress(60, 100, "starting containers")
    assert progress.shown is not None
    bar, task = progress.shown
    shown = bar.tasks[0]
    assert (shown.id, shown.completed, shown.description) == (task, 60, "install_app: starting containers")
    progress.stop()
    assert "install_app: " in stream.getvalue()


def test_a_job_tools_answer_shows_its_steps_instead_of_the_whole_job() -> None:
    out, err, out_file, _ = consoles()
    job = {"id": "j1", "title": "Install webby", "status": "succeeded", "params": {"secret": "x"},
           "steps": [{"name": "upload", "status": "ok", "duration_ms": 12.5, "detail": "3 files", "started_at": "t"}]}
    render({"success": True, "message": "Installed.", "data": {"job_id": "j1", "status": "succeeded", "job": job}},
           out, err)
    text = out_file.getvalue()
    assert "Install webby: succeeded" in text
    step = next(line for line in text.splitlines() if "upload" in line)
    assert [cell.strip() for cell in step.split("│")[1:-1]] == ["upload", "ok", "12.5", "3 files"]
    assert "params" not in text and "started_at" not in text
