"""Docker argv builders and parsers, checked against output captured from the testbed's engine (20.10, CLI 28)."""

from __future__ import annotations

import json

import pytest

from tomo.errors import CommandFailed
from tomo.lib.docker import commands, parse

PS_LINE = (
    '{"Command":"\\"/bin/httpd -f -p 80 -h /www\\"","CreatedAt":"2026-11-25 13:41:20 +0000 UTC",'
    '"ID":"ab3fecbf6b8854c72f60da13bab06028b13979df57558bccc1148e47242b1deb","Image":"tomo-test/busybox:1",'
    '"Labels":"com.docker.compose.project=probe,com.docker.compose.service=web,org.opencontainers.image.version=1",'
    '"Names":"tomo-parse-probe","Ports":"80/tcp","State":"running","Status":"Up 1 second (healthy)"}'
)
#: `docker run --label 'a=1,2' --label b=x ...`: Docker joins the labels with commas it does not escape.
COMMA_LABELS = "a=1,2,b=x,org.opencontainers.image.title=tomo-test/busybox:1,org.opencontainers.image.version=1"
STATS_LINE = (
    '{"BlockIO":"0B / 0B","CPUPerc":"0.25%","Container":"tomo-parse-probe","ID":"ab3fecbf6b88",'
    '"MemPerc":"0.00%","MemUsage":"948KiB / 23.54GiB","Name":"tomo-parse-probe","NetIO":"646B / 0B","PIDs":"1"}'
)
#: `docker logs --timestamps` of a container echoing out1, err1, out2, err2... (stdout and stderr captured apart).
LOG_OUT = "2026-12-04T18:04:26.926039256Z out1\n2026-12-04T18:04:26.926053567Z out2\n"
LOG_ERR = "2026-12-04T18:04:26.926081739Z err1\n2026-12-04T18:04:26.926062110Z err0\n"


def test_ps_filters_one_project_or_every_compose_project_and_asks_for_json() -> None:
    assert commands.ps(all_containers=True, project="jellyfin") == [
        "docker", "ps", "--no-trunc", "--format", "{{json .}}", "--all",
        "--filter", "label=com.docker.compose.project=jellyfin",
    ]  # fmt: skip
    assert commands.ps(all_containers=True, compose_only=True)[-2:] == ["--filter", "label=com.docker.compose.project"]
    assert "--filter" not in commands.ps()


def test_inspect_takes_several_containers_after_double_dash() -> None:
    assert commands.inspect("container", "a-1", "b-1") == [
        "docker", "container", "inspect", "--format", "{{json .}}", "--", "a-1", "b-1"]
    with pytest.raises(ValueError, match="at least one"):
        commands.inspect("container")


def test_identifiers_follow_double_dash() -> None:
    assert commands.logs("web-1", 50, since="10m")[-2:] == ["--", "web-1"]
    assert commands.container_action("rm", "web-1", force=True) == ["docker", "rm", "--force", "--", "web-1"]
    assert commands.pull("nginx:1.27") == ["docker", "pull", "--", "nginx:1.27"]
    assert commands.remove_volumes(["web_db", "web_cache"]) == ["docker", "volume", "rm", "--", "web_db", "web_cache"]
    assert commands.run_once("img:1", ["-rf", "--", "/t/x"], user="0:0", entrypoint="rm", volume="/a:/t") == [
        "docker", "run", "--rm", "--network", "none", "--cap-drop", "ALL", "--cap-add", "DAC_OVERRIDE",
        "--cap-add", "FOWNER", "--security-opt", "no-new-privileges", "--user", "0:0",
        "--entrypoint", "rm", "--volume", "/a:/t", "--", "img:1", "-rf", "--", "/t/x"]  # fmt: skip


def test_unknown_actions_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        commands.container_action("kill -9", "x")
    with pytest.raises(ValueError, match="unknown"):
        commands.prune("everything")
    with pytest.raises(ValueError, match="unknown"):
        commands.compose_action("x", "/d", "down")


def test_compose_up_names_project_directory_and_waits() -> None:
    argv = commands.compose_up("jellyfin", "/opt/tomo/apps/jellyfin", 120)
    assert argv[:8] == ["docker", "compose", "--project-name", "jellyfin", "--project-directory",
                        "/opt/tomo/apps/jellyfin", "--file", "/opt/tomo/apps/jellyfin/compose.yaml"]
    assert argv[-7:] == ["up", "--detach", "--wait", "--wait-timeout", "120", "--remove-orphans", "--quiet-pull"]


def test_compose_down_needs_no_compose_file() -> None:
    assert commands.compose_down("web", "/srv/apps/web") == [
        "docker", "compose", "--project-name", "web", "--project-directory", "/srv/apps/web", "down",
        "--remove-orphans"]  # fmt: skip
    assert commands.compose_down("web", "/srv/apps/web", remove_volumes=True)[-1] == "--volumes"


@pytest.mark.parametrize(("status", "health"), [
    ("Up 5 seconds (healthy)", "healthy"),
    ("Up 5 seconds (unhealthy)", "unhealthy"),
    ("Up 5 seconds (health: starting)", "starting"),
    ("Up 4 seconds", None),
    ("Exited (3) 6 seconds ago", None),
    ("Restarting (2) Less than a second ago", None),
    ("Up 2 minutes (Paused)", None),
])  # fmt: skip
def test_health_is_read_from_the_status_docker_prints(status: str, health: str | None) -> None:
    assert parse.health(status) == health


