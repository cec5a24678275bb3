"""The stored event log: what a homelab owner wants to look back on, kept in the database for get_logs.

Services already log their state changes (``server_added``, ``app_installed``, ``job_finished``, ...) through
structlog to stderr. :class:`EventStore` is a logging handler on the root logger that also keeps, in the
``log_entries`` table, every record at WARNING or worse and the INFO events listed in :data:`STORED_EVENTS`, at or
above the ``stored_log_level`` setting. Records are queued in memory (bounded: a flood drops the oldest) and
written in batches once a second by a background task, so logging never waits for the database. Values are
redacted before they reach the handler (logging_config's processor) and again before they are stored.

One store receives records per process: the last started app's (several apps only share a process in tests).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from tomo.database.repositories.logs import LogRepository
from tomo.lib.redaction import redact, redact_text

EventTest = Callable[[Mapping[str, Any]], bool]


def _always(_: Mapping[str, Any]) -> bool:
    return True


def _never(_: Mapping[str, Any]) -> bool:
    return False


def _unsuccessful(event: Mapping[str, Any]) -> bool:
    return event.get("status") not in (None, "succeeded")


#: INFO events worth keeping, with a test on their fields where only some are (a job that did not succeed).
STORED_EVENTS: Mapping[str, EventTest] = {
    name: _always for name in (
        "server_added", "server_updated", "server_deleted", "host_key_pinned", "host_key_trusted",
        "server_prepared", "app_installed", "app_install_failed", "app_updated", "app_update_rolled_back",
        "app_uninstalled", "app_control", "marketplace_synced", "marketplace_syncs_interrupted", "login_lockout",
        "user_created", "jobs_recovered", "settings_changed",
    )
} | {"job_finished": _unsuccessful}

QUEUE_LIMIT = 1000
FLUSH_INTERVAL_S = 1.0
MESSAGE_CHARS = 2000
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}
_OWN_LOGGER = "tomo.events.store"
_SKIPPED_KEYS = frozenset({"event", "level", "logger", "timestamp", "_record", "_from_structlog"})

_active: EventStore | None = None


class EventStore(logging.Handler):
    """Queues storable log records and writes them to ``log_entries`` in batches."""

    def __init__(self, repository: LogRepository, minimum_level: Callable[[], str]) -> None:
        super().__init__(level=logging.DEBUG)
        self.repo = repository
        self.minimum_level = minimum_level
        self._queue: deque[dict[str, Any]] = deque(maxlen=QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None
        self._previous: EventStore | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if _active is not self or record.name == _OWN_LOGGER:
            return
        try:
            entry = self._entry(record)
        except Exception:  # a record Tomo cannot read is not worth a crash of the caller
            return
        if entry is not None:
            self._queue.append(entry)

    def _entry(self, record: logging.LogRecord) -> dict[str, Any] | None:
        floor = _LEVELS.get(str(self.minimum_level()), logging.INFO)
        if record.levelno < floor:
            return None
        event = record.msg if isinstance(record.msg, Mapping) else {"event": record.getMessage()}
        name = str(event.get("event", ""))
        if record.levelno < logging.WARNING and not STORED_EVENTS.get(name, _never)(event):
            return None
        metadata = redact({k: _plain(v) for k, v in event.items() if k not in _SKIPPED_KEYS})
        source = record.name.removeprefix("tomo.") or "tomo"
        return {"timestamp": datetime.fromtimestamp(record.created, UTC), "level": _level_name(record.levelno),
                "source": source[:64], "message": redact_text(name.replace("_", " "))[:MESSAGE_CHARS],
                "tags": [name] if name else [], "metadata": metadata}

    async def start(self) -> None:
        """Receive this process's records from now on and write them once a second."""
        global _active
        self._previous, _active = _active, self
        logging.getLogger().addHandler(self)
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="tomo-event-store")

    async def stop(self) -> None:
        """Write what is queued, stop receiving records (safe to call twice)."""
        global _active
        logging.getLogger().removeHandler(self)
        if _active is self:
            _active = self._previous
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        with suppress(Exception):
            await self.flush_now()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            try:
                await self.flush_now()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: the records stay queued (bounded) for the next try
                logging.getLogger(_OWN_LOGGER).warning("event_store_failed: %s", type(exc).__name__)

    async def flush_now(self) -> int:
        """Write every queued record; returns how many."""
        batch = []
        while self._queue:
            batch.append(self._queue.popleft())
        if batch:
            try:
                await self.repo.add_logs(batch)
            except BaseException:
                self._queue.extendleft(reversed(batch))
                raise
        return len(batch)


def _plain(value: Any) -> Any:
    """A JSON-safe, bounded copy of a logged value."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:MESSAGE_CHARS]
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value[:50]]
    if isinstance(value, Mapping):
        return {str(k)[:100]: _plain(v) for k, v in list(value.items())[:50]}
    return str(value)[:MESSAGE_CHARS]


def _level_name(levelno: int) -> str:
    if levelno >= logging.ERROR:
        return "ERROR"
    if levelno >= logging.WARNING:
        return "WARNING"
    return "INFO" if levelno >= logging.INFO else "DEBUG"
