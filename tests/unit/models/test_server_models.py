"""Server input validation (constrained types) and the system-info parsers, without any SSH."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from tomo.errors import ValidationError
from tomo.models.server import (
    NOT_INSTALLED,
    AuthType,
    Fingerprint,
    Host,
    ServerName,
    Username,
    build_credentials,
    check_apps_root,
    is_loopback_literal,
)
from tomo.services.servers.system_info import (
    detect_family,
    parse_disk,
    parse_facts,
    parse_os_release,
    parse_system_info,
    system_info_argv,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOST, NAME, USERNAME, FINGERPRINT = (TypeAdapter(t) for t in (Host, ServerName, Username, Fingerprint))


@pytest.mark.parametrize(
    ("given", "stored"),
    [("192.168.1.10", "192.168.1.10"), (" NAS.lan. ", "nas.lan"), ("[fd00::0001]", "fd00::1"), ("pi-4", "pi-4")],
)
def test_host_accepts_names_and_addresses_in_canonical_form(given: str, stored: str) -> None:
    assert HOST.validate_python(given) == stored


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "nas.lan:22", "a b", "nas;touch /tmp/x", "$(id)", "-oProxyCommand=x", "x..y", "256.1.1.1",
     "fe80::1%eth0", "a" * 64 + ".lan", "host\nname"],
)  # fmt: skip
def test_host_rejects_what_is_not_a_hostname_or_ip(bad: str) -> None:
    with pytest.raises(PydanticValidationError) as caught:
        HOST.validate_python(bad)
    message = caught.value.errors()[0]["msg"]
    assert "DNS name" in message or "host is required" in message or "zone" in message or "at most" in message


@pytest.mark.parametrize("host", ["localhost", "api.localhost", "127.0.0.1", "127.8.9.10", "::1", "0.0.0.0", "::",  # noqa: S104
                                  "::ffff:127.0.0.1"])  # fmt: skip
def test_loopback_literals_are_recognised(host: str) -> None:
    assert is_loopback_literal(HOST.validate_python(host))


@pytest.mark.parametrize("host", ["10.231.0.2", "nas.lan", "192.168.1.1", "fd00::1"])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback_literal(host)


@pytest.mark.parametrize("bad", ["root;id", "$(id)", "a b", "x'y", "-oops", "1abc", "a" * 33, "", "tab\tname"])
def test_username_rejects_shell_characters_and_bad_syntax(bad: str) -> None:
    with pytest.raises(PydanticValidationError, match=r"username must be|at most 32"):
        USERNAME.validate_python(bad)


@pytest.mark.parametrize("good", ["root", "tomo-admin", "_svc", "pi.user", "Admin"])
def test_username_accepts_posix_login_names(good: str) -> None:
    assert USERNAME.validate_python(good) == good


@pytest.mark.parametrize("bad", ["", "-nas", "my nas", "nas;x", "0123456789abcdef0123456789abcdef"])
def test_server_name_rejects_bad_syntax_and_id_lookalikes(bad: str) -> None:
    with pytest.raises(PydanticValidationError, match="server name"):
        NAME.validate_python(bad)


def test_fingerprint_is_normalised_without_padding() -> None:
    value = "SHA256:" + "a" * 43
    assert FINGERPRINT.validate_python(f" {value}= ") == value
    with pytest.raises(PydanticValidationError, match="SHA256"):
        FINGERPRINT.validate_python("MD5:aa:bb")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"auth_type": "password"}, "needs password"),
        ({"auth_type": "key"}, "needs private_key"),
        ({"auth_type": "password", "password": "pw", "private_key": "k"}, "takes only password"),
        ({"auth_type": "key", "private_key": "k", "password": "pw"}, "not password"),
        ({"auth_type": "password", "password": ""}, "password is empty"),
        ({"auth_type": "telnet", "password": "pw"}, "'password' or 'key'"),
    ],
)
def test_credentials_must_fit_the_auth_type(fields: dict[str, str], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem) as caught:
        build_credentials(**fields)
    assert "pw" not in caught.value.message.replace("password", "")


def test_credentials_hide_secrets_in_repr() -> None:
    credentials = build_credentials(auth_type="password", password="hunter2-secret")
    assert credentials.auth_type is AuthType.PASSWORD
    assert "hunter2-secret" not in repr(credentials) and "hunter2-secret" not in str(credentials.model_dump())
    assert credentials.secrets() == {"password": "hunter2-secret", "private_key": None, "passphrase": None}


@pytest.mark.parametrize("good", ["/opt/tomo/apps", "/srv/apps/", "/data/tomo_apps-1", "/tmp/x/../y/apps"])
def test_apps_root_accepts_plain_absolute_paths(good: str) -> None:
    assert check_apps_root(good).startswith("/")


@pytest.mark.parametrize(
    "bad", ["opt/apps", "/", "/etc", "/opt/apps; touch /tmp/x", "/opt/$(id)", "/opt/a b", "/opt/`id`", "/opt/a\nb",
            "/tmp/../etc", "/usr"],
)  # fmt: skip
def test_apps_root_rejects_relative_system_and_shell_paths(bad: str) -> None:
    with pytest.raises(ValidationError, match="update_settings"):
        check_apps_root(bad)


# -- system info parsing --------------------------------------------------------------------------

DEBIAN_OUTPUT = """
@@os-release
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
ID=debian

