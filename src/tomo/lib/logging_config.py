"""Structured JSON logs on stderr with secret redaction.

stdout is the MCP stdio channel, so every handler here writes to stderr. The
standard library's loggers (FastMCP, uvicorn, asyncssh) are routed through the
same structlog processors, so one redaction step covers everything.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

from tomo.lib.redaction import redact

#: Modules structlog imports only to offer rich's traceback rendering. Tomo turns exceptions into text with
#: ``format_exc_info`` before any renderer sees them (both formats), so they are never used, yet with pygments
#: and attrs they cost every process ~2.2 MB of memory (idle RSS, bench/bench_startup.py) and ~25 ms of start-up.
_UNUSED_BY_STRUCTLOG = ("rich.traceback", "rich.pretty")

_NOISY = {"asyncssh": logging.WARNING, "aiosqlite": logging.WARNING, "sqlalchemy": logging.WARNING,
          "httpx2": logging.WARNING, "httpcore2": logging.WARNING, "mcp": logging.WARNING,
          "uvicorn.access": logging.WARNING, "docket": logging.WARNING, "alembic": logging.WARNING,
          "sse_starlette": logging.INFO}  # sse_starlette logs every response body at DEBUG


def _redact_event(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    redacted: MutableMapping[str, Any] = redact(dict(event_dict))
    return redacted


def import_structlog_without_rich() -> None:
    """Import structlog (first, before any module does) with rich's traceback modules hidden from it.

    structlog then falls back to plain tracebacks; rich itself stays importable (FastMCP uses its console).
    """
    if "structlog" in sys.modules:
        return
    hidden = [name for name in _UNUSED_BY_STRUCTLOG if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` raise ImportError
    try:
        import structlog  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Send all logs to stderr as JSON lines (or a readable console format), secrets masked."""
    import_structlog_without_rich()
    import structlog

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_event,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.format_exc_info, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, noisy_level in _NOISY.items():
        logging.getLogger(name).setLevel(max(noisy_level, logging.getLevelName(level)))
    fastmcp_logger = logging.getLogger("fastmcp")
    fastmcp_logger.handlers[:] = []
    fastmcp_logger.propagate = True
