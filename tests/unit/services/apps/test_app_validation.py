"""Input checks and the server-side checks (ports, architecture, disk, name) on parsed probe output."""

from __future__ import annotations

from typing import Any

from tests.appkit import FIXTURE_CATALOG, facts_output

from tomo.lib.catalog import import_catalog
from tomo.models.installation import PublishedPort
from tomo.models.marketplace import AppInput, InputOption
from tomo.services.apps.checks import check_server, parse_facts, resolve_inputs

APPS = {app.id: app for app in import_catalog(FIXTURE_CATALOG).apps}
WEB = PublishedPort(service="web", container_port=80, host_port=18080, main=True)


def one(item: AppInput, value: Any) -> tuple[str | None, list[str]]:
    result = resolve_inputs([item], {item.key: value} if value is not None else {}, {})
    return result.values.get(item.env_name), result.errors


def test_required_inputs_must_be_given() -> None:
    value, errors = one(AppInput(key="ADMIN", label="Admin", required=True), None)
    assert value is None and errors == ["input ADMIN (Admin) is required"]
    assert one(AppInput(key="ADMIN", label="Admin", required=True, default="root"), None) == ("root", [])


def test_numbers_are_checked_against_their_range() -> None:
    item = AppInput(key="N", label="N", type="number", min=1, max=10)
    assert one(item, "7") == ("7", [])
    assert one(item, 2.5) == ("2.5", [])
    assert one(item, 11)[1] == ["input N must be at most 10"]
    assert one(item, "many")[1] == ["input N must be a number"]
    assert one(item, True)[1] == ["input N must be a number"]


def test_booleans_selects_emails_and_urls() -> None:
    assert one(AppInput(key="B", label="B", type="boolean"), "yes") == ("true", [])
    assert one(AppInput(key="B", label="B", type="boolean"), False) == ("false", [])
    assert one(AppInput(key="B", label="B", type="boolean"), "maybe")[1] == ["input B must be true or false"]
    select = AppInput(key="S", label="S", type="select", options=[InputOption(value="a", label="A")])
    assert one(select, "a") == ("a", []) and "one of: 'a'" in one(select, "b")[1][0]
    assert one(AppInput(key="E", label="E", type="email"), "me@x.org") == ("me@x.org", [])
    assert "email" in one(AppInput(key="E", label="E", type="email"), "nope")[1][0]
    assert "URL" in one(AppInput(key="U", label="U", type="url"), "ftp://x")[1][0]


def test_lengths_and_patterns_are_checked() -> None:
    item = AppInput(key="T", label="T", min_length=3, max_length=5, regex="^[a-z]+$", regex_error="lowercase only")
    assert one(item, "abcd") == ("abcd", [])
    assert one(item, "ab")[1] == ["input T must be at least 3 characters long"]
    assert one(item, "ABCD")[1] == ["input T: lowercase only"]


def test_control_characters_are_refused() -> None:
    assert "control characters" in one(AppInput(key="T", label="T"), "a\x00b")[1][0]


def test_unknown_inputs_are_errors_on_install_and_dropped_on_update() -> None:
    inputs = APPS["vault"].inputs
    strict = resolve_inputs(inputs, {"NOPE": 1}, {"ADMIN_PASSWORD": "long-enough"})
    assert strict.errors == ["unknown input 'NOPE'; this app's inputs are: ADMIN_PASSWORD, ADMIN_TOKEN, GREETING, PIN"]
    assert resolve_inputs(inputs, {"NOPE": 1}, {"ADMIN_PASSWORD": "long-enough"}, strict=False).errors == []


def test_secrets_are_generated_and_passwords_kept_secret() -> None:
    result = resolve_inputs(APPS["vault"].inputs, {"GREETING": "hi"}, {"ADMIN_PASSWORD": "long-enough"})
    assert result.errors == [] and result.generated == ["ADMIN_TOKEN"]
    assert len(result.values["ADMIN_TOKEN"]) == 40
    assert set(result.secrets) == {"ADMIN_TOKEN", "ADMIN_PASSWORD"} and result.plain == {"GREETING": "hi", "PIN": ""}
    again = resolve_inputs(APPS["vault"].inputs, {}, {"ADMIN_PASSWORD": "long-enough", "ADMIN_TOKEN": "kept"})
    assert again.values["ADMIN_TOKEN"] == "kept" and again.generated == []


