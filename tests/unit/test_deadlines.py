"""Safeguarding deadlines: counted in clock time or in a partner's working time on the local
clock, right over weekends, bank holidays and both clock changes; and escalations that are
each due once, from the concern's events alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.safeguarding.domain import deadlines
from services.safeguarding.domain.deadlines import (
    ACKNOWLEDGE,
    DECIDE,
    HIGH,
    IMMEDIATE,
    SEVERITIES,
    STANDARD,
    SeverityPolicy,
    TimeAllowed,
    Timescales,
    acknowledge_by,
    add_working_time,
    by_end_of_working_day,
    decide_by,
    due_escalations,
    within,
    within_working,
    working_time_between,
)

pytestmark = pytest.mark.unit

LONDON = ZoneInfo("Europe/London")
DEFAULT = Timescales()


def london(text: str, fold: int = 0) -> datetime:
    """A wall-clock time in London, e.g. "2026-03-27 15:00" (fold=1: the second 01:xx of the
    night the clocks go back)."""
    return datetime.fromisoformat(text).replace(tzinfo=LONDON, fold=fold)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (what, severity, raised at in London, acknowledge by in London, decide by from raising)
CASES = [
    # an ordinary Monday
    ("monday-morning", STANDARD, "2026-03-02 10:00", "2026-03-02 17:00", "2026-03-04 10:00"),
    ("monday-immediate", IMMEDIATE, "2026-03-02 10:00", "2026-03-02 10:15", "2026-03-02 11:00"),
    ("monday-high", HIGH, "2026-03-02 10:00", "2026-03-02 12:00", "2026-03-03 10:00"),
    # Friday afternoon: the working days carry over the weekend
    ("friday-afternoon", STANDARD, "2026-03-06 15:30", "2026-03-06 17:00", "2026-03-10 15:30"),
    ("friday-after-hours", STANDARD, "2026-03-06 17:30", "2026-03-09 17:00", "2026-03-10 17:00"),
    ("friday-at-closing", STANDARD, "2026-03-06 17:00", "2026-03-09 17:00", "2026-03-10 17:00"),
    ("saturday", STANDARD, "2026-03-07 11:00", "2026-03-09 17:00", "2026-03-10 17:00"),
    ("before-opening", STANDARD, "2026-03-09 07:45", "2026-03-09 17:00", "2026-03-10 17:00"),
    # high and immediate concerns run round the clock
    ("friday-high", HIGH, "2026-03-06 16:30", "2026-03-06 18:30", "2026-03-07 16:30"),
    ("friday-immediate", IMMEDIATE, "2026-03-06 16:55", "2026-03-06 17:10", "2026-03-06 17:55"),
    # Easter 2026: Good Friday 3 April and Easter Monday 6 April are bank holidays
    ("before-easter", STANDARD, "2026-04-02 15:00", "2026-04-02 17:00", "2026-04-08 15:00"),
    ("good-friday", STANDARD, "2026-04-03 10:00", "2026-04-07 17:00", "2026-04-08 17:00"),
    ("easter-monday", HIGH, "2026-04-06 10:00", "2026-04-06 12:00", "2026-04-07 10:00"),
    # the Friday before the spring bank holiday (Monday 25 May 2026)
    ("spring-bank-holiday", STANDARD, "2026-05-22 16:00", "2026-05-22 17:00", "2026-05-27 16:00"),
    # Christmas Eve 2026 after hours: Christmas Day, a weekend and the Boxing Day substitute
    ("christmas-eve", STANDARD, "2026-12-24 17:30", "2026-12-29 17:00", "2026-12-30 17:00"),
    # clocks go forward at 01:00 GMT on Sunday 29 March 2026
    ("spring-saturday", STANDARD, "2026-03-28 17:00", "2026-03-30 17:00", "2026-03-31 17:00"),
    ("spring-friday", STANDARD, "2026-03-27 15:00", "2026-03-27 17:00", "2026-03-31 15:00"),
    ("spring-high", HIGH, "2026-03-28 17:00", "2026-03-28 19:00", "2026-03-29 18:00"),
    ("spring-gap", IMMEDIATE, "2026-03-29 00:30", "2026-03-29 00:45", "2026-03-29 02:30"),
    # clocks go back at 01:00 GMT on Sunday 25 October 2026
    ("autumn-saturday", STANDARD, "2026-10-24 17:00", "2026-10-26 17:00", "2026-10-27 17:00"),
    ("autumn-friday", STANDARD, "2026-10-23 15:00", "2026-10-23 17:00", "2026-10-27 15:00"),
    ("autumn-high", HIGH, "2026-10-24 17:00", "2026-10-24 19:00", "2026-10-25 16:00"),
]


@pytest.mark.parametrize(
    ("severity", "raised", "acknowledge", "decide"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_deadlines_from_raising(severity, raised, acknowledge, decide):
    raised_at = london(raised)
    ack = acknowledge_by(raised_at, severity, DEFAULT)
    due = decide_by(raised_at, severity, DEFAULT)
    assert ack == london(acknowledge) and ack.tzinfo is UTC
    assert due == london(decide) and due.tzinfo is UTC


def test_raised_on_the_saturday_before_the_clocks_go_forward_in_utc():
    raised_at = london("2026-03-28 17:00")
    assert raised_at.astimezone(UTC) == utc("2026-03-28 17:00")
    # Monday and Tuesday are in BST: 17:00 there is 16:00 UTC
    assert acknowledge_by(raised_at, STANDARD, DEFAULT) == utc("2026-03-30 16:00")
    assert decide_by(raised_at, STANDARD, DEFAULT) == utc("2026-03-31 16:00")
    # 24 hours are 24 real hours, though the local clock then reads 18:00
    assert decide_by(raised_at, HIGH, DEFAULT) - raised_at == timedelta(hours=24)


def test_raised_on_the_saturday_before_the_clocks_go_back_in_utc():
    raised_at = london("2026-10-24 17:00")
    assert raised_at.astimezone(UTC) == utc("2026-10-24 16:00")
    assert acknowledge_by(raised_at, STANDARD, DEFAULT) == utc("2026-10-26 17:00")
    assert decide_by(raised_at, HIGH, DEFAULT) == utc("2026-10-25 16:00")


def test_an_hour_is_an_hour_in_the_night_the_clock_repeats_one():
    raised_at = london("2026-10-25 01:30", fold=0)  # BST, 00:30 UTC
    due = decide_by(raised_at, IMMEDIATE, DEFAULT)
    assert due == utc("2026-10-25 01:30")
    assert due - raised_at.astimezone(UTC) == timedelta(hours=1)
    local = due.astimezone(LONDON)
    assert (local.hour, local.minute, local.fold) == (1, 30, 1)  # the second 01:30, in GMT


def test_deciding_counts_from_acknowledgement():
    acknowledged_at = london("2026-03-06 16:00")  # a Friday
    assert decide_by(acknowledged_at, STANDARD, DEFAULT) == london("2026-03-10 16:00")


def test_a_partner_may_allow_24_hours_to_acknowledge_instead_of_the_working_day():
    policies = {**deadlines.DEFAULT_TIMESCALES}
    policies[STANDARD] = SeverityPolicy(
        acknowledge=within(hours=24),
        decide=within_working(days=2),
        escalate_after=deadlines.STANDARD_TIMESCALES.escalate_after,
    )
    config = Timescales(policies=policies)
    raised_at = london("2026-03-06 15:00")
    assert acknowledge_by(raised_at, STANDARD, config) == london("2026-03-07 15:00")


def test_a_partners_own_closure_days_and_office_hours_count():
    config = Timescales(
        bank_holidays=deadlines.ENGLAND_AND_WALES_BANK_HOLIDAYS | {date(2026, 3, 9)},
        working_day_starts=time(8, 30),
        working_day_ends=time(16, 30),
    )
    raised_at = london("2026-03-06 16:45")  # after this partner's closing time, on a Friday
    assert acknowledge_by(raised_at, STANDARD, config) == london("2026-03-10 16:30")
    assert decide_by(raised_at, STANDARD, config) == london("2026-03-11 16:30")


def test_working_time_added_and_measured_agree_across_a_weekend_and_clock_change():
    start = london("2026-03-27 16:00")
    end = add_working_time(start, timedelta(hours=3), DEFAULT)
    assert end == london("2026-03-30 11:00")
    assert working_time_between(start, end, DEFAULT) == timedelta(hours=3)


@pytest.mark.parametrize(
    ("allowed", "words"),
    [
        (within(minutes=15), "within 15 minutes"),
        (within(hours=1), "within 1 hour"),
        (within(hours=24), "within 24 hours"),
        (within_working(days=2), "within 2 working days"),
        (within_working(hours=2), "within 2 working hours"),
        (by_end_of_working_day(), "by the end of the working day"),
    ],
)
def test_time_allowed_reads_as_policy(allowed, words):
    assert allowed.describe() == words


@pytest.mark.parametrize(
    "make",
    [
        lambda: TimeAllowed(),
        lambda: TimeAllowed(clock=timedelta(hours=1), working_days=1),
        lambda: TimeAllowed(working_days=1, end_of_working_day=True),
        lambda: TimeAllowed(clock=timedelta(hours=-1)),
        lambda: TimeAllowed(working_days=-1),
        lambda: Timescales(policies={STANDARD: deadlines.STANDARD_TIMESCALES}),
        lambda: Timescales(ladder=("duty_lead", "head_of_service")),
        lambda: Timescales(ladder=()),
        lambda: Timescales(timezone="Europe/Nowhere"),
        lambda: Timescales(working_day_starts=time(17), working_day_ends=time(9)),
        lambda: Timescales(working_weekdays=frozenset()),
        lambda: Timescales(working_weekdays=frozenset({7})),
    ],
    ids=[
        "no-time",
        "clock-and-working",
        "working-and-end-of-day",
        "negative-clock",
        "negative-working",
        "missing-severities",
        "ladder-longer-than-policies-allow",
        "no-ladder",
        "unknown-timezone",
        "day-ends-before-it-starts",
        "no-working-days",
        "no-such-weekday",
    ],
)
def test_a_configuration_mistake_is_refused_when_it_is_made(make):
    with pytest.raises(ValueError):
        make()


def test_naive_times_and_unknown_severities_are_refused():
    with pytest.raises(ValueError, match="timezone"):
        acknowledge_by(datetime(2026, 3, 2, 10), STANDARD, DEFAULT)
    with pytest.raises(ValueError, match="severity"):
        acknowledge_by(london("2026-03-02 10:00"), "urgent", DEFAULT)


# -- escalation ------------------------------------------------------------------------------


@dataclass
class Clock:
    """A concern's deadline state, as the Concern aggregate folds it from its events."""

    severity: str = STANDARD
    raised_at: datetime | None = None
    acknowledged_at: datetime | None = None
    decided_at: datetime | None = None
    id: str = "c1"
    escalation_steps: dict[str, int] = field(default_factory=dict)

    def fold(self, escalations) -> None:
        for e in escalations:
            assert e.step == self.escalation_steps.get(e.deadline, -1) + 1, "ladder order"
            self.escalation_steps[e.deadline] = e.step


