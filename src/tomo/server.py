"""Running the built app over a transport: stdio for desktop clients, streamable HTTP for the rest."""

from __future__ import annotations

import gc
import ipaddress

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse

from tomo.lib.config import TomoConfig
from tomo.lib.mcp.http_auth import BearerAuthMiddleware
from tomo.main import TomoApp, build_app


async def serve_stdio(config: TomoConfig) -> None:
    """Speak MCP on stdin/stdout until the client closes them; logs go to stderr."""
    tomo_app = build_app(config, transport="stdio")
    freeze_startup_objects()
    await tomo_app.mcp.run_stdio_async(show_banner=False)


def add_healthz(tomo_app: TomoApp) -> None:
    """Plain ``GET /healthz`` for load balancers and scripts (no MCP session needed)."""

    @tomo_app.mcp.custom_route("/healthz", methods=["GET"])
    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse(tomo_app.services["health_service"].basic())


async def serve_http(config: TomoConfig) -> None:
    """Serve MCP at ``/mcp`` (streamable HTTP, stateless, bearer tokens required) plus ``GET /healthz``."""
    tomo_app = build_app(config, transport="http")
    add_healthz(tomo_app)
    identity = tomo_app.services["identity_service"]
    freeze_startup_objects()
    auth = Middleware(BearerAuthMiddleware, authenticate=identity.authenticate, client_ip=identity.client_ip)
    await tomo_app.mcp.run_http_async(
        show_banner=False,
        host=config.host,
        port=config.port,
        path="/mcp",
        stateless_http=True,
        middleware=[auth],
        # Loopback binds check Host/Origin strictly (DNS rebinding); on a network address the
        # Host header is whatever name clients use, and bearer tokens guard the endpoint.
        host_origin_protection=True if _is_loopback_address(config.host) else "auto",
        # The client address comes from the TCP peer; X-Forwarded-For is weighed against the
        # trusted_proxies setting by Tomo itself, never by uvicorn.
        uvicorn_config={"log_config": None, "proxy_headers": False},
    )


def freeze_startup_objects() -> None:
    """Move everything built so far out of the garbage collector's reach, then turn collection on.

    The imported modules and the built app are hundreds of thousands of long-lived objects;
    without this, every full collection walks them all and stalls the event loop for ~100 ms
    in the middle of a burst of requests (measured with 20 concurrent logins). ``tomo.cli.main``
    keeps the collector off while they are built (it would only rescan them: ~20% of start-up);
    no collection runs here either, so the first answer is not delayed.
    """
    gc.freeze()
    gc.enable()


def _is_loopback_address(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
