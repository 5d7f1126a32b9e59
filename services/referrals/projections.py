"""The referrals read model: one row per referral, kept in the appending transaction so lists,
caseloads and overdue first contacts never lag the events."""

from __future__ import annotations

from datetime import date, timedelta

from contracts.referrals.codes import (
    STATUS_AFTER as STATUS_AFTER,
)
from shared.events import RecordedEvent
from shared.projections import chain

SCHEMA = "referrals"

DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.referral_list (
    referral_id           text PRIMARY KEY,
    partner_id            text NOT NULL,
    person_id             uuid NOT NULL,
    status                text NOT NULL,
    source                text NOT NULL,
    urgency               text NOT NULL,
    worker_id             text,
    received_on           date NOT NULL,
    first_contact_due_on  date NOT NULL,
    first_contact_on      date,
    is_carer_referral     boolean NOT NULL DEFAULT false,
    version               integer NOT NULL,
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS referral_list_status ON {SCHEMA}.referral_list (status, received_on);
CREATE INDEX IF NOT EXISTS referral_list_worker ON {SCHEMA}.referral_list (worker_id, status);
CREATE INDEX IF NOT EXISTS referral_list_person ON {SCHEMA}.referral_list (person_id);
"""

OFFERS_DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.incoming_offers (
    offer_id         uuid PRIMARY KEY,
    partner_id       text NOT NULL,
    from_partner     text NOT NULL,
    referral_id      text NOT NULL,
    status           text NOT NULL,
    offered_on       date NOT NULL,
    new_referral_id  text,
    version          integer NOT NULL
);
"""
# the day the partner an accepted offer came from erased its person there (their notice)
OFFERS_ERASURE_NOTICE_DDL = f"""
ALTER TABLE {SCHEMA}.incoming_offers ADD COLUMN IF NOT EXISTS erasure_noticed_on date;
"""


def add_working_days(start: date, days: int) -> date:
    """`days` working days (Monday to Friday) after `start`. Bank holidays are not known here:
    the target is a prompt for team leads, not a statutory deadline."""
    current = start
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


class ReferralList:
    name = "referral_list"

    def __init__(self, first_contact_working_days: int):
        self.first_contact_working_days = first_contact_working_days

    def __call__(self, cur, events: list[RecordedEvent]) -> None:
        for event in events:
            self.apply(cur, event)

    def apply(self, cur, event: RecordedEvent) -> None:
        p = event.payload
        if event.stream_type == "offer":
            self._apply_offer(cur, event)
            return
        if event.stream_type != "referral":
            return  # a person's or a worker's stream
        if event.event_type == "ReferralReceived":
            received = date.fromisoformat(p["received_on"])
            cur.execute(
                f"INSERT INTO {SCHEMA}.referral_list (referral_id, partner_id, person_id, status,"
                " source, urgency, received_on, first_contact_due_on, is_carer_referral, version)"
                " VALUES (%s, %s, %s, 'received', %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (referral_id) DO NOTHING",
                (
                    event.stream_id,
                    event.partner_id,
                    p["person_id"],
                    p["source"],
                    p["urgency"],
                    received,
                    add_working_days(received, self.first_contact_working_days),
                    p.get("is_carer_referral", False),
                    event.version,
                ),
            )
            return
        sets, params = ["version = %s", "updated_at = now()"], [event.version]
        if event.event_type in STATUS_AFTER:
            sets.append("status = %s")
            params.append(STATUS_AFTER[event.event_type])
        if event.event_type in ("ReferralAllocated", "ReferralReallocated"):
            sets.append("worker_id = %s")
            params.append(p["worker_id"])
        if event.event_type == "FirstContactMade":
            sets.append("first_contact_on = %s")
            params.append(p["contacted_on"])
        if event.event_type == "ReferralCorrected":
            self._corrected(p, sets, params)
        cur.execute(
            f"UPDATE {SCHEMA}.referral_list SET {', '.join(sets)} WHERE referral_id = %s",
            (*params, event.stream_id),
        )

    def _corrected(self, p: dict, sets: list, params: list) -> None:
        """A corrected date or code replaces the one the list shows (and what follows from it)."""
        name, value = p["field"], p["value"]
        if name == "received_on":
            received = date.fromisoformat(value)
            sets += ["received_on = %s", "first_contact_due_on = %s"]
            params += [received, add_working_days(received, self.first_contact_working_days)]
        elif name in ("first_contact_on", "source", "urgency"):
            sets.append(f"{name} = %s")
            params.append(value)

    def _apply_offer(self, cur, event: RecordedEvent) -> None:
        p = event.payload
        if event.event_type == "OfferReceived":
            cur.execute(
                f"INSERT INTO {SCHEMA}.incoming_offers (offer_id, partner_id, from_partner,"
                " referral_id, status, offered_on, version)"
                " VALUES (%s, %s, %s, %s, 'received', %s, %s) ON CONFLICT DO NOTHING",
                (
                    p["offer_id"],
                    event.partner_id,
                    p["from_partner"],
                    p["referral_id"],
                    p["offered_on"],
                    event.version,
                ),
            )
        elif event.event_type == "ErasureNoticeReceived":
            cur.execute(
                f"UPDATE {SCHEMA}.incoming_offers SET erasure_noticed_on = %s, version = %s"
                " WHERE offer_id = %s",
                (p["erased_on"], event.version, p["offer_id"]),
            )
        else:
            status = {
                "OfferAccepted": "accepted",
                "OfferDeclined": "declined",
                "OfferWithdrawn": "withdrawn",
                "OfferWithdrawnAfterAcceptance": "withdrawn",
            }[event.event_type]
            cur.execute(
                f"UPDATE {SCHEMA}.incoming_offers SET status = %s, version = %s,"
                " new_referral_id = coalesce(%s, new_referral_id) WHERE offer_id = %s",
                (status, event.version, p.get("new_referral_id"), p["offer_id"]),
            )

    def reset(self, cur) -> None:
        cur.execute(f"TRUNCATE {SCHEMA}.referral_list, {SCHEMA}.incoming_offers")


def person_of_referral(cur, event: RecordedEvent):
    """The person a referral stream is about (the read model is updated first)."""
    cur.execute(
        f"SELECT person_id FROM {SCHEMA}.referral_list WHERE referral_id = %s",
        (event.stream_id,),
    )
    row = cur.fetchone()
    return row[0] if row else None


def referrals_projector(first_contact_working_days: int):
    """The read model and the audit trail, kept in every appending transaction."""
    from shared.audit import change_projector
    from shared.workforce.roster import WorkerList

    return chain(
        ReferralList(first_contact_working_days),
        WorkerList(),
        change_projector("referrals", person_of_referral),
    )
