"""A model of one server for the app services' tests, answering the recording runner of tests/fakes.py.

The "server" keeps the Compose projects' containers (set by a successful `up`, cleared by `down`), the
volumes, the paths that exist and the files written. Tests script answers by kind of command (``fail``)
and read the runner's recorded calls (``kinds(runner)``, ``commands(runner, kind)``) to check order and
quoting.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.appkit import FIXTURE_CATALOG, facts_output
from tests.fakes import Call, OnOutput, RecordingRunner
from tomo.database.types import utcnow
from tomo.errors import TomoError
from tomo.lib.catalog import import_catalog
from tomo.lib.ssh import CommandResult
from tomo.main import TomoApp
from tomo.models.installation import HttpCheck
from tomo.models.marketplace import CatalogApp
from tomo.models.server import ServerCreate, ServerCredentials
from tomo.services.apps.remote import AppRemote
from tomo.services.apps.service import AppService

_FILE_KINDS = {"put_file": "put", "makedirs": "mkdir", "get_file": "get"}


def classify(argv: Sequence[str]) -> str:
    """A short name for a command, for scripting and assertions."""
    if argv[:2] == ["sh", "-c"]:
        return {"tomo-facts": "facts", "tomo-stop-up": "kill"}.get(argv[3], "up")
    if argv[:2] == ["docker", "compose"]:
        verb = next(a for a in argv[2:] if a in {"down", "start", "stop", "restart", "pull", "up", "logs"})
        return f"compose-{verb}"
    if argv[0] == "docker":
        return {"ps": "ps", "logs": "logs", "run": "helper"}.get(argv[1]) or (
            "inspect" if argv[1:3] == ["container", "inspect"] else f"volume-{argv[2]}")
    if argv[0] == "sudo":
        return "sudo-rm"
    return {"rm": "rm", "test": "exists", "kill": "kill", "cp": "cp", "rmdir": "rmdir"}[argv[0]]


def kinds(runner: RecordingRunner) -> list[str]:
    """Each recorded operation's short name: the command's kind, or put / mkdir / get for a file."""
    return [_FILE_KINDS.get(call.op) or classify(call.argv) for call in runner.calls]


def commands(runner: RecordingRunner, *names: str) -> list[list[str]]:
    """The argv of each recorded command of these kinds (all commands without a kind), in order."""
    return [argv for argv in runner.argvs() if not names or classify(argv) in names]


Failure = CommandResult | TomoError | Callable[[], Awaitable[CommandResult]]


@dataclass
class FakeServer:
    """The model of the remote machine, and its answers to the app services' commands."""

    facts: str = field(default_factory=facts_output)
    containers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    volumes: set[str] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)
    root_owned: set[str] = field(default_factory=set)
    sudo: bool = True
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    fail: dict[str, list[Failure]] = field(default_factory=dict)
    up_lines: list[str] = field(default_factory=lambda: [" Container x Started", " Container x Healthy"])

    def runner(self) -> RecordingRunner:
        """The recording runner answering from this server (files written land in ``files``)."""
        return RecordingRunner(self.answer, stream=self.stream, on_file=self.on_file, files=self.files)

    async def answer(self, argv: list[str]) -> CommandResult:
        kind = classify(argv)
        return await self._scripted(kind) or self._answer(kind, argv)

    async def _scripted(self, kind: str) -> CommandResult | None:
        queue = self.fail.get(kind)
        if not queue:
            return None
        failure = queue.pop(0)
        if isinstance(failure, TomoError):
            raise failure
        if isinstance(failure, CommandResult):
            return failure
        return await failure()

    def _answer(self, kind: str, argv: list[str]) -> CommandResult:
        project = argv[argv.index("--project-name") + 1] if "--project-name" in argv else ""
        out = ""
        if kind == "facts":
            out = self.facts
        elif kind == "ps":
            out = self._ps(argv)
        elif kind == "inspect":
            out = self._inspect(argv[argv.index("--") + 1:])
        elif kind == "logs":
            out = f"{utcnow().isoformat()} log of {argv[-1]}\n"
        elif kind == "compose-down":
            self.containers.pop(project, None)
        elif kind == "volume-ls":
            name = argv[-1].rsplit("=", 1)[-1]
            out = "".join(f"{v}\n" for v in sorted(self.volumes) if v.startswith(name + "_"))
        elif kind == "volume-rm":
            self.volumes -= set(argv[3:])
        elif kind in ("rm", "sudo-rm", "helper"):
            return self._remove(kind, argv)
        elif kind == "exists":
            found = any(p == argv[-1] or p.startswith(argv[-1] + "/") for p in self.paths)
            return CommandResult(0 if found else 1, "", "", 1.0)
        elif kind == "cp":
            self.files[argv[-1]] = self.files.get(argv[-2], (b"", 0o600))
        elif kind in ("compose-stop", "compose-start", "compose-restart"):
            for c in self.containers.get(project, []):
                c["state"] = "exited" if kind == "compose-stop" else "running"
        return CommandResult(0, out, "", 1.0)

    def _ps(self, argv: list[str]) -> str:
        label = argv[argv.index("--filter") + 1].removeprefix("label=com.docker.compose.project")
        names = [label[1:]] if label else sorted(self.containers)
        return "".join(json.dumps({"Names": c["name"], "State": c["state"], "Image": c["image"], "Status": "Up",
                                   "Labels": f"com.docker.compose.project={name},"
                                             f"com.docker.compose.service={c['service']}"}) + "\n"
                       for name in names for c in self.containers.get(name, []))  # fmt: skip

    def _inspect(self, names: list[str]) -> str:
        rows = [c for cs in self.containers.values() for c in cs if c["name"] in names]
        return "".join(json.dumps({"Name": "/" + c["name"], "RestartCount": c.get("restarts", 0),
                                   "State": {"Status": c["state"], "ExitCode": 0},
                                   "Config": {"Image": c["image"],
                                              "Labels": {"com.docker.compose.service": c["service"]}}}) + "\n"
                       for c in rows)  # fmt: skip

    def _remove(self, kind: str, argv: list[str]) -> CommandResult:
        """rm as the SSH user cannot delete below a root-owned folder; sudo and the helper container can."""
        targets = argv[argv.index("--") + 1:] if kind != "helper" else argv[-1:]
        if kind == "helper":
            mount = next(a for a in argv if a.endswith(":/tomo-target")).split(":")[0]
            targets = [mount + targets[0].removeprefix("/tomo-target")]
        elif kind == "sudo-rm" and not self.sudo:
            return CommandResult(1, "", "sudo: a password is required", 1.0)

        def under(path: str, tops: list[str]) -> bool:
            return any(path == top or path.startswith(top + "/") for top in tops)

        def protected(path: str) -> bool:
            return kind == "rm" and any(under(path, [owned]) for owned in self.root_owned)

        blocked = any(protected(path) for path in self.paths if under(path, targets))
        self.paths = {path for path in self.paths if not under(path, targets) or protected(path)}
        for path in [path for path in self.files if under(path, targets)]:
            del self.files[path]  # in place: the runner shares this dict
        if kind != "rm":
            self.root_owned = {owned for owned in self.root_owned if not under(owned, targets)}
        return CommandResult(1 if blocked else 0, "", "Permission denied" if blocked else "", 1.0)

    async def stream(self, argv: list[str], on_output: OnOutput) -> CommandResult:
        """`up`: announces its pid, then fails as scripted (having created the containers) or starts them."""
        kind = classify(argv)
        await _emit(on_output, "stdout", "tomo-pid 4242")
        scripted = await self._scripted(kind)
        for line in self.up_lines:
            await _emit(on_output, "stderr", line)
        if kind == "up":
            self._start(argv)
        if scripted is not None:
            return scripted
        return CommandResult(0, "", "\n".join(self.up_lines), 1.0)

    def _start(self, argv: Sequence[str]) -> None:
        import yaml

        project = argv[argv.index("--project-name") + 1]
        compose_path = argv[argv.index("--file") + 1]
        doc = yaml.safe_load(self.files[compose_path][0])
        self.containers[project] = [
            {"name": f"{project}-{service}-1", "service": service, "image": spec["image"], "state": "running"}
            for service, spec in doc["services"].items()
        ]
        self.volumes |= {f"{project}_{volume}" for volume in doc.get("volumes") or {}}

    async def on_file(self, call: Call) -> None:
        """A write can be scripted to fail (kind ``put``); written files and folders exist afterwards."""
        if call.op == "put_file":
            await self._scripted("put")
        if call.op in ("put_file", "makedirs"):
            self.paths.add(call.argv[0])