def steps(escalations) -> list[tuple[str, int, str]]:
    return [(e.deadline, e.step, e.rung) for e in escalations]


def test_nothing_is_due_before_or_at_the_deadline():
    clock = Clock(IMMEDIATE, raised_at=london("2026-03-02 10:00"))
    assert due_escalations(clock, london("2026-03-02 10:14"), DEFAULT) == []
    assert due_escalations(clock, london("2026-03-02 10:15"), DEFAULT) == []


def test_a_missed_acknowledgement_climbs_the_ladder_rung_by_rung():
    clock = Clock(IMMEDIATE, raised_at=london("2026-03-02 10:00"))
    [missed] = due_escalations(clock, london("2026-03-02 10:15:01"), DEFAULT)
    assert steps([missed]) == [(ACKNOWLEDGE, 0, "duty_lead")]
    assert missed.event_type == "DeadlineMissed" and missed.due_at == london("2026-03-02 10:15")
    clock.fold([missed])
    assert due_escalations(clock, london("2026-03-02 10:29"), DEFAULT) == []
    [deputy] = due_escalations(clock, london("2026-03-02 10:30"), DEFAULT)
    assert steps([deputy]) == [(ACKNOWLEDGE, 1, "deputy_lead")]
    assert deputy.event_type == "ConcernEscalated"
    assert deputy.escalate_at == london("2026-03-02 10:30")
    clock.fold([deputy])
    [head] = due_escalations(clock, london("2026-03-02 11:00"), DEFAULT)
    assert steps([head]) == [(ACKNOWLEDGE, 2, "head_of_service")]
    clock.fold([head])
    assert due_escalations(clock, london("2026-03-09 11:00"), DEFAULT) == []