@pytest.mark.parametrize(("status", "code"), [
    ("Exited (3) 6 seconds ago", 3), ("Exited (137) 5 seconds ago", 137), ("Exited (-1) 1 second ago", -1),
    ("Restarting (2) Less than a second ago", None), ("Up 5 seconds (healthy)", None), ("Created", None),
])  # fmt: skip
def test_exit_code_is_read_only_from_an_exited_status(status: str, code: int | None) -> None:
    assert parse.exit_code(status) == code


def test_a_label_value_with_a_comma_stays_whole() -> None:
    assert parse.labels(COMMA_LABELS) == {"a": "1,2", "b": "x", "org.opencontainers.image.title": "tomo-test/busybox:1",
                                          "org.opencontainers.image.version": "1"}
    assert parse.labels("") == {}


def test_ps_row_becomes_a_compact_summary() -> None:
    summary = parse.container(parse.json_lines(PS_LINE + "\n")[0])
    assert (summary.id, summary.name, summary.state, summary.health) == (
        "ab3fecbf6b88", "tomo-parse-probe", "running", "healthy")
    assert (summary.project, summary.service) == ("probe", "web")


def test_ps_rows_group_into_projects_sorted_by_service() -> None:
    exited = json.loads(PS_LINE) | {"Names": "probe-db-1", "State": "exited", "Status": "Exited (3) 6 seconds ago",
                                    "Labels": "com.docker.compose.project=probe,com.docker.compose.service=db"}
    loose = json.loads(PS_LINE) | {"Names": "loose", "Labels": ""}
    text = "\n".join([PS_LINE, json.dumps(exited), "WARNING: not json", json.dumps(loose)])
    grouped = parse.projects(text)
    assert sorted(grouped) == ["", "probe"]
    db, web = grouped["probe"]
    assert (db.service, db.container, db.state, db.exit_code, db.health) == ("db", "probe-db-1", "exited", 3, None)
    assert (web.service, web.state, web.health, web.exit_code) == ("web", "running", "healthy", None)


def test_inspect_documents_give_states_with_restarts_and_skip_what_is_not_json() -> None:
    doc = {"Name": "/probe-web-1", "RestartCount": 2, "Config": {"Image": "tomo-test/busybox:1",
           "Labels": {"com.docker.compose.service": "web"}},
           "State": {"Status": "running", "ExitCode": 0, "Health": {"Status": "starting"}}}  # fmt: skip
    text = json.dumps(doc) + "\nError: No such container: gone\n"
    [state] = parse.inspected_states(text)
    assert (state.service, state.container, state.health, state.restarts, state.exit_code) == (
        "web", "probe-web-1", "starting", 2, 0)


def test_logs_interleave_by_time_as_docker_prints_it() -> None:
    lines, dropped = parse.merge_logs(LOG_OUT, LOG_ERR, 100)
    assert [line.split(" ", 1)[1] for line in lines] == ["out1", "out2", "err0", "err1"]
    assert dropped is False


def test_logs_with_trimmed_fractions_sort_by_time_not_by_text() -> None:
    # "…:00.5Z" sorts before "…:00.25Z" as text; by time it is after.
    lines, _ = parse.merge_logs("2026-11-25T10:00:00.5Z late\n2026-11-25T10:00:01Z later\n",
                                "2026-11-25T10:00:00.25Z early\n", 10)
    assert [line.split(" ", 1)[1] for line in lines] == ["early", "late", "later"]


def test_logs_with_an_offset_sort_by_the_instant() -> None:
    lines, _ = parse.merge_logs("2026-11-25T11:00:00.2+01:00 second\n", "2026-11-25T10:00:00.1Z first\n", 10)
    assert [line.split(" ", 1)[1] for line in lines] == ["first", "second"]


def test_logs_of_equal_time_keep_their_order_and_stdout_comes_first() -> None:
    stamp = "2026-12-04T18:04:26.926039256Z"
    lines, _ = parse.merge_logs(f"{stamp} o1\n{stamp} o2\n", f"{stamp} e1\n", 10)
    assert [line.split(" ", 1)[1] for line in lines] == ["o1", "o2", "e1"]


def test_logs_keep_the_last_lines_and_say_when_older_ones_were_left_out() -> None:
    lines, dropped = parse.merge_logs(LOG_OUT, LOG_ERR, 2)
    assert [line.split(" ", 1)[1] for line in lines] == ["err0", "err1"] and dropped is True
    assert parse.merge_logs(LOG_OUT, "", 0) == ([], True)


def test_a_log_line_cut_by_the_output_bound_comes_first() -> None:
    lines, _ = parse.merge_logs("6039256Z cut\n2026-12-04T18:04:26.926053567Z out2\n\n", LOG_ERR, 10)
    assert lines[0] == "6039256Z cut" and len(lines) == 4


def test_stats_row_parses_sizes_and_percentages() -> None:
    stats = parse.container_stats(parse.json_lines(STATS_LINE)[0])
    assert stats.cpu_percent == 0.25
    assert stats.memory_usage_bytes == 948 * 1024
    assert stats.memory_limit_bytes == int(23.54 * 1024**3)
    assert stats.pids == 1


def test_json_lines_accepts_lines_and_arrays() -> None:
    assert len(parse.json_lines(PS_LINE + "\n" + PS_LINE)) == 2
    assert parse.json_lines("[" + PS_LINE + "]")[0]["Names"] == "tomo-parse-probe"


def test_unreadable_output_is_a_command_failure() -> None:
    with pytest.raises(CommandFailed, match="cannot read"):
        parse.json_lines("Error: not json")
    assert parse.json_lines("  \n") == []
    assert parse.json_lines("Error: not json\n" + PS_LINE, lenient=True)[0]["Names"] == "tomo-parse-probe"
