"""The hub's read models, built from every partner's events. No identifier ever reaches them."""

from __future__ import annotations

from shared.events import RecordedEvent

SCHEMA = "reporting"


class ReferralsByMonth:
    """Referrals received per partner, source and month."""

    name = "referrals_by_month"
    ddl = f"""
    CREATE TABLE IF NOT EXISTS {SCHEMA}.referrals_by_month (
        partner_id  text NOT NULL,
        source      text NOT NULL,
        month       date NOT NULL,
        referrals   integer NOT NULL,
        PRIMARY KEY (partner_id, source, month)
    );
    """

    def apply(self, cur, event: RecordedEvent) -> None:
        if event.event_type != "ReferralReceived":
            return
        cur.execute(
            f"INSERT INTO {SCHEMA}.referrals_by_month (partner_id, source, month, referrals)"
            " VALUES (%s, %s, date_trunc('month', %s::date)::date, 1)"
            " ON CONFLICT (partner_id, source, month)"
            " DO UPDATE SET referrals = referrals_by_month.referrals + 1",
            (event.partner_id, event.payload["source"], event.payload["received_on"]),
        )

    def apply_batch(self, cur, events: list[RecordedEvent]) -> None:
        """One upsert per partner, source and month of the batch."""
        counts: dict[tuple, int] = {}
        for event in events:
            if event.event_type == "ReferralReceived":
                p = event.payload
                key = (event.partner_id, p["source"], str(p["received_on"])[:7] + "-01")
                counts[key] = counts.get(key, 0) + 1
        for (partner, source, month), n in sorted(counts.items()):
            cur.execute(
                f"INSERT INTO {SCHEMA}.referrals_by_month (partner_id, source, month, referrals)"
                " VALUES (%s, %s, %s::date, %s) ON CONFLICT (partner_id, source, month)"
                " DO UPDATE SET referrals = referrals_by_month.referrals + excluded.referrals",
                (partner, source, month, n),
            )

    def reset(self, cur) -> None:
        cur.execute(f"TRUNCATE {SCHEMA}.referrals_by_month")


def _projections():
    from services.reporting.facts import HubFacts

    return (ReferralsByMonth(), HubFacts())


PROJECTIONS = _projections()
CONSUMER_NAME = "hub-reports"
QUEUE = "hub.reports"


def hub_ddl() -> str:
    """The first migration's tables (later ones add theirs in deploy/migrations.py)."""
    return ReferralsByMonth.ddl