def test_after_a_restart_every_rung_now_due_is_returned_in_order():
    clock = Clock(STANDARD, raised_at=london("2026-03-27 15:00"))
    due = due_escalations(clock, london("2026-04-01 09:00"), DEFAULT)
    assert steps(due) == [
        (ACKNOWLEDGE, 0, "duty_lead"),
        (ACKNOWLEDGE, 1, "deputy_lead"),
        (ACKNOWLEDGE, 2, "head_of_service"),
    ]
    # missed at Friday's close; two working hours later is Monday 11:00, in BST by then
    assert [e.escalate_at for e in due] == [
        london("2026-03-27 17:00"),
        london("2026-03-30 11:00"),
        london("2026-03-30 17:00"),
    ]


def test_an_acknowledged_concern_escalates_its_decision_instead():
    clock = Clock(
        HIGH,
        raised_at=london("2026-03-02 10:00"),
        acknowledged_at=london("2026-03-02 13:00"),
        escalation_steps={ACKNOWLEDGE: 0},
    )
    assert due_escalations(clock, london("2026-03-03 13:00"), DEFAULT) == []
    due = due_escalations(clock, london("2026-03-03 14:00"), DEFAULT)
    assert steps(due) == [(DECIDE, 0, "duty_lead"), (DECIDE, 1, "deputy_lead")]
    assert due[0].due_at == london("2026-03-03 13:00")


