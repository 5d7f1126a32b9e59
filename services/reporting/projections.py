"""The hub's read models, built from every partner's events in their hub shape: no node id ever
reaches them, only the partner's pseudonyms (contracts/hub.py)."""

from __future__ import annotations

from psycopg2.extras import execute_values

from shared.events import RecordedEvent

SCHEMA = "reporting"


class ReferralsByMonth:
    """Referrals received per partner, source and month: each referral counted once, where its
    latest correction of `received_on` or `source` puts it (as the referrals report counts it).
    `referral_counted` remembers where each one is counted, so a correction moves it."""

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
    # where each referral is counted; filled from the facts for a hub that counted before it
    counted_ddl = f"""
    CREATE TABLE IF NOT EXISTS {SCHEMA}.referral_counted (
        partner_id   text NOT NULL,
        referral_id  text NOT NULL,
        source       text NOT NULL,
        month        date NOT NULL,
        PRIMARY KEY (partner_id, referral_id)
    );
    WITH corrected AS (
        SELECT DISTINCT ON (partner_id, stream_id, fields->>'field')
               partner_id, stream_id, fields->>'field' AS field, fields->>'value' AS value
        FROM {SCHEMA}.facts
        WHERE event_type = 'ReferralCorrected' AND fields->>'field' IN ('received_on', 'source')
        ORDER BY partner_id, stream_id, fields->>'field', version DESC)
    INSERT INTO {SCHEMA}.referral_counted (partner_id, referral_id, source, month)
    SELECT f.partner_id, f.stream_id, coalesce(sc.value, f.fields->>'source'),
           date_trunc('month', coalesce(rc.value, f.fields->>'received_on')::date)::date
    FROM {SCHEMA}.facts f
    LEFT JOIN corrected rc ON rc.partner_id = f.partner_id AND rc.stream_id = f.stream_id
      AND rc.field = 'received_on'
    LEFT JOIN corrected sc ON sc.partner_id = f.partner_id AND sc.stream_id = f.stream_id
      AND sc.field = 'source'
    WHERE f.event_type = 'ReferralReceived'
    ON CONFLICT DO NOTHING;
    TRUNCATE {SCHEMA}.referrals_by_month;
    INSERT INTO {SCHEMA}.referrals_by_month (partner_id, source, month, referrals)
    SELECT partner_id, source, month, count(*) FROM {SCHEMA}.referral_counted GROUP BY 1, 2, 3;
    """
    # the corrected fields that move a referral to another count
    MOVED_BY = ("received_on", "source")

    def apply(self, cur, event: RecordedEvent) -> None:
        self.apply_batch(cur, [event])

    def apply_batch(self, cur, events: list[RecordedEvent]) -> None:
        """In event order, kept in memory for the batch: one upsert per referral touched and
        one per partner, source and month whose count changed."""
        # (partner, referral) -> (source, month) as counted after the batch
        counted: dict[tuple[str, str], tuple[str, str]] = {}
        changes: dict[tuple[str, str, str], int] = {}
        for event in events:
            p = event.payload
            key = (event.partner_id, event.stream_id)
            if event.event_type == "ReferralReceived":
                counted[key] = (p["source"], _month(p["received_on"]))
                _count(changes, key[0], counted[key], 1)
            elif event.event_type == "ReferralCorrected" and p.get("field") in self.MOVED_BY:
                before = counted.get(key) or self._counted(cur, key)
                if before is None:
                    continue  # a referral the hub never learnt of: nothing counted to move
                source, month = before
                if p["field"] == "source":
                    source = str(p["value"])
                else:
                    month = _month(p["value"])
                counted[key] = (source, month)
                _count(changes, key[0], before, -1)
                _count(changes, key[0], counted[key], 1)
        if counted:
            execute_values(
                cur,
                f"INSERT INTO {SCHEMA}.referral_counted (partner_id, referral_id, source, month)"
                " VALUES %s ON CONFLICT (partner_id, referral_id)"
                " DO UPDATE SET source = excluded.source, month = excluded.month",
                [(*key, source, month) for key, (source, month) in counted.items()],
                template="(%s, %s, %s, %s::date)",
            )
        for (partner, source, month), n in sorted(changes.items()):
            if n == 0:
                continue
            cur.execute(
                f"INSERT INTO {SCHEMA}.referrals_by_month (partner_id, source, month, referrals)"
                " VALUES (%s, %s, %s::date, %s) ON CONFLICT (partner_id, source, month)"
                " DO UPDATE SET referrals = referrals_by_month.referrals + excluded.referrals",
                (partner, source, month, n),
            )
        if any(n < 0 for n in changes.values()):
            cur.execute(f"DELETE FROM {SCHEMA}.referrals_by_month WHERE referrals <= 0")

    @staticmethod
    def _counted(cur, key: tuple[str, str]) -> tuple[str, str] | None:
        cur.execute(
            f"SELECT source, month FROM {SCHEMA}.referral_counted"
            " WHERE partner_id = %s AND referral_id = %s",
            key,
        )
        row = cur.fetchone()
        return None if row is None else (row[0], row[1].isoformat())

    def reset(self, cur) -> None:
        cur.execute(f"TRUNCATE {SCHEMA}.referrals_by_month, {SCHEMA}.referral_counted")


def _month(day) -> str:
    return str(day)[:7] + "-01"


def _count(changes: dict, partner: str, counted: tuple[str, str], n: int) -> None:
    key = (partner, *counted)
    changes[key] = changes.get(key, 0) + n


def _projections():
    from services.reporting.facts import HubFacts

    return (ReferralsByMonth(), HubFacts())


PROJECTIONS = _projections()
CONSUMER_NAME = "hub-reports"
QUEUE = "hub.reports"


def hub_ddl() -> str:
    """The first migration's tables (later ones add theirs in deploy/migrations.py)."""
    return ReferralsByMonth.ddl
