"""Running the built app over a transport: stdio for desktop clients, streamable HTTP for the rest."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from tomo.lib.config import TomoConfig
from tomo.main import TomoApp, build_app


async def serve_stdio(config: TomoConfig) -> None:
    """Speak MCP on stdin/stdout until the client closes them; logs go to stderr."""
    tomo_app = build_app(config, transport="stdio")
    await tomo_app.mcp.run_stdio_async(show_banner=False)


def add_healthz(tomo_app: TomoApp) -> None:
    """Plain ``GET /healthz`` for load balancers and scripts (no MCP session needed)."""

    @tomo_app.mcp.custom_route("/healthz", methods=["GET"])
    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse(tomo_app.services["health_service"].basic())


async def serve_http(config: TomoConfig) -> None:
    """Serve MCP at ``/mcp`` (streamable HTTP, stateless) plus ``GET /healthz``."""
    tomo_app = build_app(config, transport="http")
    add_healthz(tomo_app)
    await tomo_app.mcp.run_http_async(
        show_banner=False,
        host=config.host,
        port=config.port,
        path="/mcp",
        stateless_http=True,
        host_origin_protection=True,
        uvicorn_config={"log_config": None},
    )
