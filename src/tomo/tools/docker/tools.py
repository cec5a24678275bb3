"""Raw Docker tools: containers, logs, stats, images, volumes, networks, pull, prune, engine info."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from tomo.lib.mcp.tooling import tomo_tool
from tomo.models.common import Reply
from tomo.models.docker import Bounded, ContainerRef, ImageRef
from tomo.models.principal import Role
from tomo.services.docker.docker import LIST_LIMIT, DockerService, PruneTarget

ServerId = Annotated[
    str, Field(min_length=1, max_length=64, description="Server id or name, from list_servers.")
]
Since = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9][0-9A-Za-z:.+-]{0,39}$"),
    Field(description="Only lines newer than this: a duration ('10m', '2h') or a timestamp ('2026-11-25T13:00:00Z')."),
]


def _more(listing: Bounded, what: str) -> str:
    if listing.truncated:
        return f" Showing the first {LIST_LIMIT} of {listing.total} {what}."
    return ""


class DockerTools:
    """Look at and act on Docker directly on a registered server (outside Tomo's app installations)."""

    def __init__(self, docker_service: DockerService) -> None:
        self.docker = docker_service

    @tomo_tool(read_only=True, idempotent=True, open_world=True, title="List containers")
    async def list_containers(
        self,
        server_id: ServerId,
        all: Annotated[bool, Field(description="Include stopped containers.")] = False,
    ) -> Reply:
        """List the Docker containers on a server: name, image, state, health, ports, compose project and service.

        Use it to see what runs on a server or to find the container name other docker tools need. Only
        running containers unless all=true. At most 200, sorted by name; usually well under a second.
        """
        listing = await self.docker.list_containers(server_id, all_containers=all)
        kind = "container(s)" if all else "running container(s)"
        return Reply(f"{listing.total} {kind} on server {server_id}.{_more(listing, 'containers')}",
                     {"containers": listing.items, "total": listing.total, "truncated": listing.truncated})

    @tomo_tool(read_only=True, idempotent=True, open_world=True, title="Inspect container")
    async def inspect_container(self, server_id: ServerId, container: ContainerRef) -> Reply:
        """Show one container in compact form: state, health, exit code, restarts, ports, mounts, networks.

        Use it to see why a container misbehaves (exit code, restarts, health) or how it is wired (ports,
        mounts source → target, networks with IPs, compose project/service). Environment variables are
        listed by NAME only, never their values. container_logs shows what it printed.
        """
        detail = await self.docker.inspect_container(server_id, container)
        health = f", {detail.health}" if detail.health else ""
        return Reply(f"Container {detail.name} is {detail.state}{health} (image {detail.image}).", detail)

    @tomo_tool(read_only=True, idempotent=True, open_world=True, title="Container logs")
    async def container_logs(
        self,
        server_id: ServerId,
        container: ContainerRef,
        tail: Annotated[int, Field(ge=1, le=5000, description="How many last lines to return.")] = 100,
        since: Since | None = None,
    ) -> Reply:
        """Return the last lines a container printed (stdout and stderr interleaved, with timestamps).

        Use it to diagnose a crashing container (inspect_container gives its exit code). Bounded: `tail`
        lines and about 200 KB, very long lines cut; secret-looking strings (private keys, bearer tokens,
        JWTs) are masked. For apps installed by Tomo, get_app_logs reads per service.

        Args:
            since: only newer lines: a duration like "10m" or "2h", or an RFC 3339 timestamp.
        """
        logs = await self.docker.container_logs(server_id, container, tail, since)
        cut = " (truncated)" if logs["truncated"] else ""
        return Reply(f"{logs['line_count']} log line(s) from {container}{cut}.", logs)

    @tomo_tool(read_only=True, idempotent=True, open_world=True, title="Container stats")
    async def container_stats(self, server_id: ServerId) -> Reply:
        """Show one sample of CPU, memory, network and disk I/O for every running container on a server.

        Use it to find what uses a server's resources. Memory in bytes (usage, limit) and percent; the
        sample takes about two seconds. At most 200 containers, sorted by name.
        """
        listing = await self.docker.container_stats(server_id)
        return Reply(f"Stats for {listing.total} running container(s).{_more(listing, 'containers')}",
                     {"stats": listing.items, "total": listing.total, "truncated": listing.truncated})

    @tomo_tool(role=Role.OPERATOR, idempotent=True, open_world=True, title="Start container")
    async def start_container(self, server_id: ServerId, container: ContainerRef) -> Reply:
        """Start a stopped container and report its new state (as inspect_container).

        Starting a running container changes nothing (list_containers all=true shows stopped ones). For
        apps installed by Tomo prefer start_app, which starts every service of the app.
        """
        detail = await self.docker.container_action(server_id, container, "start")
        return Reply(f"Container {detail.name} started; it is {detail.state}.", detail)

    @tomo_tool(role=Role.OPERATOR, idempotent=True, open_world=True, title="Stop container")
    async def stop_container(self, server_id: ServerId, container: ContainerRef) -> Reply:
        """Stop a running container (SIGTERM, then SIGKILL after its grace period, 10 s by default).

        The container and its data stay; start_container brings it back. A restart policy of "always"
        starts it again when the Docker daemon restarts. For apps installed by Tomo prefer stop_app.
        Returns the container's compact details.
        """
        detail = await self.docker.container_action(server_id, container, "stop")
        return Reply(f"Container {detail.name} stopped; it is {detail.state}.", detail)

    @tomo_tool(role=Role.OPERATOR, open_world=True, title="Restart container")
    async def restart_container(self, server_id: ServerId, container: ContainerRef) -> Reply:
        """Restart a container (stop, then start) and report its new state.

        Use it after a configuration change or when a service hangs; it briefly interrupts the service.
        For apps installed by Tomo prefer restart_app.
        """
        detail = await self.docker.container_action(server_id, container, "restart")
        return Reply(f"Container {detail.name} restarted; it is {detail.state}.", detail)

    @tomo_tool(role=Role.OPERATOR, destructive=True, open_world=True, title="Remove container")
    async def remove_container(
        self,
        server_id: ServerId,
        container: ContainerRef,
        force: Annotated[bool, Field(description="Stop a running container first.")] = False,
    ) -> Reply:
        """Delete a container. Its named volumes are kept; its writable layer (files not in a volume) is lost.

        Destructive: needs confirm=true after the user agreed. A running container is refused unless
        force=true. For apps installed by Tomo use uninstall_app instead.
        """
        await self.docker.remove_container(server_id, container, force)
        return Reply(f"Container {container} removed from server {server_id}.", {"removed": container})

    @tomo_tool(read_only=True, idempotent=True, open_world=True, title="List images")
    async def list_images(self, server_id: ServerId) -> Reply:
        """List the Docker images on a server: repository, tag, id, size and creation time.

        Use it before remove_image or prune_docker, or to check an image is present. At most 200 images.
        """
        listing = await self.docker.list_images(server_id)
        return Reply(f"{listing.total} image(s) on server {server_id}.{_more(listing, 'images')}",
                     {"images": listing.items, "total": listing.total, "truncated": listing.truncated})

    @tomo_tool(read_only=True, idempotent=True, open_world=True, title="List volumes")
    async def list_volumes(self, server_id: ServerId) -> Reply:
        """List the Docker volumes on a server: name, driver and the compose project that created it.

        Volumes hold app data; check here before prune_docker with what="volumes". At most 200 volumes.
        """
        listing = await self.docker.list_volumes(server_id)
        return Reply(f"{listing.total} volume(s) on server {server_id}.{_more(listing, 'volumes')}",
                     {"volumes": listing.items, "total": listing.total, "truncated": listing.truncated})

    @tomo_tool(read_only=True, idempotent=True, open_world=True, title="List networks")
    async def list_networks(self, server_id: ServerId) -> Reply:
        """List the Docker networks on a server: name, id, driver, scope and whether it is internal.

        At most 200 networks, sorted by name.
        """
        listing = await self.docker.list_networks(server_id)
        return Reply(f"{listing.total} network(s) on server {server_id}.{_more(listing, 'networks')}",
                     {"networks": listing.items, "total": listing.total, "truncated": listing.truncated})

    @tomo_tool(role=Role.OPERATOR, idempotent=True, open_world=True, title="Pull image")
    async def pull_image(self, server_id: ServerId, image: ImageRef) -> Reply:
        """Download an image (or its newer version) from its registry onto a server.

        Use it to pre-fetch an image or refresh a moving tag such as "latest"; running containers keep
        the old image until recreated. Can take minutes (gives up after 15). Returns the last lines of
        docker's output (status and digest).
        """
        output = await self.docker.pull_image(server_id, image)
        status = next((line for line in reversed(output) if line.startswith("Status:")), f"Pulled {image}.")
        return Reply(f"{status} (server {server_id})", {"image": image, "output_tail": output})

    @tomo_tool(role=Role.OPERATOR, destructive=True, open_world=True, title="Remove image")
    async def remove_image(self, server_id: ServerId, image: ImageRef) -> Reply:
        """Delete an image reference from a server (the layers go once no tag or container uses them).

        Destructive: needs confirm=true after the user agreed. Refused while a container (even a stopped
        one) uses the image. pull_image can fetch it again.
        """
        output = await self.docker.remove_image(server_id, image)
        return Reply(f"Image {image} removed from server {server_id}.", {"image": image, "output_tail": output})

    @tomo_tool(role=Role.OPERATOR, destructive=True, open_world=True, title="Prune Docker")
    async def prune_docker(
        self,
        server_id: ServerId,
        what: Annotated[PruneTarget, Field(description="What to remove.")],
    ) -> Reply:
        """Free disk space by deleting unused Docker objects, and report what was removed and reclaimed.

        "containers": stopped containers. "images": images no container uses (not only dangling).
        "volumes": unused volumes, named ones included: their data is lost. "all": stopped containers,
        unused images, networks, build cache and anonymous volumes (named too before Docker 23).
        Destructive: needs confirm=true after the user agreed; check get_docker_info (reclaimable) and
        list_volumes first. Can take minutes.
        """
        report = await self.docker.prune(server_id, what)
        counts = ", ".join(f"{n} {kind}" for kind, n in report.deleted.items()) or "nothing"
        return Reply(f"Pruned {what} on server {server_id}: deleted {counts}; reclaimed {report.reclaimed}.",
                     report)

    @tomo_tool(read_only=True, idempotent=True, open_world=True, title="Docker info")
    async def get_docker_info(self, server_id: ServerId) -> Reply:
        """Show a server's Docker: engine, CLI and Compose versions, container and image counts, disk usage.

        Use it to check Docker works and how much space images, containers, volumes and build cache take
        (and a prune would reclaim); disk usage can take seconds on busy servers. DOCKER_NOT_INSTALLED
        means run prepare_server.
        """
        info = await self.docker.docker_info(server_id)
        compose = info.compose_version or "not installed"
        return Reply(
            f"Docker {info.server_version} (Compose {compose}) on server {server_id}: "
            f"{info.containers_running} running, {info.containers_stopped} stopped, {info.images} image(s).",
            info,
        )
