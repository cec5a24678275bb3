"""Argument lists for the docker CLI. Callers run them through the SSH layer, which quotes them once.

Every builder returns ``list[str]``; identifiers come in already validated (see ``models/docker.py``) and
go after ``--`` where the CLI allows it. This is the one module that knows how a docker command is spelt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

JSON = "{{json .}}"
DOCKER = "docker"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def ps(all_containers: bool = False, project: str | None = None, compose_only: bool = False) -> list[str]:
    """`docker ps` as JSON lines: one compose project, every compose project (``compose_only``), or all."""
    argv = [DOCKER, "ps", "--no-trunc", "--format", JSON]
    if all_containers:
        argv.append("--all")
    if project is not None:
        argv += ["--filter", f"label={PROJECT_LABEL}={project}"]
    elif compose_only:
        argv += ["--filter", f"label={PROJECT_LABEL}"]
    return argv


def inspect(kind: str, *refs: str) -> list[str]:
    """`docker <container|image|volume|network> inspect`, one JSON document per line."""
    if not refs:
        raise ValueError("docker inspect needs at least one name or id")
    return [DOCKER, kind, "inspect", "--format", JSON, "--", *refs]


def container_project(container: str) -> list[str]:
    """The Compose project label of one container (empty when it has none)."""
    return [DOCKER, "container", "inspect", "--format", f'{{{{index .Config.Labels "{PROJECT_LABEL}"}}}}', "--",
            container]  # fmt: skip


def logs(container: str, tail: int, since: str | None = None, timestamps: bool = True) -> list[str]:
    """The last ``tail`` log lines of a container (stdout and stderr)."""
    argv = [DOCKER, "logs", "--tail", str(tail)]
    if timestamps:
        argv.append("--timestamps")
    if since:
        argv += ["--since", since]
    return [*argv, "--", container]


def stats(containers: Sequence[str] = ()) -> list[str]:
    """One sample of `docker stats` as JSON lines."""
    argv = [DOCKER, "stats", "--no-stream", "--no-trunc", "--format", JSON]
    return [*argv, "--", *containers] if containers else argv


def container_action(action: str, container: str, force: bool = False) -> list[str]:
    """start / stop / restart / rm a container."""
    if action not in {"start", "stop", "restart", "rm"}:
        raise ValueError(f"unknown container action {action!r}")
    argv = [DOCKER, action]
    if action == "rm" and force:
        argv.append("--force")
    return [*argv, "--", container]


def list_objects(kind: str) -> list[str]:
    """`docker image ls` / `volume ls` / `network ls` as JSON lines."""
    if kind not in {"image", "volume", "network"}:
        raise ValueError(f"unknown object kind {kind!r}")
    return [DOCKER, kind, "ls", "--format", JSON]


def volume_names(project: str) -> list[str]:
    """The names of the named volumes a compose project created, one a line."""
    return [DOCKER, "volume", "ls", "--quiet", "--filter", f"label={PROJECT_LABEL}={project}"]


def remove_volumes(names: Iterable[str]) -> list[str]:
    """Remove named volumes (fails for one a container still uses)."""
    return [DOCKER, "volume", "rm", "--", *names]


def pull(image: str) -> list[str]:
    """Pull an image."""
    return [DOCKER, "pull", "--", image]


def remove_image(image: str) -> list[str]:
    """Remove an image (fails while a container uses it)."""
    return [DOCKER, "image", "rm", "--", image]


def run_once(image: str, args: Sequence[str], *, user: str, entrypoint: str, volume: str) -> list[str]:
    """A throwaway, confined container (removed when it exits) of ``image`` running ``entrypoint args...``.

    It sees only ``volume``, has no network and cannot gain privileges (no setuid). Of root's capabilities it
    keeps only the two that removing another user's files needs: DAC_OVERRIDE (enter and empty a 0700 folder
    such as a database's data owned by uid 999) and FOWNER (sticky folders); nothing outside ``volume`` is
    reachable with them.
    """
    return [DOCKER, "run", "--rm", "--network", "none", "--cap-drop", "ALL", "--cap-add", "DAC_OVERRIDE",
            "--cap-add", "FOWNER", "--security-opt", "no-new-privileges", "--user", user,
            "--entrypoint", entrypoint, "--volume", volume, "--", image, *args]  # fmt: skip


def prune(what: str) -> list[str]:
    """Remove unused images, stopped containers, unused volumes, or all of them."""
    commands = {
        "images": [DOCKER, "image", "prune", "--force", "--all"],
        "containers": [DOCKER, "container", "prune", "--force"],
        "volumes": [DOCKER, "volume", "prune", "--force", "--all"],
        "all": [DOCKER, "system", "prune", "--force", "--all", "--volumes"],
    }
    if what not in commands:
        raise ValueError(f"unknown prune target {what!r}")
    return commands[what]


def info() -> list[str]:
    """Engine information as JSON."""
    return [DOCKER, "info", "--format", JSON]


def server_version() -> list[str]:
    """The engine's version alone (fails when the daemon does not answer)."""
    return [DOCKER, "version", "--format", "{{.Server.Version}}"]


def system_df() -> list[str]:
    """Disk usage by images, containers, volumes and build cache, as JSON lines."""
    return [DOCKER, "system", "df", "--format", JSON]


def compose_version() -> list[str]:
    """The Compose plugin's version alone (fails when there is no `docker compose`)."""
    return [DOCKER, "compose", "version", "--short"]


def compose(project: str, project_dir: str, *args: str, env_file: str | None = ".env") -> list[str]:
    """`docker compose` for one project living in ``project_dir`` (compose.yaml and .env inside)."""
    argv = [DOCKER, "compose", "--project-name", project, "--project-directory", project_dir,
            "--file", f"{project_dir}/compose.yaml"]  # fmt: skip
    if env_file is not None:
        argv += ["--env-file", f"{project_dir}/{env_file}"]
    return [*argv, *args]


def compose_up(project: str, project_dir: str, wait_timeout: int) -> list[str]:
    """Create/update and start every service, waiting until they run (and are healthy where checked)."""
    return compose(project, project_dir, "up", "--detach", "--wait", "--wait-timeout", str(wait_timeout),
                   "--remove-orphans", "--quiet-pull")  # fmt: skip


def compose_pull(project: str, project_dir: str) -> list[str]:
    """Pull every service's image (a failed pull of one image does not stop the others)."""
    return compose(project, project_dir, "pull", "--ignore-pull-failures", "--quiet")


def compose_action(project: str, project_dir: str, action: str) -> list[str]:
    """`docker compose start|stop|restart` of every service."""
    if action not in {"start", "stop", "restart"}:
        raise ValueError(f"unknown compose action {action!r}")
    return compose(project, project_dir, action)


def compose_down(project: str, project_dir: str, remove_volumes: bool = False) -> list[str]:
    """Stop and remove the project's containers and networks (and named volumes when asked).

    Names no compose file: Compose finds the containers by the project's label, so this works when
    compose.yaml is gone too.
    """
    extra = ["--volumes"] if remove_volumes else []
    return [DOCKER, "compose", "--project-name", project, "--project-directory", project_dir, "down",
            "--remove-orphans", *extra]  # fmt: skip
