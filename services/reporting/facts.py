"""What the hub keeps of each partner event: the hub-side schema of coded, non-identifying
fields, by event type, and the facts table built from it.

Partner events carry no identifiers (names, dates of birth, NHS numbers and free text live in
each node's vault), but the hub keeps less still: only the fields named here. A field not named
is dropped on arrival, so a field a partner adds later reaches no report until it is named
here on purpose. Every report is computed from these facts, which is also what lets a report be
worked out "as at" a past moment: only facts recorded by then are counted.
"""

from __future__ import annotations

import io
import json

from shared.events import RecordedEvent

SCHEMA = "reporting"

# event type -> payload fields the hub keeps (coded values, dates, pseudonymous ids)
HUB_FIELDS: dict[str, tuple[str, ...]] = {
    # people: coded, non-identifying fields only
    "PersonRegistered": ("age_band", "gender", "ethnicity", "postcode_district"),
    "PersonDetailsChanged": ("age_band", "gender", "ethnicity", "postcode_district"),
    "PersonErased": (),
    # referrals
    "ReferralReceived": (
        "person_id",
        "source",
        "source_group",
        "received_on",
        "urgency",
        "needs",
        "risk_level",
        "is_carer_referral",
        "transferred_from",
    ),
    "ReferralAccepted": ("accepted_on",),
    "ReferralDeclined": ("declined_on", "reason"),
    "ReferralAllocated": ("worker_id", "allocated_on"),
    "ReferralReallocated": ("worker_id", "previous_worker_id", "allocated_on"),
    "FirstContactMade": ("contacted_on",),
    "ReferralPutOnHold": ("on", "reason"),
    "ReferralResumed": ("on",),
    "ReferralDischarged": ("discharged_on", "reason"),
    "ReferralClosedWithoutContact": ("closed_on", "reason"),
    "ReferralOffered": ("to_partner", "offered_on"),
    "ReferralOfferDeclined": ("to_partner", "declined_on"),
    "ReferralTransferred": ("to_partner", "transferred_on"),
    # sessions
    "SessionBooked": ("kind", "mode", "medium_code", "location", "group_id", "person_id"),
    "SessionRecorded": (
        "kind",
        "mode",
        "medium_code",
        "location",
        "group_id",
        "referral_id",
        "person_id",
        "actual_start_at",
        "duration_minutes",
    ),
    "SessionCancelled": ("cancelled_by", "attendance_code", "reason"),
    "AttendanceRecorded": ("person_id", "status", "attendance_code"),
    "AttendanceCorrected": ("person_id", "status", "attendance_code", "previous_status"),
    "AnonymousAttendeesCounted": ("count",),
    "AnonymousAttendeesCorrected": ("count", "previous_count"),
    "GroupCreated": ("kind", "capacity", "sessions_planned", "created_on"),
    "PlanDrafted": ("person_id", "kind", "drafted_on", "review_interval_days"),
    "PlanReviewed": ("outcome", "reviewed_on"),
    "PlanClosed": ("reason", "closed_on"),
    "SignpostingRecorded": ("person_id", "destination", "signposted_on"),
    "SignpostingOutcomeRecorded": ("outcome", "recorded_on"),
    "SignpostingOutcomeCorrected": ("outcome", "previous_outcome", "corrected_on"),
    "MeasureRecorded": (
        "person_id",
        "measure",
        "timepoint",
        "taken_on",
        "raw_score",
        "metric_score",
        "referral_id",
    ),
    # safeguarding
    "ConcernSuggested": ("signal", "suggested_at"),
    "ConcernRaised": (
        "age_group",
        "categories",
        "severity",
        "immediate_risk",
        "raised_at",
        "was_suggested",
        "signal",
    ),
    "ConcernSuggestionDismissed": ("reason", "dismissed_at"),
    "ConcernAcknowledged": ("acknowledged_at", "severity", "previous_severity"),
    "ConcernDecided": ("decision", "reason", "decided_at", "previous_decision"),
    "ConcernActionAdded": ("kind", "due_on", "added_at"),
    "ConcernActionCompleted": ("outcome", "completed_at"),
    "ConcernClosed": ("outcome", "desired_outcomes_met", "closed_at"),
    "DeadlineMissed": ("deadline", "severity", "due_at", "rung"),
    "ConcernEscalated": ("deadline", "severity", "due_at", "rung", "step", "escalated_at"),
}

FACTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.facts (
    partner_id   text NOT NULL,
    stream_type  text NOT NULL,
    stream_id    text NOT NULL,
    version      integer NOT NULL,
    -- the position in the partner store it came from: the order within that store
    position     bigint NOT NULL,
    event_type   text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL,
    fields       jsonb NOT NULL,
    -- when the hub applied it: a command's delay to the hub is applied_at - recorded_at
    applied_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (partner_id, stream_type, stream_id, version)
);
CREATE INDEX IF NOT EXISTS facts_type ON {SCHEMA}.facts (event_type, partner_id);
"""

# below this many events a batch is one INSERT; from it, COPY through a staging table
COPY_FROM = 200
_STAGED = (
    "partner_id, stream_type, stream_id, version, position, event_type, occurred_at,"
    " recorded_at, fields"
)
_STAGING = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS facts_staging"
    f" (LIKE {SCHEMA}.facts INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    """A value in COPY's text format."""
    return value.translate(_COPY_ESCAPES)


def kept_fields(event: RecordedEvent) -> dict | None:
    """The fields the hub keeps of an event; None for an event type the hub does not keep."""
    names = HUB_FIELDS.get(event.event_type)
    if names is None:
        return None
    payload = event.payload
    return {name: _plain(payload.get(name)) for name in names if name in payload}


def _plain(value):
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value) if not hasattr(value, "isoformat") else value.isoformat()


class HubFacts:
    """Every kept event as one row of named fields; the ground every report stands on."""

    name = "hub_facts"
    ddl = FACTS_DDL

    def apply(self, cur, event: RecordedEvent) -> None:
        self.apply_batch(cur, [event])

    def apply_batch(self, cur, events: list[RecordedEvent]) -> None:
        """COPY into a temporary table, then one INSERT ... ON CONFLICT DO NOTHING: a replay's
        pages land at COPY speed and a redelivered event changes nothing."""
        if len(events) < COPY_FROM:
            self._insert(cur, events)
            return
        buffer = io.StringIO()
        rows = 0
        for event in events:
            fields = kept_fields(event)
            if fields is None:
                continue
            values = (
                event.partner_id,
                event.stream_type,
                event.stream_id,
                str(event.version),
                str(event.position),
                event.event_type,
                event.occurred_at.isoformat(),
                event.recorded_at.isoformat(),
                json.dumps(fields, separators=(",", ":")),
            )
            buffer.write("\t".join(_copy_text(v) for v in values))
            buffer.write("\n")
            rows += 1
        if not rows:
            return
        cur.execute(_STAGING)
        buffer.seek(0)
        cur.copy_expert(f"COPY facts_staging ({_STAGED}) FROM STDIN", buffer)
        cur.execute(
            f"INSERT INTO {SCHEMA}.facts ({_STAGED}) SELECT {_STAGED} FROM facts_staging"
            " ON CONFLICT DO NOTHING; TRUNCATE facts_staging"
        )

    @staticmethod
    def _insert(cur, events: list[RecordedEvent]) -> None:
        rows = []
        for event in events:
            fields = kept_fields(event)
            if fields is not None:
                rows.append(
                    cur.mogrify(
                        "(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        (
                            event.partner_id,
                            event.stream_type,
                            event.stream_id,
                            event.version,
                            event.position,
                            event.event_type,
                            event.occurred_at,
                            event.recorded_at,
                            json.dumps(fields, separators=(",", ":")),
                        ),
                    ).decode()
                )
        if rows:
            cur.execute(
                f"INSERT INTO {SCHEMA}.facts ({_STAGED}) VALUES {', '.join(rows)}"
                " ON CONFLICT DO NOTHING"
            )

    def reset(self, cur) -> None:
        cur.execute(f"TRUNCATE {SCHEMA}.facts")