@@hostname
vm

@@arch
x86_64

@@kernel
6.1.0-18-amd64

@@cpus
4

@@meminfo
MemTotal:       24684092 kB

@@disk
Filesystem     1024-blocks     Used Available Capacity Mounted on
/dev/vda         264212084 23447304  82943608      23% /

@@docker
28.2.2|20.10.24+dfsg1

@@compose
v2.29.1

@@end
"""


def test_system_info_is_parsed_from_one_output() -> None:
    info = parse_system_info(DEBIAN_OUTPUT, NOW)
    assert (info.os, info.hostname, info.architecture, info.kernel, info.cpu_count) == (
        "Debian GNU/Linux 12 (bookworm)", "vm", "x86_64", "6.1.0-18-amd64", 4)  # fmt: skip
    assert info.memory_total == 24684092 * 1024
    assert (info.disk.total_bytes, info.disk.free_bytes) == (264212084 * 1024, 82943608 * 1024)
    docker = (info.docker_version, info.docker_daemon_reachable, info.compose_version)
    assert docker == ("20.10.24+dfsg1", True, "2.29.1")


def test_system_info_without_docker_says_not_installed() -> None:
    output = "@@os-release\nID=alpine\nNAME=Alpine\n@@hostname\npi\n@@arch\naarch64\n@@kernel\n6.6\n@@end\n"
    info = parse_system_info(output, NOW)
    assert info.os == "Alpine"
    assert (info.docker_version, info.compose_version, info.docker_daemon_reachable) == (NOT_INSTALLED,) * 2 + (False,)
    assert (info.cpu_count, info.memory_total, info.disk.total_bytes) == (None, None, None)


def test_system_info_with_unreachable_daemon_reports_the_client_version() -> None:
    output = "@@docker\n24.0.7|\nDocker version 24.0.7, build afdd53b\n@@compose\n\n@@end"
    info = parse_system_info(output, NOW)
    assert (info.docker_version, info.docker_daemon_reachable, info.compose_version) == ("24.0.7", False, NOT_INSTALLED)
    assert info.os == "unknown"


def test_old_docker_without_a_version_template_falls_back_to_docker_version() -> None:
    info = parse_system_info("@@docker\nDocker version 18.09.1, build 4c52b90\n@@end", NOW)
    assert (info.docker_version, info.docker_daemon_reachable) == ("18.09.1", False)


def test_disk_columns_are_read_from_the_right() -> None:
    df = "Filesystem 1024-blocks Used Available Capacity Mounted on\nmy disk (x) 1000 400 600 40% /\n"
    disk = parse_disk(df)
    assert (disk.path, disk.total_bytes, disk.free_bytes) == ("/", 1000 * 1024, 600 * 1024)
    assert parse_disk("garbage").total_bytes is None


def test_os_release_quotes_are_removed() -> None:
    assert parse_os_release("ID='arch'\nID_LIKE=\"rhel fedora\"\n# comment\nbad line\n") == {
        "ID": "arch", "ID_LIKE": "rhel fedora"}  # fmt: skip


def test_system_info_script_is_a_constant_single_argument() -> None:
    argv = system_info_argv()
    assert argv[:2] == ["sh", "-c"] and len(argv) == 3 and argv == system_info_argv()


@pytest.mark.parametrize(
    ("release", "commands", "family"),
    [
        ("ID=ubuntu\nID_LIKE=debian", {"apt-get"}, ("apt", "apt-get")),
        ("ID=rocky\nID_LIKE=\"rhel centos fedora\"", {"dnf"}, ("dnf", "dnf")),
        ("ID=centos", {"yum"}, ("dnf", "yum")),
        ("ID=alpine", {"apk"}, ("apk", "apk")),
        ("ID=endeavouros\nID_LIKE=arch", {"pacman"}, ("pacman", "pacman")),
        ("ID=mystery", {"pacman"}, ("pacman", "pacman")),
        ("ID=debian", set(), None),
    ],
)
def test_distribution_family_comes_from_os_release_then_tools(
    release: str, commands: set[str], family: tuple[str, str] | None
) -> None:
    facts = parse_facts("uid=1000\n" + "".join(f"has={c}\n" for c in commands) + "@@os-release\n" + release)
    assert detect_family(facts) == family


def test_facts_are_parsed() -> None:
    facts = parse_facts(
        "uid=1001\ngroups=tomo-admin sudo docker\narch=x86_64\nhas=apt-get\nhas=systemctl\nsudo=ok\n"
        "docker_client=Docker version 28.2.2, build e6534b4\ndocker_server=20.10.24+dfsg1\ncompose=5.6.1\n"
        "disk_free_kb=1024\n@@os-release\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n"
    )
    assert (facts.uid, facts.groups, facts.arch, facts.sudo_ok) == (1001, {"tomo-admin", "sudo", "docker"}, "x86_64",
                                                                    True)  # fmt: skip
    assert (facts.docker_client, facts.docker_server, facts.compose, facts.disk_free) == (
        "28.2.2", "20.10.24+dfsg1", "5.6.1", 1024 * 1024)  # fmt: skip
    assert facts.commands == {"apt-get", "systemctl"} and facts.os_name == "Debian GNU/Linux 12 (bookworm)"
