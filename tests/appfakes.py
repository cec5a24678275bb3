"""A fake SSH runner for the app services: records every argv and file, answers from a tiny model of a server.

The "server" keeps the Compose projects' containers (set by a successful `up`, cleared by `down`), the
volumes, and the paths that exist. Tests script failures by kind of command (``fail``) and read the
recorded calls (``calls``, ``kinds()``) to check order and quoting.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.appkit import FIXTURE_CATALOG, facts_output
from tomo.database.types import utcnow
from tomo.errors import CommandFailed, TomoError
from tomo.lib.catalog import import_catalog
from tomo.lib.ssh import CommandResult, to_shell
from tomo.main import TomoApp
from tomo.models.installation import HttpCheck
from tomo.models.marketplace import CatalogApp
from tomo.models.server import ServerCreate, ServerCredentials
from tomo.services.apps.remote import AppRemote
from tomo.services.apps.service import AppService


def classify(argv: Sequence[str]) -> str:
    """A short name for a command, for scripting and assertions."""
    if argv[:2] == ["sh", "-c"]:
        return "facts" if "tomo-facts" in argv else "up"
    if argv[:2] == ["docker", "compose"]:
        verb = next(a for a in argv[2:] if a in {"down", "start", "stop", "restart", "pull", "up", "logs"})
        return f"compose-{verb}"
    if argv[0] == "docker":
        return {"ps": "ps", "logs": "logs", "run": "helper"}.get(argv[1]) or (
            "inspect" if argv[1:3] == ["container", "inspect"] else f"volume-{argv[2]}")
    if argv[0] == "sudo":
        return "sudo-rm"
    return {"rm": "rm", "test": "exists", "kill": "kill", "cp": "cp", "rmdir": "rmdir"}[argv[0]]


@dataclass
class FakeServer:
    """The fake's model of the remote machine."""

    facts: str = field(default_factory=facts_output)
    containers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    volumes: set[str] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)
    root_owned: set[str] = field(default_factory=set)
    sudo: bool = True


Failure = CommandResult | TomoError | Callable[[], Awaitable[CommandResult]]


