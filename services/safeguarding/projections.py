"""The safeguarding read model: one row per concern with its open deadline and when the timer
must next look at it, kept in the appending transaction so the lead's inbox never lags the
events and a deadline is found from the table after any restart."""

from __future__ import annotations

from datetime import datetime

from services.safeguarding.domain.deadlines import (
    ACKNOWLEDGE,
    DECIDE,
    Timescales,
    acknowledge_by,
    decide_by,
    escalation_times,
)
from services.safeguarding.notifications import NotificationOutbox
from shared.events import RecordedEvent

SCHEMA = "safeguarding"

DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.concern_list (
    concern_id         text PRIMARY KEY,
    partner_id         text NOT NULL,
    person_id          uuid,
    status             text NOT NULL,
    age_group          text,
    categories         text[] NOT NULL DEFAULT '{{}}',
    severity           text,
    immediate_risk     boolean NOT NULL DEFAULT false,
    raised_by          text,
    raised_at          timestamptz,
    acknowledged_at    timestamptz,
    decision           text,
    decided_at         timestamptz,
    closed_at          timestamptz,
    outcome            text,
    open_deadline      text,
    due_at             timestamptz,
    escalation_step    integer,
    escalated_to       text,
    check_at           timestamptz,
    deadlines_missed   integer NOT NULL DEFAULT 0,
    open_actions       integer NOT NULL DEFAULT 0,
    version            integer NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS concern_list_inbox ON {SCHEMA}.concern_list (partner_id, status, due_at);
CREATE INDEX IF NOT EXISTS concern_list_check ON {SCHEMA}.concern_list (check_at)
    WHERE check_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS concern_list_raiser ON {SCHEMA}.concern_list (raised_by);
"""

TABLES = ("concern_list",)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


class ConcernList:
    """`check_at` is the next instant something may fall due: the open deadline, then each
    later rung of the ladder; NULL when nothing can (decided, closed, top rung told)."""

    name = "concern_list"

    def __init__(self, timescales: Timescales):
        self.timescales = timescales

    def __call__(self, cur, events: list[RecordedEvent]) -> None:
        for event in events:
            self.apply(cur, event)

    def _deadline(self, deadline: str, due_at: datetime) -> dict:
        return {
            "open_deadline": deadline,
            "due_at": due_at,
            "check_at": due_at,
            "escalation_step": None,
            "escalated_to": None,
        }

    def _changes(self, cur, event: RecordedEvent) -> dict | None:
        p = event.payload
        kind = event.event_type
        if kind == "ConcernPersonIdentified":
            return {"person_id": p["person_id"]}
        if kind == "ConcernSuggestionDismissed":
            return {"status": "dismissed"}
        if kind == "ConcernAcknowledged":
            at = _at(p["acknowledged_at"])
            due = decide_by(at, p["severity"], self.timescales)
            return {
                "status": "acknowledged",
                "acknowledged_at": at,
                "severity": p["severity"],
                **self._deadline(DECIDE, due),
            }
        if kind == "ConcernDecided":
            return {
                "status": "decided",
                "decision": p["decision"],
                "decided_at": ("coalesce(decided_at, %s)", _at(p["decided_at"])),
                "open_deadline": None,
                "due_at": None,
                "check_at": None,
            }
        if kind == "ConcernDecisionRevised":
            # the first decision met the deadline; a revision changes only the route
            return {"decision": p["decision"]}
        if kind == "ConcernActionAdded":
            return {"open_actions": ("open_actions + 1",)}
        if kind == "ConcernActionCompleted":
            return {"open_actions": ("open_actions - 1",)}
        if kind == "ConcernClosed":
            return {
                "status": "closed",
                "outcome": p["outcome"],
                "closed_at": _at(p["closed_at"]),
                "open_deadline": None,
                "due_at": None,
                "check_at": None,
            }
        if kind in ("DeadlineMissed", "ConcernEscalated"):
            step = p.get("step", 0)
            times = escalation_times(_at(p["due_at"]), p["severity"], self.timescales)
            return {
                "escalation_step": step,
                "escalated_to": p["rung"],
                "check_at": times[step + 1] if step + 1 < len(times) else None,
                "deadlines_missed": ("deadlines_missed + %s", 1 if step == 0 else 0),
            }
        return {}  # notes, notifications: the version moves

    def apply(self, cur, event: RecordedEvent) -> None:
        p = event.payload
        if event.event_type == "ConcernSuggested":
            cur.execute(
                f"INSERT INTO {SCHEMA}.concern_list (concern_id, partner_id, person_id, status,"
                " raised_by, version) VALUES (%s, %s, %s, 'suggested', %s, %s)"
                " ON CONFLICT DO NOTHING",
                # until a worker confirms it, the one who flagged it sees it in their list
                (
                    event.stream_id,
                    event.partner_id,
                    p["person_id"],
                    event.actor.user_id,
                    event.version,
                ),
            )
            return
        if event.event_type == "ConcernRaised":
            raised_at = _at(p["raised_at"])
            due = acknowledge_by(raised_at, p["severity"], self.timescales)
            row = {
                "partner_id": event.partner_id,
                "person_id": p.get("person_id"),
                "status": "raised",
                "age_group": p["age_group"],
                "categories": list(p["categories"]),
                "severity": p["severity"],
                "immediate_risk": p["immediate_risk"],
                "raised_by": p["raised_by"],
                "raised_at": raised_at,
                **self._deadline(ACKNOWLEDGE, due),
                "version": event.version,
            }
            columns = ", ".join(row)
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in row if c != "partner_id")
            cur.execute(
                f"INSERT INTO {SCHEMA}.concern_list (concern_id, {columns})"
                f" VALUES (%s, {', '.join(['%s'] * len(row))})"
                f" ON CONFLICT (concern_id) DO UPDATE SET {updates}",
                (event.stream_id, *row.values()),
            )
            return
        sets, params = ["version = %s", "updated_at = now()"], [event.version]
        for column, value in self._changes(cur, event).items():
            if isinstance(value, tuple):  # an expression over the row's current value
                sets.append(f"{column} = {value[0]}")
                params.extend(value[1:])
            else:
                sets.append(f"{column} = %s")
                params.append(value)
        cur.execute(
            f"UPDATE {SCHEMA}.concern_list SET {', '.join(sets)} WHERE concern_id = %s",
            (*params, event.stream_id),
        )

    def reset(self, cur) -> None:
        cur.execute(f"TRUNCATE {SCHEMA}.concern_list")


def person_of_concern(cur, event: RecordedEvent):
    """The person a concern is about, for the audit trail (the read model is updated first)."""
    cur.execute(
        f"SELECT person_id FROM {SCHEMA}.concern_list WHERE concern_id = %s", (event.stream_id,)
    )
    row = cur.fetchone()
    return row[0] if row else None


def safeguarding_projector(timescales: Timescales, outbox: NotificationOutbox):
    """The read model, the notifications each event calls for, and the audit trail: all in
    every appending transaction, so none is ever written without the others."""
    from shared.audit import change_projector

    projectors = (
        ConcernList(timescales),
        outbox,
        change_projector("safeguarding", person_of_concern),
    )

    def project(cur, events):
        for projector in projectors:
            projector(cur, events)

    return project
