"""Safeguarding timescales: when a concern must be acknowledged and decided, and who is told,
rung by rung, when a deadline is missed.

Instants are kept and compared in UTC; working days and hours are counted on the partner's
local clock (Europe/London unless configured), so deadlines stay right across BST and GMT.
No I/O: the caller passes the time now and the partner's `Timescales`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contracts.safeguarding.codes import (
    ACKNOWLEDGE as ACKNOWLEDGE,
)
from contracts.safeguarding.codes import (
    DEADLINES as DEADLINES,
)
from contracts.safeguarding.codes import (
    DECIDE as DECIDE,
)
from contracts.safeguarding.codes import (
    HIGH as HIGH,
)
from contracts.safeguarding.codes import (
    IMMEDIATE as IMMEDIATE,
)
from contracts.safeguarding.codes import (
    SEVERITIES as SEVERITIES,
)
from contracts.safeguarding.codes import (
    STANDARD as STANDARD,
)

DUTY_LEAD = "duty_lead"
DEPUTY_LEAD = "deputy_lead"
HEAD_OF_SERVICE = "head_of_service"
ESCALATION_LADDER = (DUTY_LEAD, DEPUTY_LEAD, HEAD_OF_SERVICE)

# Bank holidays in England and Wales, 2025 to 2027, from gov.uk/bank-holidays (substitute days
# included). A partner adds later years, or its own closure days, in its Timescales.
ENGLAND_AND_WALES_BANK_HOLIDAYS = frozenset(
    date.fromisoformat(day)
    for day in (
        "2025-01-01",
        "2025-04-18",
        "2025-04-21",
        "2025-05-05",
        "2025-05-26",
        "2025-08-25",
        "2025-12-25",
        "2025-12-26",
        "2026-01-01",
        "2026-04-03",
        "2026-04-06",
        "2026-05-04",
        "2026-05-25",
        "2026-08-31",
        "2026-12-25",
        "2026-12-28",
        "2027-01-01",
        "2027-03-26",
        "2027-03-29",
        "2027-05-03",
        "2027-05-31",
        "2027-08-30",
        "2027-12-27",
        "2027-12-28",
    )
)

LONDON = "Europe/London"
# Office hours used to count working time; a partner sets its own.
WORKING_DAY_STARTS = time(9, 0)
WORKING_DAY_ENDS = time(17, 0)
WORKING_WEEKDAYS = frozenset(range(5))  # Monday to Friday

# Working-day arithmetic never looks further ahead than this for a working day; a calendar with
# no working day in ten years is a configuration mistake, not a deadline.
_LOOKAHEAD_DAYS = 3660


@dataclass(frozen=True)
class TimeAllowed:
    """How long a step may take: exactly one of clock time (round the clock), working time
    (whole working days plus working hours, counted only inside the working day), or "by the
    end of the working day" (the same one, or the next when it starts outside working hours).
    Build one with `within`, `within_working` or `by_end_of_working_day`."""

    clock: timedelta | None = None
    working_days: int = 0
    working_time: timedelta = timedelta(0)
    end_of_working_day: bool = False

    def __post_init__(self) -> None:
        if self.working_days < 0 or self.working_time < timedelta(0):
            raise ValueError("working time allowed cannot be negative")
        if self.clock is not None and self.clock < timedelta(0):
            raise ValueError("clock time allowed cannot be negative")
        is_working = bool(self.working_days or self.working_time)
        if sum((self.clock is not None, is_working, self.end_of_working_day)) != 1:
            raise ValueError(
                "time allowed is exactly one of: clock time, working time, "
                "or the end of the working day"
            )

    def describe(self) -> str:
        if self.end_of_working_day:
            return "by the end of the working day"
        if self.clock is not None:
            return f"within {_duration(self.clock)}"
        parts = []
        if self.working_days:
            parts.append(_plural(self.working_days, "working day"))
        if self.working_time:
            parts.append(_duration(self.working_time, unit="working "))
        return "within " + " and ".join(parts)


def within(*, hours: float = 0, minutes: float = 0) -> TimeAllowed:
    """Clock time: 15 minutes is 15 minutes, whatever the day or the clocks do."""
    return TimeAllowed(clock=timedelta(hours=hours, minutes=minutes))


def within_working(*, days: int = 0, hours: float = 0, minutes: float = 0) -> TimeAllowed:
    """Working time: counted only inside working hours on working days."""
    return TimeAllowed(working_days=days, working_time=timedelta(hours=hours, minutes=minutes))


def by_end_of_working_day() -> TimeAllowed:
    return TimeAllowed(end_of_working_day=True)


@dataclass(frozen=True)
class SeverityPolicy:
    """The timescales for one severity of concern."""

    acknowledge: TimeAllowed
    decide: TimeAllowed
    # After a deadline is missed the first rung of the ladder is told at once; each later rung
    # is told this long after the missed deadline (one entry per rung after the first).
    escalate_after: tuple[TimeAllowed, ...]


# Local policy, not national rule: docs/domain.md's typical timescales (acknowledge the same working
# day or within 24 hours; the referral made within 48 hours; immediate danger means 999 now;
# children's social care decides within one working day, strategy discussion within 24 hours).
# Each partner's safeguarding lead confirms or changes these in its Timescales.
IMMEDIATE_TIMESCALES = SeverityPolicy(
    acknowledge=within(minutes=15),
    decide=within(hours=1),
    escalate_after=(within(minutes=15), within(minutes=45)),
)
HIGH_TIMESCALES = SeverityPolicy(
    acknowledge=within(hours=2),
    decide=within(hours=24),
    escalate_after=(within(hours=1), within(hours=4)),
)
STANDARD_TIMESCALES = SeverityPolicy(
    acknowledge=by_end_of_working_day(),
    decide=within_working(days=2),
    escalate_after=(within_working(hours=2), within_working(days=1)),
)
DEFAULT_TIMESCALES = {
    IMMEDIATE: IMMEDIATE_TIMESCALES,
    HIGH: HIGH_TIMESCALES,
    STANDARD: STANDARD_TIMESCALES,
}


@dataclass(frozen=True)
class Timescales:
    """One partner's safeguarding timescales, working calendar and escalation ladder."""

    policies: Mapping[str, SeverityPolicy] = field(default_factory=lambda: dict(DEFAULT_TIMESCALES))
    ladder: tuple[str, ...] = ESCALATION_LADDER
    timezone: str = LONDON
    working_day_starts: time = WORKING_DAY_STARTS
    working_day_ends: time = WORKING_DAY_ENDS
    working_weekdays: frozenset[int] = WORKING_WEEKDAYS
    bank_holidays: frozenset[date] = ENGLAND_AND_WALES_BANK_HOLIDAYS

    def __post_init__(self) -> None:
        object.__setattr__(self, "policies", dict(self.policies))
        object.__setattr__(self, "ladder", tuple(self.ladder))
        object.__setattr__(self, "working_weekdays", frozenset(self.working_weekdays))
        object.__setattr__(self, "bank_holidays", frozenset(self.bank_holidays))
        missing = [s for s in SEVERITIES if s not in self.policies]
        if missing:
            raise ValueError(f"policies: no timescales for {', '.join(missing)}")
        unknown = sorted(set(self.policies) - set(SEVERITIES))
        if unknown:
            raise ValueError(f"policies: {', '.join(unknown)} is not a severity")
        if not self.ladder or len(set(self.ladder)) != len(self.ladder):
            raise ValueError("ladder: needs at least one rung, each named once")
        for severity, policy in self.policies.items():
            if len(policy.escalate_after) != len(self.ladder) - 1:
                raise ValueError(
                    f"policies.{severity}.escalate_after: one entry per rung after the first "
                    f"({len(self.ladder) - 1})"
                )
            if any(
                step.clock is not None and step.clock <= timedelta(0)
                for step in policy.escalate_after
            ):
                raise ValueError(f"policies.{severity}.escalate_after: must be more than nothing")
        try:  # an unknown zone fails here, not at the first deadline
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: '{self.timezone}' is not a known time zone") from None
        if not self.working_day_starts < self.working_day_ends:
            raise ValueError("working_day_starts: must be before working_day_ends")
        if not self.working_weekdays or not self.working_weekdays <= set(range(7)):
            raise ValueError("working_weekdays: at least one of 0 (Monday) to 6 (Sunday)")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def policy(self, severity: str) -> SeverityPolicy:
        try:
            return self.policies[severity]
        except KeyError:
            raise ValueError(f"severity: '{severity}' is not one of {SEVERITIES}") from None