def test_a_decided_concern_has_nothing_to_escalate():
    clock = Clock(
        IMMEDIATE,
        raised_at=london("2026-03-02 10:00"),
        acknowledged_at=london("2026-03-02 10:05"),
        decided_at=london("2026-03-02 12:00"),
    )
    assert due_escalations(clock, london("2026-03-09 10:00"), DEFAULT) == []


def test_a_concern_not_raised_has_nothing_to_escalate():
    assert due_escalations(Clock(), london("2026-03-09 10:00"), DEFAULT) == []


def test_a_later_rung_is_never_told_before_an_earlier_one():
    policies = {**deadlines.DEFAULT_TIMESCALES}
    policies[IMMEDIATE] = SeverityPolicy(
        acknowledge=within(minutes=15),
        decide=within(hours=1),
        escalate_after=(within(minutes=30), within(minutes=10)),
    )
    clock = Clock(IMMEDIATE, raised_at=london("2026-03-02 10:00"))
    due = due_escalations(clock, london("2026-03-02 10:40"), Timescales(policies=policies))
    assert steps(due) == [(ACKNOWLEDGE, 0, "duty_lead")]
    due = due_escalations(clock, london("2026-03-02 10:45"), Timescales(policies=policies))
    assert [e.step for e in due] == [0, 1, 2]
    assert due[1].escalate_at == due[2].escalate_at == london("2026-03-02 10:45")


def test_the_same_step_always_has_the_same_event_id():
    clock = Clock(IMMEDIATE, raised_at=london("2026-03-02 10:00"))
    first = due_escalations(clock, london("2026-03-02 10:20"), DEFAULT)
    again = due_escalations(clock, london("2026-03-02 10:25"), DEFAULT)
    assert [e.event_id("c1") for e in first] == [e.event_id("c1") for e in again]
    assert first[0].event_id("c1") != first[0].event_id("c2")


# -- properties -----------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 11, 30), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(raised_at=instants, severity=st.sampled_from(SEVERITIES))
def test_a_decision_is_never_due_before_the_acknowledgement(raised_at, severity):
    ack = acknowledge_by(raised_at, severity, DEFAULT)
    assert raised_at <= ack <= decide_by(raised_at, severity, DEFAULT)


@settings(max_examples=300, deadline=None)
@given(
    first=instants,
    later_by=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
    severity=st.sampled_from(SEVERITIES),
)
def test_deadlines_never_move_earlier_for_a_later_concern(first, later_by, severity):
    second = first + later_by
    assert acknowledge_by(first, severity, DEFAULT) <= acknowledge_by(second, severity, DEFAULT)
    assert decide_by(first, severity, DEFAULT) <= decide_by(second, severity, DEFAULT)


@settings(max_examples=300, deadline=None)
@given(start=instants, minutes=st.integers(min_value=0, max_value=10 * 8 * 60))
def test_working_time_added_is_the_working_time_measured(start, minutes):
    amount = timedelta(minutes=minutes)
    end = add_working_time(start, amount, DEFAULT)
    assert end >= start
    assert working_time_between(start, end, DEFAULT) == amount


@settings(max_examples=200, deadline=None)
@given(
    raised_at=instants,
    severity=st.sampled_from(SEVERITIES),
    first=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=6)),
    then=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=6)),
)
def test_evaluating_again_gives_only_what_fell_due_since(raised_at, severity, first, then):
    clock = Clock(severity, raised_at=raised_at)
    due = due_escalations(clock, raised_at + first, DEFAULT)
    clock.fold(due)
    assert due_escalations(clock, raised_at + first, DEFAULT) == []
    later = due_escalations(clock, raised_at + first + then, DEFAULT)
    clock.fold(later)  # each new step follows the last one recorded
    assert not {(e.deadline, e.step) for e in due} & {(e.deadline, e.step) for e in later}
    assert due_escalations(clock, raised_at + first + then, DEFAULT) == []
