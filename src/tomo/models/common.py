"""Small shapes shared by tools: what a tool method returns before the wrapper builds the envelope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from pydantic import Field

T = TypeVar("T")


@dataclass(frozen=True)
class Reply:
    """A successful tool result: a sentence for the model and the data."""

    message: str
    data: Any = None


@dataclass(frozen=True)
class JobStarted:
    """Returned by job tools: the wrapper waits up to ``wait_seconds`` and reports progress."""

    job_id: str
    message: str


#: The paging parameters of every list tool (each byte of a description is sent in every tools/list).
PageLimit = Annotated[int, Field(ge=1, le=200)]
PageOffset = Annotated[int, Field(ge=0, description="The previous page's next_offset.")]
#: Items per page when the caller does not say: keeps an answer to a few thousand tokens.
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items, the number of matches in all, and where it starts."""

    items: list[T]
    total: int
    limit: int
    offset: int

    @property
    def next_offset(self) -> int | None:
        """The offset of the next page, None on the last one."""
        end = self.offset + len(self.items)
        return end if end < self.total else None

    def reply(self, tool: str, key: str, noun: str, empty: str | None = None) -> Reply:
        """The answer of list tool ``tool``: ``{key: items, total, limit, offset, has_more, next_offset}``."""
        data = {key: self.items, "total": self.total, "limit": self.limit, "offset": self.offset,
                "has_more": self.next_offset is not None, "next_offset": self.next_offset}
        return Reply(self._message(tool, noun, empty), data)

    def _message(self, tool: str, noun: str, empty: str | None) -> str:
        if not self.items:
            if self.total == 0:
                return empty or f"No {noun}."
            return f"No {noun} from offset {self.offset}: there are {self.total}; call {tool} with a smaller offset."
        shown = f"{self.offset + 1}-{self.offset + len(self.items)}"
        if self.next_offset is None:
            return f"{self.total} {noun}; showing {shown}."
        return (f"{self.total} {noun}; showing {shown}. Next page: call {tool} with offset={self.next_offset}, "
                "other arguments unchanged.")