# -- the working calendar -----------------------------------------------------------------------


def is_working_day(day: date, config: Timescales) -> bool:
    return day.weekday() in config.working_weekdays and day not in config.bank_holidays


def next_working_day(day: date, config: Timescales) -> date:
    """The first working day after `day`."""
    for offset in range(1, _LOOKAHEAD_DAYS):
        candidate = day + timedelta(days=offset)
        if is_working_day(candidate, config):
            return candidate
    raise ValueError("the working calendar has no working day in the next ten years")


def _working_hours_of(day: date, config: Timescales) -> tuple[datetime, datetime]:
    """The working day's opening and closing instants, in UTC."""
    zone = config.zone
    opens = datetime.combine(day, config.working_day_starts, tzinfo=zone)
    closes = datetime.combine(day, config.working_day_ends, tzinfo=zone)
    return opens.astimezone(UTC), closes.astimezone(UTC)


def _working_day_length(config: Timescales) -> timedelta:
    # Nominal length, as a worker counts it: the clock changes fall at night.
    today = date(2000, 1, 1)
    return datetime.combine(today, config.working_day_ends) - datetime.combine(
        today, config.working_day_starts
    )


def _utc(instant: datetime, name: str = "instant") -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name}: needs a timezone (got a naive datetime)")
    return instant.astimezone(UTC)


