"""Argument lists for the docker CLI. Callers run them through the SSH layer, which quotes them once.

Every builder returns ``list[str]``; identifiers come in already validated (see ``models/docker.py``) and
go after ``--`` where the CLI allows it.
"""

from __future__ import annotations

from collections.abc import Sequence

JSON = "{{json .}}"
DOCKER = "docker"


def ps(all_containers: bool = False, project: str | None = None) -> list[str]:
    """`docker ps` as JSON lines, optionally only one compose project."""
    argv = [DOCKER, "ps", "--no-trunc", "--format", JSON]
    if all_containers:
        argv.append("--all")
    if project is not None:
        argv += ["--filter", f"label=com.docker.compose.project={project}"]
    return argv


def inspect(kind: str, ref: str) -> list[str]:
    """`docker <container|image|volume|network> inspect` as one JSON array."""
    return [DOCKER, kind, "inspect", "--format", "{{json .}}", "--", ref]


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


def pull(image: str) -> list[str]:
    """Pull an image."""
    return [DOCKER, "pull", "--", image]


def remove_image(image: str) -> list[str]:
    """Remove an image (fails while a container uses it)."""
    return [DOCKER, "image", "rm", "--", image]


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


def system_df() -> list[str]:
    """Disk usage by images, containers, volumes and build cache, as JSON lines."""
    return [DOCKER, "system", "df", "--format", JSON]


def compose(project: str, project_dir: str, *args: str, env_file: str | None = ".env") -> list[str]:
    """`docker compose` for one project living in ``project_dir`` (compose.yaml and .env inside)."""
    argv = [DOCKER, "compose", "--project-name", project, "--project-directory", project_dir,
            "--file", f"{project_dir}/compose.yaml"]
    if env_file is not None:
        argv += ["--env-file", f"{project_dir}/{env_file}"]
    return [*argv, *args]


def compose_up(project: str, project_dir: str, wait_timeout: int) -> list[str]:
    """Create/update and start every service, waiting until they run (and are healthy where checked)."""
    return compose(project, project_dir, "up", "--detach", "--wait", "--wait-timeout", str(wait_timeout),
                   "--remove-orphans", "--quiet-pull")


def compose_down(project: str, project_dir: str, remove_volumes: bool) -> list[str]:
    """Stop and remove the project's containers and networks (and named volumes when asked)."""
    extra = ["--volumes"] if remove_volumes else []
    return compose(project, project_dir, "down", "--remove-orphans", *extra)


def compose_ps(project: str, project_dir: str) -> list[str]:
    """Every container of the project (running or not) as JSON."""
    return compose(project, project_dir, "ps", "--all", "--format", "json")