def test_a_password_given_in_inputs_is_still_a_secret() -> None:
    result = resolve_inputs(APPS["vault"].inputs, {"ADMIN_PASSWORD": "long-enough"}, {})
    assert "ADMIN_PASSWORD" in result.secrets and "ADMIN_PASSWORD" not in result.plain


def test_probe_output_is_parsed() -> None:
    facts = parse_facts(facts_output(entries=["data"], volumes=["web_cache"], listening=[22, 8080], containers=[
        {"Names": "other-web-1", "Ports": "0.0.0.0:9000->80/tcp, :::9000->80/tcp, 0.0.0.0:5353->53/udp",
         "Labels": "com.docker.compose.project=other"}]))
    assert (facts.architecture, facts.uid, facts.gid, facts.timezone) == ("amd64", "1001", "1001", "Europe/Paris")
    assert facts.tcp_ports == {22, 8080} and facts.project_entries == ["data"] and facts.volumes == {"web_cache"}
    assert facts.published == {(9000, "tcp"): "other", (5353, "udp"): "other"} and facts.projects == {"other"}
    assert facts.free_bytes == 50_000_000 * 1024 and facts.compose_version == "2.29.1"
    assert parse_facts(facts_output()).project_entries is None


def test_ports_in_use_are_errors_whoever_holds_them() -> None:
    app = APPS["webby"]
    listening = check_server(app, "web", [WEB.model_copy(update={"host_port": 22})], parse_facts(facts_output()), {})
    assert "host port 22/tcp (web:80) is already in use" in listening.errors[0] and "'main'" in listening.errors[0]
    published = parse_facts(facts_output(containers=[{"Names": "x", "Ports": "0.0.0.0:18080->80/tcp", "Labels": ""}]))
    assert "published by 'x'" in check_server(app, "web", [WEB], published, {}).errors[0]
    taken = check_server(app, "web", [WEB], parse_facts(facts_output()), {(18080, "tcp"): "jellyfin"})
    assert "used by the installation 'jellyfin'" in taken.errors[0]
    assert check_server(app, "web", [WEB], parse_facts(facts_output()), {}).errors == []


def test_architecture_disk_and_docker_are_checked() -> None:
    app = APPS["webby"].model_copy(update={"architectures": ["arm64"]})
    found = check_server(app, "web", [], parse_facts(facts_output(free_kb=1000)), {})
    assert any("architecture is amd64" in e for e in found.errors)
    assert any("MiB free" in e for e in found.errors)
    no_docker = facts_output().replace("2.29.1", "docker: 'compose' is not a docker command.")
    assert "prepare_server" in check_server(APPS["webby"], "web", [], parse_facts(no_docker), {}).errors[0]
    odd = check_server(APPS["webby"], "web", [], parse_facts(facts_output(machine="mips")), {})
    assert odd.errors == [] and "unknown CPU architecture" in odd.warnings[0]


def test_name_must_be_free_and_old_data_is_reused_with_a_warning() -> None:
    app = APPS["webby"]
    other = parse_facts(facts_output(containers=[{"Names": "web-web-1", "Labels": "com.docker.compose.project=web"}]))
    assert "already has containers" in check_server(app, "web", [], other, {}).errors[0]
    assert "holds files" in check_server(app, "web", [], parse_facts(facts_output(entries=["x.txt"])), {}).errors[0]
    reuse = check_server(app, "web", [], parse_facts(facts_output(entries=["data"])), {})
    assert reuse.errors == [] and "will be reused" in reuse.warnings[0]


def test_a_missing_or_read_only_apps_folder_says_to_run_prepare_server() -> None:
    def with_root(state: str) -> list[str]:
        text = facts_output().replace("@@compose", f"@@root\n{state}\n@@compose")
        facts = parse_facts(text)
        assert facts.apps_root == state
        return check_server(APPS["webby"], "web", [], facts, {}).errors

    assert with_root("writable") == []
    missing, read_only = with_root("missing"), with_root("read-only")
    assert len(missing) == 1 and "does not exist" in missing[0] and "prepare_server" in missing[0]
    assert len(read_only) == 1 and "cannot write" in read_only[0] and "prepare_server" in read_only[0]