def end_of_working_day(instant: datetime, config: Timescales) -> datetime:
    """The close of the working day `instant` falls in; when it falls after closing time or on
    a day off, the close of the next working day. Returned in UTC."""
    instant = _utc(instant)
    day = instant.astimezone(config.zone).date()
    if is_working_day(day, config):
        _, closes = _working_hours_of(day, config)
        if instant < closes:
            return closes
    _, closes = _working_hours_of(next_working_day(day, config), config)
    return closes


def add_working_time(start: datetime, amount: timedelta, config: Timescales) -> datetime:
    """The instant by which `amount` of working time has passed since `start`, in UTC."""
    cursor = _utc(start, "start")
    if amount <= timedelta(0):
        return cursor
    remaining = amount
    day = cursor.astimezone(config.zone).date()
    if not is_working_day(day, config):
        day = next_working_day(day, config)
    while True:
        opens, closes = _working_hours_of(day, config)
        cursor = max(cursor, opens)
        if cursor < closes:
            available = closes - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
        day = next_working_day(day, config)


def working_time_between(start: datetime, end: datetime, config: Timescales) -> timedelta:
    """How much working time lies between two instants (nothing when end is not after start)."""
    start, end = _utc(start, "start"), _utc(end, "end")
    total = timedelta(0)
    day = start.astimezone(config.zone).date()
    last = end.astimezone(config.zone).date()
    while day <= last:
        if is_working_day(day, config):
            opens, closes = _working_hours_of(day, config)
            overlap = min(closes, end) - max(opens, start)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total


def deadline_after(start: datetime, allowed: TimeAllowed, config: Timescales) -> datetime:
    """When `allowed` runs out, counting from `start`; in UTC."""
    start = _utc(start, "start")
    if allowed.clock is not None:
        return start + allowed.clock
    if allowed.end_of_working_day:
        return end_of_working_day(start, config)
    amount = allowed.working_days * _working_day_length(config) + allowed.working_time
    return add_working_time(start, amount, config)


def acknowledge_by(raised_at: datetime, severity: str, config: Timescales) -> datetime:
    """When a lead must have acknowledged a concern raised at `raised_at`."""
    return deadline_after(raised_at, config.policy(severity).acknowledge, config)


def decide_by(started_at: datetime, severity: str, config: Timescales) -> datetime:
    """When a decision is due: pass `acknowledged_at`, or `raised_at` while nobody has
    acknowledged the concern (a provisional deadline, shown to workers but not escalated)."""
    return deadline_after(started_at, config.policy(severity).decide, config)


