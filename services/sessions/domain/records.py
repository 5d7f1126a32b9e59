"""What every record of the sessions domain shares: the earliest date a partner records, the
rules of correcting and voiding a record, and how codes read in a message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from contracts.sessions.codes import VOID_REASONS
from shared.aggregate import ReferenceRefused, Rule


def code_of(table: Mapping[str, str], value: str | None, name: str) -> str:
    """The code `value` maps to, refused (ValueError naming the field) when it maps to none."""
    if value is None or value not in table:
        raise ValueError(f"{name}: '{value}' is not one of {', '.join(table)}")
    return table[value]


def readable(code: str | None) -> str:
    return (code or "unknown").replace("_", " ")


def unique(codes: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(codes))


class DateMustNotPrecedeTheEarliestDate(ReferenceRefused):
    """A date before the earliest the partner records (a mistyped year such as 1900): invalid
    input, answered 422 naming the field."""


def not_before_earliest(field_name: str, on: date | None, earliest: date | None) -> date | None:
    """`on`, refused when it is before the earliest date the partner records."""
    if on is not None and earliest is not None and on < earliest:
        raise DateMustNotPrecedeTheEarliestDate(
            field_name,
            f"{on.isoformat()} is before {earliest.isoformat()}, the earliest date this partner"
            " records",
        )
    return on


class ReferralTimelineRunsForward(Rule):
    """received <= ... <= sessions <= discharge: a session for a referral is dated within the
    referral's own timeline (a conflict with what is recorded: 409)."""


class CorrectionNeedsAnEarlierRecord(Rule):
    pass


class CorrectionNeedsAReason(Rule):
    pass


class CorrectionMustChangeTheRecord(Rule):
    pass


class VoidedRecordCannotChange(Rule):
    pass


class ChangeMustChangeSomething(Rule):
    pass


def void_reason(reason: str | None) -> str:
    if not reason:
        raise CorrectionNeedsAReason("say why the record is being voided")
    if reason not in VOID_REASONS:
        raise ValueError(f"reason: '{reason}' is not one of {', '.join(VOID_REASONS)}")
    return reason