class FakeRunner:
    """Stands in for SSHService (run, stream, put_file, makedirs, get_file)."""

    def __init__(self, server: FakeServer | None = None) -> None:
        self.server = server or FakeServer()
        self.calls: list[tuple[str, list[str]]] = []
        self.files: dict[str, tuple[bytes, int]] = {}
        self.fail: dict[str, list[Failure]] = {}
        self.up_lines = [" Container x Started", " Container x Healthy"]
        self.new_volumes: list[str] = []
        self.images: dict[str, str] = {}

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]

    async def run(self, server_id: str, argv: Sequence[str], *, timeout: float | None = None, check: bool = False,
                  max_output: int = 1_000_000) -> CommandResult:
        to_shell(argv)  # the real quoting must accept it
        kind = classify(argv)
        self.calls.append((kind, list(argv)))
        result = await self._scripted(kind) or self._answer(kind, list(argv))
        if check and result.exit_status != 0:
            raise CommandFailed(f"'{argv[0]}' exited with status {result.exit_status}")
        return result

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
        srv = self.server
        project = argv[argv.index("--project-name") + 1] if "--project-name" in argv else ""
        out = ""
        if kind == "facts":
            out = srv.facts
        elif kind == "ps":
            label = argv[argv.index("--filter") + 1].removeprefix("label=com.docker.compose.project")
            names = [label[1:]] if label else sorted(srv.containers)
            out = "".join(json.dumps({"Names": c["name"], "State": c["state"], "Image": c["image"], "Status": "Up",
                                      "Labels": f"com.docker.compose.project={name},"
                                                f"com.docker.compose.service={c['service']}"}) + "\n"
                          for name in names for c in srv.containers.get(name, []))
        elif kind == "inspect":
            names = argv[argv.index("--") + 1:]
            rows = [c for cs in srv.containers.values() for c in cs if c["name"] in names]
            out = "".join(json.dumps({"Name": "/" + c["name"], "RestartCount": c.get("restarts", 0),
                                      "State": {"Status": c["state"], "ExitCode": 0},
                                      "Config": {"Image": c["image"],
                                                 "Labels": {"com.docker.compose.service": c["service"]}}}) + "\n"
                          for c in rows)
        elif kind == "logs":
            out = f"{utcnow().isoformat()} log of {argv[-1]}\n"
        elif kind == "compose-down":
            srv.containers.pop(project, None)
        elif kind == "volume-ls":
            name = argv[-1].rsplit("=", 1)[-1]
            out = "".join(f"{v}\n" for v in sorted(srv.volumes) if v.startswith(name + "_"))
        elif kind == "volume-rm":
            srv.volumes -= set(argv[3:])
        elif kind in ("rm", "sudo-rm", "helper"):
            return self._remove(kind, argv)
        elif kind == "exists":
            return CommandResult(0 if any(p == argv[-1] or p.startswith(argv[-1] + "/") for p in srv.paths) else 1,
                                 "", "", 1.0)
        elif kind == "cp":
            self.files[argv[-1]] = self.files.get(argv[-2], (b"", 0o600))
        elif kind == "compose-stop":
            for c in srv.containers.get(project, []):
                c["state"] = "exited"
        elif kind in ("compose-start", "compose-restart"):
            for c in srv.containers.get(project, []):
                c["state"] = "running"
        return CommandResult(0, out, "", 1.0)

    def _remove(self, kind: str, argv: list[str]) -> CommandResult:
        """rm as the SSH user cannot delete below a root-owned folder; sudo and the helper container can."""
        srv = self.server
        target = argv[-1]
        if kind == "helper":
            mount = next(a for a in argv if a.endswith(":/tomo-target")).split(":")[0]
            target = mount + target.removeprefix("/tomo-target")
        elif kind == "sudo-rm" and not srv.sudo:
            return CommandResult(1, "", "sudo: a password is required", 1.0)

        def under(path: str, top: str) -> bool:
            return path == top or path.startswith(top + "/")

        def protected(path: str) -> bool:
            return kind == "rm" and any(under(path, owned) for owned in srv.root_owned)

        blocked = any(protected(path) for path in srv.paths if under(path, target))
        srv.paths = {path for path in srv.paths if not under(path, target) or protected(path)}
        self.files = {path: data for path, data in self.files.items() if not under(path, target)}
        if kind != "rm":
            srv.root_owned = {owned for owned in srv.root_owned if not under(owned, target)}
        return CommandResult(1 if blocked else 0, "", "Permission denied" if blocked else "", 1.0)

    async def stream(self, server_id: str, argv: Sequence[str], on_output: Any, *, timeout: float | None = None,
                     check: bool = False) -> CommandResult:
        """`up`: announces its pid, then fails as scripted (having created the containers) or starts them."""
        to_shell(argv)
        kind = classify(argv)
        self.calls.append((kind, list(argv)))
        await on_output("stdout", "tomo-pid 4242")
        scripted = await self._scripted(kind)
        for line in self.up_lines:
            await on_output("stderr", line)
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
        self.server.containers[project] = [
            {"name": f"{project}-{service}-1", "service": service, "image": spec["image"], "state": "running"}
            for service, spec in doc["services"].items()
        ]
        self.server.volumes |= {f"{project}_{volume}" for volume in doc.get("volumes") or {}}

    async def put_file(self, server_id: str, remote_path: str, data: bytes, *, mode: int = 0o600,
                       timeout: float | None = None) -> None:
        await self._scripted("put")
        self.calls.append(("put", [remote_path]))
        self.files[remote_path] = (data, mode)
        self.server.paths.add(remote_path)

    async def makedirs(self, server_id: str, remote_path: str, mode: int = 0o755, *,
                       timeout: float | None = None) -> None:
        self.calls.append(("mkdir", [remote_path]))
        self.server.paths.add(remote_path)

    async def get_file(self, server_id: str, remote_path: str, *, max_bytes: int = 1_000_000,
                       timeout: float | None = None) -> bytes:
        self.calls.append(("get", [remote_path]))
        if remote_path not in self.files:
            raise CommandFailed(f"SFTP read of {remote_path} on the fake server failed: No such file")
        return self.files[remote_path][0][:max_bytes]


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


async def app_service_with_fakes(tomo_app: TomoApp, runner: FakeRunner) -> tuple[AppService, str]:
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
