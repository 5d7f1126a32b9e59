"""What every event store shares: the errors an append may raise, a page of a follower's read,
and the check that a repeated append of stored events is the same append."""

from __future__ import annotations

from dataclasses import dataclass

from shared.events import RecordedEvent


class ConcurrencyError(Exception):
    """Another writer changed the stream since the version the caller saw (HTTP 409)."""

    def __init__(self, stream_id: str, expected_version: int, actual_version: int | None = None):
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        seen = "" if actual_version is None else f", it is now at version {actual_version}"
        super().__init__(
            f"stream {stream_id} was expected at version {expected_version}{seen}: "
            "someone else changed it first; reload and try again"
        )


class DuplicateEventId(Exception):
    """An event_id already stored with a different stream or content."""


class StreamNotFound(Exception):
    pass


@dataclass(frozen=True)
class Page:
    events: list[RecordedEvent]
    # The position a follower should continue after: the last event returned, or further when
    # permanent holes (rolled-back appends) were passed over.
    next_after: int


ANY_VERSION = -1


def _idempotent(existing, stream_type, stream_id) -> list[RecordedEvent]:
    if any(e.stream_type != stream_type or e.stream_id != str(stream_id) for e in existing):
        raise DuplicateEventId("these event ids are already stored in another stream")
    return list(existing)
