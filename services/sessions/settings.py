"""What a partner sets for its sessions service, read once as the service starts
(shared/settings.py): a setting missing or invalid stops it, naming the variable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from shared.settings import iso_date, setting


def minutes(text: str) -> timedelta:
    return timedelta(minutes=int(text))


@dataclass(frozen=True)
class SessionSettings:
    # how far past now a session recorded as held may end; a partner may allow more
    max_future: timedelta = setting(
        "PEERLINK_SESSION_MAX_FUTURE_MINUTES",
        "15",
        minutes,
        lambda allowed: allowed >= timedelta(0),
        "0 minutes or more",
    )
    # No date a worker gives may be earlier than this (as for referrals): a mistyped year such
    # as 1990 is refused, not reported. A partner whose records start earlier sets it earlier.
    earliest_date: date = setting("PEERLINK_EARLIEST_DATE", "2000-01-01", iso_date)
