"""The alliance's monitoring and impact reports, each worked out from the hub's facts for a
period, a set of partners and a moment ("as at": only facts recorded by then count), and
published through small-number suppression.

Every count report is a table: rows (a partner, a partner and month, ...) by categories, with
row and column totals, suppressed as one table so that no hidden cell can be recovered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from contracts.referrals import codes as referral_codes
from contracts.referrals.codes import STATUS_AFTER
from contracts.safeguarding import codes as safeguarding_codes
from contracts.sessions import codes as sessions
from contracts.sessions import measures
from services.reporting.facts import SCHEMA
from services.reporting.suppression import Policy, rate, statistic, suppress_table

REFERRAL_SOURCES = tuple(referral_codes.REFERRAL_SOURCES)
OPEN_STATES = ("allocated", "active", "on_hold")
SEEN = tuple(sessions.SEEN)
ATTENDANCE_STATES = ("attended", "late_seen", "late_not_seen", "did_not_attend")
SIGNPOSTING_OUTCOMES = tuple(sessions.SIGNPOSTING_OUTCOMES)
WELLBEING_OUTCOMES = (measures.IMPROVED, measures.NO_RELIABLE_CHANGE, measures.DETERIORATED)
# adult categories (Care Act and local) then the children's, as raised
CONCERN_CATEGORIES = safeguarding_codes.ADULT_CATEGORIES + safeguarding_codes.CHILD_CATEGORIES


@dataclass(frozen=True)
class Scope:
    partners: tuple[str, ...]  # empty: every partner
    start: date | None
    end: date | None
    as_at: datetime

    def params(self) -> dict:
        return {
            "as_at": self.as_at,
            "every_partner": not self.partners,
            "partners": list(self.partners),
            "start": self.start or date(1900, 1, 1),
            "end": self.end or date(9999, 12, 31),
        }


# the facts a report may see: recorded by the moment asked for, of the partners asked for
# (written into each subquery, so the planner sees the table and its statistics)
FACTS = (
    f"{SCHEMA}.facts WHERE recorded_at <= %(as_at)s"
    " AND (%(every_partner)s OR partner_id = ANY(%(partners)s)) AND"
)


@dataclass
class Table:
    name: str
    title: str
    dimensions: tuple[str, ...]
    categories: tuple[str, ...]
    # row key (one value per dimension) -> category -> count
    counts: dict[tuple, dict[str, int]] = field(default_factory=dict)
    # row key -> further published values for the row, worked out from the published counts
    extras: Callable[[dict], dict] | None = None

    def add(self, key: tuple, category: str, count: int) -> None:
        row = self.counts.setdefault(key, dict.fromkeys(self.categories, 0))
        if category in row:
            row[category] += count

    def publish(self, policy: Policy) -> dict:
        keys = sorted(self.counts, key=lambda k: tuple(str(v) for v in k))
        matrix = [[self.counts[key][c] for c in self.categories] for key in keys]
        if not matrix:
            matrix_cells, row_totals, column_totals, grand = [], [], [0] * len(self.categories), 0
        else:
            matrix_cells, row_totals, column_totals, grand = suppress_table(matrix, policy)
        rows = []
        for key, cells, total in zip(keys, matrix_cells, row_totals, strict=True):
            row = dict(zip(self.dimensions, key, strict=True))
            row["counts"] = dict(zip(self.categories, cells, strict=True))
            row["total"] = total
            if self.extras:
                row.update(self.extras(row))
            rows.append(row)
        totals = {"counts": dict(zip(self.categories, column_totals, strict=True)), "total": grand}
        if self.extras:
            totals.update(self.extras(totals))
        return {
            "name": self.name,
            "title": self.title,
            "dimensions": list(self.dimensions),
            "categories": list(self.categories),
            "rows": rows,
            "totals": totals,
        }


def _query(cur, sql: str, scope: Scope, extra: dict | None = None) -> list[tuple]:
    cur.execute(sql.replace("{FACTS}", FACTS), {**scope.params(), **(extra or {})})
    return cur.fetchall()


# -- referrals ---------------------------------------------------------------------------------

# Each referral as received, with the latest correction (recorded by the moment asked for) of
# its received_on and source applied; `corrected` also serves other corrected fields.
_REFERRALS = """corrected AS (
             SELECT DISTINCT ON (partner_id, stream_id, fields->>'field')
                    partner_id, stream_id, fields->>'field' AS field, fields->>'value' AS value
             FROM {FACTS} event_type = 'ReferralCorrected'
             ORDER BY partner_id, stream_id, fields->>'field', version DESC),
           referral AS (
             SELECT f.partner_id, f.stream_id,
                    coalesce(rc.value, f.fields->>'received_on')::date AS received_on,
                    coalesce(sc.value, f.fields->>'source') AS source
             FROM (SELECT partner_id, stream_id, fields
                   FROM {FACTS} event_type = 'ReferralReceived') f
             LEFT JOIN corrected rc ON rc.partner_id = f.partner_id
               AND rc.stream_id = f.stream_id AND rc.field = 'received_on'
             LEFT JOIN corrected sc ON sc.partner_id = f.partner_id
               AND sc.stream_id = f.stream_id AND sc.field = 'source')"""


def referrals(cur, scope: Scope, policy: Policy) -> dict:
    table = Table(
        "referrals",
        "Referrals received, by partner, month and source",
        ("partner_id", "month"),
        REFERRAL_SOURCES,
    )
    for partner, month, source, count in _query(
        cur,
        f"""WITH {_REFERRALS}
           SELECT partner_id, to_char(received_on, 'YYYY-MM'), source, count(*)
           FROM referral WHERE received_on BETWEEN %(start)s AND %(end)s
           GROUP BY 1, 2, 3""",
        scope,
    ):
        table.add((partner, month), source, count)
    return {"tables": [table.publish(policy)]}


def waits(cur, scope: Scope, policy: Policy) -> dict:
    """Days from a referral being received to first contact, for first contacts made in the
    period: median and 90th percentile per partner."""
    rows = _query(
        cur,
        f"""WITH {_REFERRALS},
           contacted AS (
             SELECT c.partner_id, c.stream_id, coalesce(fc.value::date, c.on_) AS on_
             FROM (SELECT partner_id, stream_id, min((fields->>'contacted_on')::date) AS on_
                   FROM {{FACTS}} event_type = 'FirstContactMade' GROUP BY 1, 2) c
             LEFT JOIN corrected fc ON fc.partner_id = c.partner_id
               AND fc.stream_id = c.stream_id AND fc.field = 'first_contact_on')
           SELECT r.partner_id, count(*),
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY c.on_ - r.received_on),
                  percentile_cont(0.9) WITHIN GROUP (ORDER BY c.on_ - r.received_on)
           FROM referral r JOIN contacted c USING (partner_id, stream_id)
           WHERE c.on_ BETWEEN %(start)s AND %(end)s
           GROUP BY 1 ORDER BY 1""",
        scope,
    )
    published = []
    for partner, n, median, p90 in rows:
        published.append(
            {
                "partner_id": partner,
                "first_contacts": "*" if policy.hides(n) else policy.shown(n),
                "median_days": statistic(round(float(median), 1), n, policy),
                "p90_days": statistic(round(float(p90), 1), n, policy),
            }
        )
    return {
        "tables": [
            {
                "name": "waits",
                "title": "Days from referral to first contact, for first contacts in the period",
                "rows": published,
            }
        ]
    }


def caseload(cur, scope: Scope, policy: Policy) -> dict:
    """Open referrals per partner and worker as at the moment asked for."""
    status_of = " ".join(
        f"WHEN '{event}' THEN '{status}'" for event, status in STATUS_AFTER.items()
    )
    table = Table(
        "caseload",
        "Open referrals by partner and worker",
        ("partner_id", "worker_id"),
        OPEN_STATES,
    )
    for partner, worker, status, count in _query(
        cur,
        f"""WITH status AS (
             SELECT DISTINCT ON (partner_id, stream_id) partner_id, stream_id,
                    CASE event_type {status_of} END AS status
             FROM {FACTS} stream_type = 'referral'
               AND event_type IN ({", ".join(f"'{e}'" for e in STATUS_AFTER)})
             ORDER BY partner_id, stream_id, version DESC),
           worker AS (
             SELECT DISTINCT ON (partner_id, stream_id) partner_id, stream_id,
                    fields->>'worker_id' AS worker_id
             FROM {FACTS} event_type IN ('ReferralAllocated', 'ReferralReallocated')
             ORDER BY partner_id, stream_id, version DESC)
           SELECT s.partner_id, w.worker_id, s.status, count(*)
           FROM status s JOIN worker w USING (partner_id, stream_id)
           WHERE s.status IN ('allocated', 'active', 'on_hold')
           GROUP BY 1, 2, 3""",
        scope,
    ):
        table.add((partner, worker), status, count)
    return {"tables": [table.publish(policy)]}


# -- sessions ----------------------------------------------------------------------------------

_HELD = """held AS (
             SELECT partner_id, stream_id, fields->>'kind' AS kind, fields->>'mode' AS mode,
                    fields->>'medium_code' AS medium_code,
                    (fields->>'actual_start_at')::timestamptz AT TIME ZONE 'UTC' AS started
             FROM {FACTS} event_type = 'SessionRecorded'
               AND ((fields->>'actual_start_at')::timestamptz AT TIME ZONE 'UTC')::date
                   BETWEEN %(start)s AND %(end)s
               AND (partner_id, stream_id) NOT IN (
                   SELECT partner_id, stream_id FROM {FACTS} event_type = 'SessionVoided'))"""


def sessions_held(cur, scope: Scope, policy: Policy) -> dict:
    by_kind = Table(
        "sessions_by_kind",
        "Sessions held, by partner, month and kind",
        ("partner_id", "month"),
        sessions.SESSION_KINDS,
    )
    by_mode = Table(
        "sessions_by_mode",
        "Sessions held, by partner, month and mode",
        ("partner_id", "month"),
        tuple(sessions.MODES),
    )
    for partner, month, kind, mode, count in _query(
        cur,
        f"""WITH {_HELD}
           SELECT partner_id, to_char(started, 'YYYY-MM'), kind, mode, count(*)
           FROM held GROUP BY 1, 2, 3, 4""",
        scope,
    ):
        by_kind.add((partner, month), kind, count)
        by_mode.add((partner, month), mode, count)
    return {"tables": [by_kind.publish(policy), by_mode.publish(policy)]}


# each person's latest mark at a session; a voided one (no status) is left out
_ATTENDANCE = """latest_marks AS (
             SELECT DISTINCT ON (partner_id, stream_id, fields->>'person_id')
                    partner_id, stream_id, fields->>'person_id' AS person_id,
                    fields->>'status' AS status
             FROM {FACTS} event_type IN ('AttendanceRecorded', 'AttendanceCorrected',
                                         'AttendanceVoided')
             ORDER BY partner_id, stream_id, fields->>'person_id', version DESC),
           marks AS (SELECT * FROM latest_marks WHERE status IS NOT NULL)"""


def _dna_rate(row: dict) -> dict:
    counts = row["counts"]
    if "*" in counts.values():
        return {"did_not_attend_rate": "*"}
    booked = sum(counts.values())
    return {"did_not_attend_rate": rate(counts["did_not_attend"], booked)}


def attendance(cur, scope: Scope, policy: Policy) -> dict:
    table = Table(
        "attendance",
        "Attendance of people at sessions held, by partner and month; did-not-attend rate",
        ("partner_id", "month"),
        ATTENDANCE_STATES,
        extras=_dna_rate,
    )
    for partner, month, status, count in _query(
        cur,
        f"""WITH {_HELD}, {_ATTENDANCE}
           SELECT h.partner_id, to_char(h.started, 'YYYY-MM'), m.status, count(*)
           FROM held h JOIN marks m USING (partner_id, stream_id)
           GROUP BY 1, 2, 3""",
        scope,
    ):
        table.add((partner, month), status, count)
    return {"tables": [table.publish(policy)]}


def contacts(cur, scope: Scope, policy: Policy) -> dict:
    """People seen (attended, or late and seen) in direct-contact media, once or twice or more,
    in the period: the Community Mental Health Framework's "2+ contacts" (DOMAIN.md). Without a
    period, the twelve months up to the moment asked for."""
    if scope.start is None and scope.end is None:
        end = scope.as_at.date()
        scope = Scope(scope.partners, end - timedelta(days=365), end, scope.as_at)
    table = Table(
        "contacts",
        "People with one, or two or more, direct contacts in the period, by partner",
        ("partner_id",),
        ("one_contact", "two_or_more_contacts"),
    )
    for partner, band, count in _query(
        cur,
        f"""WITH {_HELD}, {_ATTENDANCE},
           per_person AS (
             SELECT h.partner_id, m.person_id, count(*) AS seen
             FROM held h JOIN marks m USING (partner_id, stream_id)
             WHERE m.status = ANY(%(seen)s) AND h.medium_code = ANY(%(direct)s)
             GROUP BY 1, 2)
           SELECT partner_id,
                  CASE WHEN seen >= 2 THEN 'two_or_more_contacts' ELSE 'one_contact' END,
                  count(*)
           FROM per_person GROUP BY 1, 2""",
        scope,
        {"seen": list(SEEN), "direct": list(sessions.DIRECT_CONTACT_MEDIA)},
    ):
        table.add((partner,), band, count)
    return {"tables": [table.publish(policy)], "period": {"from": scope.start, "to": scope.end}}


# -- outcomes ----------------------------------------------------------------------------------


def wellbeing(cur, scope: Scope, policy: Policy) -> dict:
    """SWEMWBS first against latest per person (measures taken in the period), against the
    meaningful-change threshold of services/sessions/measures.py."""
    series: dict[tuple, list] = defaultdict(list)
    for partner, person, timepoint, taken_on, metric in _query(
        cur,
        """SELECT partner_id, fields->>'person_id', fields->>'timepoint',
                  (fields->>'taken_on')::date, fields->>'metric_score'
           FROM {FACTS} event_type = 'MeasureRecorded' AND fields->>'measure' = 'swemwbs'
             AND (fields->>'taken_on')::date BETWEEN %(start)s AND %(end)s
             AND (partner_id, stream_id, version) NOT IN (
                 SELECT partner_id, stream_id, (fields->>'number')::int
                 FROM {FACTS} event_type = 'MeasureVoided')""",
        scope,
    ):
        series[(partner, person)].append(
            measures.Taken("swemwbs", timepoint, taken_on, Decimal(metric))
        )
    table = Table(
        "wellbeing",
        "People with a first and a latest SWEMWBS, by partner and change",
        ("partner_id",),
        WELLBEING_OUTCOMES,
        extras=_improved_share,
    )
    changes: dict[str, list[Decimal]] = defaultdict(list)
    for (partner, _), taken in series.items():
        change = measures.change_from_first_to_latest("swemwbs", taken)
        if change is not None:
            table.add((partner,), change.outcome, 1)
            changes[partner].append(change.change)
    published = table.publish(policy)
    for row in published["rows"]:
        values = changes[row["partner_id"]]
        mean = round(float(sum(values) / len(values)), 2) if values else None
        row["mean_change"] = statistic(mean, len(values), policy)
    every = [v for values in changes.values() for v in values]
    mean = round(float(sum(every) / len(every)), 2) if every else None
    published["totals"]["mean_change"] = statistic(mean, len(every), policy)
    return {
        "tables": [published],
        "threshold": float(measures.SWEMWBS_MEANINGFUL_CHANGE),
        "threshold_source": measures.SWEMWBS.meaningful_change_source,
    }


def _improved_share(row: dict) -> dict:
    return {"improved_share": rate(row["counts"][measures.IMPROVED], row["total"])}


def signposting(cur, scope: Scope, policy: Policy) -> dict:
    """People, not records: a person signposted to one destination several times in the period
    counts once in its row, under the best outcome so far (taken up, then not taken up, then
    unknown); a person signposted to two destinations counts in each row. Voided signposting is
    left out."""
    table = Table(
        "signposting",
        "People signposted in the period, by partner, destination and outcome so far",
        ("partner_id", "destination"),
        SIGNPOSTING_OUTCOMES,
    )
    for partner, destination, outcome, count in _query(
        cur,
        """WITH made AS (
             SELECT partner_id, stream_id, fields->>'destination' AS destination,
                    fields->>'person_id' AS person_id
             FROM {FACTS} event_type = 'SignpostingRecorded'
               AND (fields->>'signposted_on')::date BETWEEN %(start)s AND %(end)s
               AND (partner_id, stream_id) NOT IN (
                   SELECT partner_id, stream_id FROM {FACTS} event_type = 'SignpostingVoided')),
           outcome AS (
             SELECT DISTINCT ON (partner_id, stream_id) partner_id, stream_id,
                    fields->>'outcome' AS outcome
             FROM {FACTS} event_type IN ('SignpostingOutcomeRecorded',
                                         'SignpostingOutcomeCorrected')
             ORDER BY partner_id, stream_id, version DESC),
           per_person AS (
             SELECT DISTINCT ON (m.partner_id, m.destination, m.person_id)
                    m.partner_id, m.destination, coalesce(o.outcome, 'unknown') AS outcome
             FROM made m LEFT JOIN outcome o USING (partner_id, stream_id)
             ORDER BY m.partner_id, m.destination, m.person_id,
                      array_position(%(best_first)s, coalesce(o.outcome, 'unknown')))
           SELECT partner_id, destination, outcome, count(*) FROM per_person
           GROUP BY 1, 2, 3""",
        scope,
        {"best_first": [sessions.TAKEN_UP, sessions.NOT_TAKEN_UP, sessions.UNKNOWN]},
    ):
        table.add((partner, destination), outcome, count)
    return {"tables": [table.publish(policy)]}


# -- safeguarding ------------------------------------------------------------------------------


def safeguarding(cur, scope: Scope, policy: Policy) -> dict:
    """Concerns raised in the period by category (a concern may have several), and how soon
    they were acknowledged and decided, and deadlines missed."""
    table = Table(
        "concerns_by_category",
        "Safeguarding concerns raised, by partner and category (a concern may have several)",
        ("partner_id",),
        CONCERN_CATEGORIES,
    )
    for partner, category, count in _query(
        cur,
        """SELECT partner_id, jsonb_array_elements_text(fields->'categories'), count(*)
           FROM {FACTS} event_type = 'ConcernRaised'
             AND ((fields->>'raised_at')::timestamptz AT TIME ZONE 'UTC')::date
                 BETWEEN %(start)s AND %(end)s
           GROUP BY 1, 2""",
        scope,
    ):
        table.add((partner,), category, count)
    timeliness = []
    for partner, n, ack, decide, missed in _query(
        cur,
        """WITH raised AS (
             SELECT partner_id, stream_id, (fields->>'raised_at')::timestamptz AS at
             FROM {FACTS} event_type = 'ConcernRaised'
               AND ((fields->>'raised_at')::timestamptz AT TIME ZONE 'UTC')::date
                   BETWEEN %(start)s AND %(end)s),
           acked AS (
             SELECT partner_id, stream_id, min((fields->>'acknowledged_at')::timestamptz) AS at
             FROM {FACTS} event_type = 'ConcernAcknowledged' GROUP BY 1, 2),
           decided AS (
             SELECT partner_id, stream_id, min((fields->>'decided_at')::timestamptz) AS at
             FROM {FACTS} event_type = 'ConcernDecided' GROUP BY 1, 2),
           missed AS (
             SELECT partner_id, stream_id, count(*) AS n
             FROM {FACTS} event_type = 'DeadlineMissed' GROUP BY 1, 2)
           SELECT r.partner_id, count(*),
                  percentile_cont(0.5) WITHIN GROUP (
                    ORDER BY extract(epoch FROM a.at - r.at) / 3600),
                  percentile_cont(0.5) WITHIN GROUP (
                    ORDER BY extract(epoch FROM d.at - r.at) / 3600),
                  coalesce(sum(m.n), 0)
           FROM raised r LEFT JOIN acked a USING (partner_id, stream_id)
                LEFT JOIN decided d USING (partner_id, stream_id)
                LEFT JOIN missed m USING (partner_id, stream_id)
           GROUP BY 1 ORDER BY 1""",
        scope,
    ):
        timeliness.append(
            {
                "partner_id": partner,
                "concerns": "*" if policy.hides(n) else policy.shown(n),
                "median_hours_to_acknowledge": statistic(_hours(ack), n, policy),
                "median_hours_to_decide": statistic(_hours(decide), n, policy),
                "deadlines_missed": "*" if policy.hides(int(missed)) else int(missed),
            }
        )
    return {
        "tables": [
            table.publish(policy),
            {
                "name": "timeliness",
                "title": "Concerns raised in the period: median hours to acknowledge and to"
                " decide, deadlines missed",
                "rows": timeliness,
            },
        ]
    }


# -- transfers ---------------------------------------------------------------------------------

TRANSFER_DIRECTIONS = ("transferred_out", "received_in")


def transfers(cur, scope: Scope, policy: Policy) -> dict:
    """Referrals transferred between partners, by partner and month: out (accepted by the
    partner they were offered to) and in (accepted here from a partner's offer)."""
    table = Table(
        "transfers",
        "Referrals transferred between partners, by partner and month",
        ("partner_id", "month"),
        TRANSFER_DIRECTIONS,
    )
    for partner, month, direction, count in _query(
        cur,
        """SELECT partner_id, to_char((fields->>'transferred_on')::date, 'YYYY-MM'),
                  'transferred_out', count(*)
           FROM {FACTS} event_type = 'ReferralTransferred'
             AND (fields->>'transferred_on')::date BETWEEN %(start)s AND %(end)s
           GROUP BY 1, 2
           UNION ALL
           SELECT partner_id, to_char((fields->>'received_on')::date, 'YYYY-MM'),
                  'received_in', count(*)
           FROM {FACTS} event_type = 'ReferralReceived'
             AND fields->>'transferred_from' IS NOT NULL
             AND (fields->>'received_on')::date BETWEEN %(start)s AND %(end)s
           GROUP BY 1, 2""",
        scope,
    ):
        table.add((partner, month), direction, count)
    return {"tables": [table.publish(policy)]}


def _hours(value) -> float | None:
    return None if value is None else round(float(value), 1)


REPORTS: dict[str, Callable] = {
    "referrals": referrals,
    "waits": waits,
    "caseload": caseload,
    "sessions": sessions_held,
    "attendance": attendance,
    "contacts": contacts,
    "wellbeing": wellbeing,
    "signposting": signposting,
    "safeguarding": safeguarding,
    "transfers": transfers,
}


def run(cur, name: str, scope: Scope, policy: Policy) -> dict:
    body = REPORTS[name](cur, scope, policy)
    return {
        "report": name,
        "as_at": scope.as_at,
        "period": body.pop("period", {"from": scope.start, "to": scope.end}),
        "partners": list(scope.partners) or "all",
        "suppression": {"up_to": policy.up_to, "round_to": policy.round_to},
        **body,
    }


def as_csv(report: dict) -> str:
    """Every table of a report, one after another, each with its header; totals last."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    for table in report["tables"]:
        writer.writerow([f"# {table['title']}"])
        if "categories" in table:
            header = table["dimensions"] + table["categories"] + ["total"]
            extra = sorted(k for k in table["totals"] if k not in ("counts", "total"))
            writer.writerow(header + extra)
            for row in table["rows"]:
                writer.writerow(
                    [row[d] for d in table["dimensions"]]
                    + [row["counts"][c] for c in table["categories"]]
                    + [row["total"]]
                    + [row.get(k) for k in extra]
                )
            totals = table["totals"]
            writer.writerow(
                ["total"] * len(table["dimensions"])
                + [totals["counts"][c] for c in table["categories"]]
                + [totals["total"]]
                + [totals.get(k) for k in extra]
            )
        else:
            columns = list(table["rows"][0]) if table["rows"] else []
            writer.writerow(columns)
            for row in table["rows"]:
                writer.writerow([row[c] for c in columns])
        writer.writerow([])
    return out.getvalue()