# -- escalation -----------------------------------------------------------------------------------


class ConcernClock(Protocol):
    """What deadlines need of a concern: the Concern aggregate folded from its events."""

    id: str
    severity: str | None
    raised_at: datetime | None
    acknowledged_at: datetime | None
    decided_at: datetime | None
    escalation_steps: Mapping[str, int]


@dataclass(frozen=True)
class Escalation:
    """One step of the ladder that is due: step 0 is the deadline missed, told to the first
    rung; step n escalates the concern to rung n."""

    deadline: str
    step: int
    rung: str
    severity: str
    due_at: datetime
    escalate_at: datetime

    @property
    def event_type(self) -> str:
        return "DeadlineMissed" if self.step == 0 else "ConcernEscalated"

    def event_id(self, concern_id: str) -> uuid.UUID:
        """The same step of the same deadline always gets the same event id, so two timers
        appending it at once store it once."""
        name = f"peerlink:concern/{concern_id}/{self.deadline}/{self.step}"
        return uuid.uuid5(uuid.NAMESPACE_URL, name)


def open_deadlines(concern: ConcernClock, config: Timescales) -> list[tuple[str, datetime]]:
    """The deadlines the concern has still to meet (at most one at a time), with when they fall.

    The decision's clock starts when a lead acknowledges the concern: before then the missed
    acknowledgement is the one being escalated, and a second ladder for the same silence would
    only add noise."""
    if concern.raised_at is None or concern.severity is None:
        return []
    if concern.acknowledged_at is None:
        return [(ACKNOWLEDGE, acknowledge_by(concern.raised_at, concern.severity, config))]
    if concern.decided_at is None:
        return [(DECIDE, decide_by(concern.acknowledged_at, concern.severity, config))]
    return []


def deadlines_for(concern: ConcernClock, config: Timescales) -> dict[str, datetime | None]:
    """Deadlines to show a worker: `acknowledge_by`, and `decide_by` (provisional, from raising,
    until a lead acknowledges). None where the concern is not raised."""
    if concern.raised_at is None or concern.severity is None:
        return {"acknowledge_by": None, "decide_by": None}
    return {
        "acknowledge_by": acknowledge_by(concern.raised_at, concern.severity, config),
        "decide_by": decide_by(
            concern.acknowledged_at or concern.raised_at, concern.severity, config
        ),
    }


def due_escalations(concern: ConcernClock, now: datetime, config: Timescales) -> list[Escalation]:
    """The escalations due at `now` that the concern's events do not yet record, in ladder
    order. Worked out from the events alone, so a restart neither loses nor repeats one: once
    the concern has folded what this returned, the same or a later `now` returns only what has
    fallen due since."""
    now = _utc(now, "now")
    severity = concern.severity
    due: list[Escalation] = []
    if severity is None:  # not raised: nothing falls due
        return due
    for deadline, due_at in open_deadlines(concern, config):
        if now <= due_at:
            continue
        recorded = concern.escalation_steps.get(deadline, -1)
        times = escalation_times(due_at, severity, config)
        for step, (rung, step_at) in enumerate(zip(config.ladder, times, strict=True)):
            if step and now < step_at:
                break
            if step > recorded:
                due.append(Escalation(deadline, step, rung, severity, due_at, step_at))
    return due


def escalation_times(due_at: datetime, severity: str, config: Timescales) -> list[datetime]:
    """When each rung of the ladder is told about a deadline missed at `due_at`: the first at
    once, each later one after its `escalate_after`, never before the rung below it."""
    policy = config.policy(severity)
    times = [_utc(due_at, "due_at")]
    for allowed in policy.escalate_after:
        times.append(max(times[-1], deadline_after(due_at, allowed, config)))
    return times


# -- words ----------------------------------------------------------------------------------------


def _plural(count: float, unit: str) -> str:
    number = f"{count:g}"
    return f"{number} {unit}" if count == 1 else f"{number} {unit}s"


def _duration(amount: timedelta, unit: str = "") -> str:
    minutes = amount.total_seconds() / 60
    if minutes % 60:
        return _plural(minutes, f"{unit}minute")
    return _plural(minutes / 60, f"{unit}hour")
