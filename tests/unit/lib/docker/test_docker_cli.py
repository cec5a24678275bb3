"""Docker argv builders and JSON parsers, checked against output captured from the testbed's engine."""

from __future__ import annotations

import pytest

from tomo.errors import CommandFailed
from tomo.lib.docker import commands, parse

PS_LINE = (
    '{"Command":"\\"/bin/httpd -f -p 80 -h /www\\"","CreatedAt":"2026-11-25 13:41:20 +0000 UTC",'
    '"ID":"ab3fecbf6b8854c72f60da13bab06028b13979df57558bccc1148e47242b1deb","Image":"tomo-test/busybox:1",'
    '"Labels":"com.docker.compose.project=probe,com.docker.compose.service=web,org.opencontainers.image.version=1",'
    '"Names":"tomo-parse-probe","Ports":"80/tcp","State":"running","Status":"Up 1 second (healthy)"}'
)
STATS_LINE = (
    '{"BlockIO":"0B / 0B","CPUPerc":"0.25%","Container":"tomo-parse-probe","ID":"ab3fecbf6b88",'
    '"MemPerc":"0.00%","MemUsage":"948KiB / 23.54GiB","Name":"tomo-parse-probe","NetIO":"646B / 0B","PIDs":"1"}'
)
COMPOSE_PS_LINE = (
    '{"ExitCode":0,"Health":"","ID":"9df550598363","Image":"tomo-test/busybox:1","Name":"cprobe-web-1",'
    '"Project":"cprobe","Publishers":[{"URL":"0.0.0.0","TargetPort":80,"PublishedPort":18080,"Protocol":"tcp"}],'
    '"Service":"web","State":"running","Status":"Up Less than a second"}'
)


def test_ps_filters_one_project_and_asks_for_json() -> None:
    assert commands.ps(all_containers=True, project="jellyfin") == [
        "docker", "ps", "--no-trunc", "--format", "{{json .}}", "--all",
        "--filter", "label=com.docker.compose.project=jellyfin",
    ]


def test_identifiers_follow_double_dash() -> None:
    assert commands.logs("web-1", 50, since="10m")[-2:] == ["--", "web-1"]
    assert commands.container_action("rm", "web-1", force=True) == ["docker", "rm", "--force", "--", "web-1"]
    assert commands.pull("nginx:1.27") == ["docker", "pull", "--", "nginx:1.27"]


def test_unknown_actions_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        commands.container_action("kill -9", "x")
    with pytest.raises(ValueError, match="unknown"):
        commands.prune("everything")


def test_compose_up_names_project_directory_and_waits() -> None:
    argv = commands.compose_up("jellyfin", "/opt/tomo/apps/jellyfin", 120)
    assert argv[:8] == ["docker", "compose", "--project-name", "jellyfin", "--project-directory",
                        "/opt/tomo/apps/jellyfin", "--file", "/opt/tomo/apps/jellyfin/compose.yaml"]
    assert argv[-7:] == ["up", "--detach", "--wait", "--wait-timeout", "120", "--remove-orphans", "--quiet-pull"]
    assert "--volumes" in commands.compose_down("x", "/d", remove_volumes=True)
    assert "--volumes" not in commands.compose_down("x", "/d", remove_volumes=False)


def test_ps_row_becomes_a_compact_summary() -> None:
    summary = parse.container(parse.json_lines(PS_LINE + "\n")[0])
    assert (summary.id, summary.name, summary.state, summary.health) == (
        "ab3fecbf6b88", "tomo-parse-probe", "running", "healthy")
    assert (summary.project, summary.service) == ("probe", "web")


def test_stats_row_parses_sizes_and_percentages() -> None:
    stats = parse.container_stats(parse.json_lines(STATS_LINE)[0])
    assert stats.cpu_percent == 0.25
    assert stats.memory_usage_bytes == 948 * 1024
    assert stats.memory_limit_bytes == int(23.54 * 1024**3)
    assert stats.pids == 1


def test_compose_ps_accepts_lines_and_arrays() -> None:
    rows = parse.json_lines(COMPOSE_PS_LINE + "\n" + COMPOSE_PS_LINE)
    assert len(rows) == 2
    assert parse.json_lines("[" + COMPOSE_PS_LINE + "]")[0]["Service"] == "web"
    service = parse.compose_service(rows[0])
    assert (service.service, service.state, service.health, service.exit_code) == ("web", "running", None, 0)
    assert service.publishers[0]["PublishedPort"] == 18080


def test_unreadable_output_is_a_command_failure() -> None:
    with pytest.raises(CommandFailed, match="cannot read"):
        parse.json_lines("Error: not json")
    assert parse.json_lines("  \n") == []