async def _emit(on_output: OnOutput, stream: str, line: str) -> None:
    value = on_output(stream, line)
    if inspect.isawaitable(value):
        await value


class FakeMarketplace:
    """The test catalog's apps, by public id ``testapps/<id>``."""

    def __init__(self) -> None:
        self.apps: dict[str, CatalogApp] = {f"testapps/{app.id}": app for app in import_catalog(FIXTURE_CATALOG).apps}
        self.deprecated: set[str] = set()

    async def get_app_detail(self, app_id: str) -> dict[str, Any]:
        from tomo.errors import AppNotFound

        key = app_id if "/" in app_id else f"testapps/{app_id}"
        if key not in self.apps:
            raise AppNotFound(f"No marketplace app '{app_id}'")
        return {"id": key, "deprecated": key in self.deprecated}

    async def get_app(self, app_id: str) -> CatalogApp:
        return self.apps[(await self.get_app_detail(app_id))["id"]]


async def app_service_with_fakes(tomo_app: TomoApp, runner: RecordingRunner) -> tuple[AppService, str]:
    """Tomo's own AppService (the one the tools use) on the real database, jobs and servers, with the SSH
    runner, the catalog and the HTTP check replaced by fakes; returns it and a registered server's id."""
    await tomo_app.startup()
    services = tomo_app.services
    await services["settings_service"].update({"apps_root": "/srv/apps", "app_wait_timeout": 10})
    server, _ = await services["server_service"].add(ServerCreate(
        name="nas", host="192.0.2.10", username="admin",
        credentials=ServerCredentials.model_validate({"auth_type": "password", "password": "pw-123456"})))
    service: AppService = services["app_service"]
    remote, market = AppRemote(runner), FakeMarketplace()
    service.remote = service.deployment.remote = service.lifecycle.remote = service.status.remote = remote
    service.marketplace = service.status.marketplace = market
    service.deployment.wait_for_http = answering
    service.status.http_check = answering
    return service, server.id


async def answering(url: str, budget: float = 0.0, timeout: float = 0.0) -> HttpCheck:
    """Stands in for the HTTP check: the app answers 200."""
    return HttpCheck(url=url, ok=True, status=200, elapsed_ms=1.0)
