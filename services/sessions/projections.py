"""What the sessions service knows of other services: each referral's status, learnt from the
referrals service's events (a one-to-one needs an active referral)."""

from __future__ import annotations

from services.referrals.projections import STATUS_AFTER
from shared.events import RecordedEvent

SCHEMA = "sessions"
CONSUMER = "sessions-referral-status"

DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.referral_status (
    referral_id  text PRIMARY KEY,
    person_id    uuid NOT NULL,
    status       text NOT NULL,
    worker_id    text,
    version      integer NOT NULL
);
"""


class ReferralStatus:
    name = "referral_status"

    def apply(self, cur, event: RecordedEvent) -> None:
        if event.stream_type != "referral":
            return
        p = event.payload
        if event.event_type == "ReferralReceived":
            cur.execute(
                f"INSERT INTO {SCHEMA}.referral_status (referral_id, person_id, status, version)"
                " VALUES (%s, %s, 'received', %s) ON CONFLICT (referral_id) DO NOTHING",
                (event.stream_id, p["person_id"], event.version),
            )
            return
        status = STATUS_AFTER.get(event.event_type)
        worker = p.get("worker_id")
        cur.execute(
            f"UPDATE {SCHEMA}.referral_status SET status = coalesce(%s, status),"
            " worker_id = coalesce(%s, worker_id), version = %s WHERE referral_id = %s",
            (status, worker, event.version, event.stream_id),
        )

    def reset(self, cur) -> None:
        cur.execute(f"TRUNCATE {SCHEMA}.referral_status")


def referral_status(cur, referral_id: str) -> dict | None:
    cur.execute(
        f"SELECT person_id, status, worker_id FROM {SCHEMA}.referral_status WHERE referral_id = %s",
        (referral_id,),
    )
    row = cur.fetchone()
    return None if row is None else {"person_id": row[0], "status": row[1], "worker_id": row[2]}
