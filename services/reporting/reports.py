"""The alliance's monitoring and impact reports, each worked out from the hub's facts for one
period of the grid (services/reporting/grid.py), one partner or the whole alliance, as at a
published cut-off (only facts the hub held when it was published count), and published through
the disclosure control of services/reporting/suppression.py.

Every count report is a table: rows (a partner, a partner and month, ...) by categories, with
row and column totals. Every row the grid has is published, counted or not, so that a row's
presence says nothing. Its cells are sums of rounded smallest cells (a month's, or for counts of
people the period's), and its totals sums of its cells: every figure adds up, across tables,
periods and partners alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

from contracts.referrals import codes as referral_codes
from contracts.referrals.codes import STATUS_AFTER
from contracts.safeguarding import codes as safeguarding_codes
from contracts.sessions import codes as sessions
from contracts.sessions import measures
from services.reporting.suppression import Policy, rate
from services.reporting.tables import (
    AT_THE_CUTOFF,
    FACTS,
    Scope,
    Table,
    by_month,
    by_partner,
    query,
)

REFERRAL_SOURCES = tuple(referral_codes.REFERRAL_SOURCES)
OPEN_STATES = ("allocated", "active", "on_hold")
SEEN = tuple(sessions.SEEN)
ATTENDANCE_STATES = ("attended", "late_seen", "late_not_seen", "did_not_attend")
SIGNPOSTING_OUTCOMES = tuple(sessions.SIGNPOSTING_OUTCOMES)
SIGNPOSTING_DESTINATIONS = tuple(sessions.SIGNPOSTING_DESTINATIONS)
WELLBEING_OUTCOMES = (measures.IMPROVED, measures.NO_RELIABLE_CHANGE, measures.DETERIORATED)
# adult categories (Care Act and local) then the children's, as raised
CONCERN_CATEGORIES = safeguarding_codes.ADULT_CATEGORIES + safeguarding_codes.CHILD_CATEGORIES
CONTACT_BANDS = ("one_contact", "two_or_more_contacts")
TRANSFER_DIRECTIONS = ("transferred_out", "received_in")
# -- referrals ---------------------------------------------------------------------------------

# Each referral as received, with the latest correction (held by the cut-off asked for) of its
# received_on and source applied; `corrected` also serves other corrected fields.
_REFERRALS = """corrected AS (
             SELECT DISTINCT ON (partner_id, stream_id, fields->>'field')
                    partner_id, stream_id, fields->>'field' AS field, fields->>'value' AS value
             FROM {FACTS} event_type = 'ReferralCorrected'
             ORDER BY partner_id, stream_id, fields->>'field', version DESC),
           referral AS (
             SELECT f.partner_id, f.stream_id,
                    coalesce(rc.value, f.fields->>'received_on')::date AS received_on,
                    coalesce(sc.value, f.fields->>'source') AS source,
                    f.fields->>'transferred_from' AS transferred_from
             FROM (SELECT partner_id, stream_id, fields
                   FROM {FACTS} event_type = 'ReferralReceived') f
             LEFT JOIN corrected rc ON rc.partner_id = f.partner_id
               AND rc.stream_id = f.stream_id AND rc.field = 'received_on'
             LEFT JOIN corrected sc ON sc.partner_id = f.partner_id
               AND sc.stream_id = f.stream_id AND sc.field = 'source')"""


def referrals(cur, scope: Scope, policy: Policy) -> dict:
    """Referrals received, by partner, month and source."""
    table = Table(
        "referrals",
        "Referrals received, by partner, month and source",
        ("partner_id", "month"),
        REFERRAL_SOURCES,
        by_month(scope),
    )
    for partner, month, source, count in query(
        cur,
        f"""WITH {_REFERRALS}
           SELECT partner_id, to_char(received_on, 'YYYY-MM'), source, count(*)
           FROM referral WHERE received_on BETWEEN %(start)s AND %(end)s
           GROUP BY 1, 2, 3""",
        scope,
    ):
        table.add((partner, month), source, count, month)
    return {"tables": [table.publish(policy)]}


def waits(cur, scope: Scope, policy: Policy) -> dict:
    """Days from a referral being received to first contact, for first contacts made in the
    period: median and 90th percentile per partner."""
    contacts = f"""WITH {_REFERRALS},
           contacted AS (
             SELECT c.partner_id, c.stream_id, coalesce(fc.value::date, c.on_) AS on_
             FROM (SELECT partner_id, stream_id, min((fields->>'contacted_on')::date) AS on_
                   FROM {{FACTS}} event_type = 'FirstContactMade' GROUP BY 1, 2) c
             LEFT JOIN corrected fc ON fc.partner_id = c.partner_id
               AND fc.stream_id = c.stream_id AND fc.field = 'first_contact_on'),
           waited AS (
             SELECT r.partner_id, c.on_, c.on_ - r.received_on AS days
             FROM referral r JOIN contacted c USING (partner_id, stream_id)
             WHERE c.on_ BETWEEN %(start)s AND %(end)s)"""
    counted = Table("waits", "", ("partner_id",), ("first_contacts",), by_partner(scope))
    for partner, month, count in query(
        cur,
        f"""{contacts}
           SELECT partner_id, to_char(on_, 'YYYY-MM'), count(*) FROM waited GROUP BY 1, 2""",
        scope,
    ):
        counted.add((partner,), "first_contacts", count, month)
    statistics = {
        partner: (n, median, p90)
        for partner, n, median, p90 in query(
            cur,
            f"""{contacts}
               SELECT partner_id, count(*),
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY days),
                      percentile_cont(0.9) WITHIN GROUP (ORDER BY days)
               FROM waited GROUP BY 1""",
            scope,
        )
    }
    rows = []
    for (partner,) in counted.rows:
        n, median, p90 = statistics.get(partner, (0, None, None))
        rows.append(
            {
                "partner_id": partner,
                "first_contacts": counted.published_cell((partner,), "first_contacts", policy),
                "median_days": policy.percentile(median, n, 0.5),
                "p90_days": policy.percentile(p90, n, 0.9),
            }
        )
    return {
        "tables": [
            {
                "name": "waits",
                "title": "Days from referral to first contact, for first contacts in the period",
                "rows": rows,
            }
        ]
    }


def caseload(cur, scope: Scope, policy: Policy) -> dict:
    """Open referrals per partner as at the cut-off (whatever the period). Caseloads by worker
    are for each partner's own team leads, on its node (GET /caseloads), never the alliance's."""
    status_of = " ".join(
        f"WHEN '{event}' THEN '{status}'" for event, status in STATUS_AFTER.items()
    )
    table = Table(
        "caseload",
        "Open referrals by partner, as at the cut-off",
        ("partner_id",),
        OPEN_STATES,
        by_partner(scope),
    )
    for partner, status, count in query(
        cur,
        f"""WITH status AS (
             SELECT DISTINCT ON (partner_id, stream_id) partner_id, stream_id,
                    CASE event_type {status_of} END AS status
             FROM {FACTS} stream_type = 'referral'
               AND event_type IN ({", ".join(f"'{e}'" for e in STATUS_AFTER)})
             ORDER BY partner_id, stream_id, version DESC)
           SELECT partner_id, status, count(*) FROM status
           WHERE status IN ('allocated', 'active', 'on_hold')
           GROUP BY 1, 2""",
        scope,
    ):
        table.add((partner,), status, count, AT_THE_CUTOFF)
    return {"tables": [table.publish(policy)]}


# -- sessions ----------------------------------------------------------------------------------

_HELD = """held AS (
             SELECT partner_id, stream_id, fields->>'kind' AS kind, fields->>'mode' AS mode,
                    fields->>'medium_code' AS medium_code,
                    (fields->>'held_on')::date AS held_on
             FROM {FACTS} event_type = 'SessionRecorded'
               AND (fields->>'held_on')::date BETWEEN %(start)s AND %(end)s
               AND (partner_id, stream_id) NOT IN (
                   SELECT partner_id, stream_id FROM {FACTS} event_type = 'SessionVoided'))"""


def sessions_held(cur, scope: Scope, policy: Policy) -> dict:
    """Sessions held, by partner and month: by kind and by mode."""
    by_kind = Table(
        "sessions_by_kind",
        "Sessions held, by partner, month and kind",
        ("partner_id", "month"),
        sessions.SESSION_KINDS,
        by_month(scope),
    )
    by_mode = Table(
        "sessions_by_mode",
        "Sessions held, by partner, month and mode",
        ("partner_id", "month"),
        tuple(sessions.MODES),
        by_month(scope),
    )
    for partner, month, kind, mode, count in query(
        cur,
        f"""WITH {_HELD}
           SELECT partner_id, to_char(held_on, 'YYYY-MM'), kind, mode, count(*)
           FROM held GROUP BY 1, 2, 3, 4""",
        scope,
    ):
        by_kind.add((partner, month), kind, count, month)
        by_mode.add((partner, month), mode, count, month)
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


def dna_rate(row: dict) -> dict:
    """The did-not-attend rate of a row, from its published counts."""
    counts = row["counts"]
    return {"did_not_attend_rate": rate(counts["did_not_attend"], sum(counts.values()))}


def attendance(cur, scope: Scope, policy: Policy) -> dict:
    """Attendance of people at sessions held, by partner and month, with did-not-attend rates."""
    table = Table(
        "attendance",
        "Attendance of people at sessions held, by partner and month; did-not-attend rate",
        ("partner_id", "month"),
        ATTENDANCE_STATES,
        by_month(scope),
        extras=dna_rate,
    )
    for partner, month, status, count in query(
        cur,
        f"""WITH {_HELD}, {_ATTENDANCE}
           SELECT h.partner_id, to_char(h.held_on, 'YYYY-MM'), m.status, count(*)
           FROM held h JOIN marks m USING (partner_id, stream_id)
           GROUP BY 1, 2, 3""",
        scope,
    ):
        table.add((partner, month), status, count, month)
    return {"tables": [table.publish(policy)]}


def contacts(cur, scope: Scope, policy: Policy) -> dict:
    """People seen (attended, or late and seen) in direct-contact media, once or twice or more,
    in the period: the Community Mental Health Framework's "2+ contacts" (docs/domain.md) over
    a financial year. People are counted within a partner: the hub cannot tell one partner's
    people from another's."""
    table = Table(
        "contacts",
        "People with one, or two or more, direct contacts in the period, by partner",
        ("partner_id",),
        CONTACT_BANDS,
        by_partner(scope),
        people=True,
    )
    for partner, band, count in query(
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
        table.add((partner,), band, count, scope.period.label)
    return {"tables": [table.publish(policy)]}


# -- outcomes ----------------------------------------------------------------------------------


def wellbeing(cur, scope: Scope, policy: Policy) -> dict:
    """SWEMWBS first against latest per person (measures taken in the period), against the
    meaningful-change threshold of contracts/sessions/measures.py."""
    series: dict[tuple, list] = defaultdict(list)
    for partner, person, timepoint, taken_on, metric in query(
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
        "People with a first and a latest SWEMWBS in the period, by partner and change",
        ("partner_id",),
        WELLBEING_OUTCOMES,
        by_partner(scope),
        extras=improved_share,
        people=True,
    )
    changes: dict[str, list[Decimal]] = defaultdict(list)
    for (partner, _), taken in series.items():
        change = measures.change_from_first_to_latest("swemwbs", taken)
        if change is not None:
            table.add((partner,), change.outcome, 1, scope.period.label)
            changes[partner].append(change.change)
    published = table.publish(policy)
    for row in published["rows"]:
        row["mean_change"] = mean_change(changes[row["partner_id"]], policy)
    every = [v for values in changes.values() for v in values]
    published["totals"]["mean_change"] = mean_change(every, policy)
    return {
        "tables": [published],
        "threshold": float(measures.SWEMWBS_MEANINGFUL_CHANGE),
        "threshold_source": measures.SWEMWBS.meaningful_change_source,
    }


def mean_change(values: list[Decimal], policy: Policy):
    """The mean change to one decimal place, over enough people to show."""
    mean = sum(values) / len(values) if values else None
    return policy.statistic(mean, len(values), places=1)


def improved_share(row: dict) -> dict:
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
        [(p, d) for p in scope.shown_partners for d in SIGNPOSTING_DESTINATIONS],
        people=True,
    )
    for partner, destination, outcome, count in query(
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
        table.add((partner, destination), outcome, count, scope.period.label)
    return {"tables": [table.publish(policy)]}


# -- safeguarding ------------------------------------------------------------------------------


def safeguarding(cur, scope: Scope, policy: Policy) -> dict:
    """Concerns raised in the period by category (a concern may have several), how soon they
    were acknowledged and decided (median hours, from moments the hub holds to the hour), and
    deadlines missed."""
    table = Table(
        "concerns_by_category",
        "Safeguarding concerns raised, by partner and category (a concern may have several)",
        ("partner_id",),
        CONCERN_CATEGORIES,
        by_partner(scope),
    )
    raised = """raised AS (
             SELECT partner_id, stream_id, fields, (fields->>'raised_at')::timestamptz AS at
             FROM {FACTS} event_type = 'ConcernRaised'
               AND ((fields->>'raised_at')::timestamptz AT TIME ZONE 'UTC')::date
                   BETWEEN %(start)s AND %(end)s)"""
    for partner, month, category, count in query(
        cur,
        f"""WITH {raised}
           SELECT partner_id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM'),
                  jsonb_array_elements_text(fields->'categories'), count(*)
           FROM raised GROUP BY 1, 2, 3""",
        scope,
    ):
        table.add((partner,), category, count, month)
    counted = Table(
        "timeliness",
        "",
        ("partner_id",),
        ("concerns", "deadlines_missed"),
        by_partner(scope),
    )
    with_deadlines = f"""WITH {raised},
           missed AS (
             SELECT partner_id, stream_id, count(*) AS n
             FROM {{FACTS}} event_type = 'DeadlineMissed' GROUP BY 1, 2)
           SELECT r.partner_id, to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM'), count(*),
                  coalesce(sum(m.n), 0)
           FROM raised r LEFT JOIN missed m USING (partner_id, stream_id)
           GROUP BY 1, 2"""
    for partner, month, concerns, missed in query(cur, with_deadlines, scope):
        counted.add((partner,), "concerns", concerns, month)
        counted.add((partner,), "deadlines_missed", int(missed), month)
    statistics = {
        partner: (n, ack, decide)
        for partner, n, ack, decide in query(
            cur,
            f"""WITH {raised},
               acked AS (
                 SELECT partner_id, stream_id,
                        min((fields->>'acknowledged_at')::timestamptz) AS at
                 FROM {{FACTS}} event_type = 'ConcernAcknowledged' GROUP BY 1, 2),
               decided AS (
                 SELECT partner_id, stream_id, min((fields->>'decided_at')::timestamptz) AS at
                 FROM {{FACTS}} event_type = 'ConcernDecided' GROUP BY 1, 2)
               SELECT r.partner_id, count(*),
                      percentile_cont(0.5) WITHIN GROUP (
                        ORDER BY extract(epoch FROM a.at - r.at) / 3600),
                      percentile_cont(0.5) WITHIN GROUP (
                        ORDER BY extract(epoch FROM d.at - r.at) / 3600)
               FROM raised r LEFT JOIN acked a USING (partner_id, stream_id)
                    LEFT JOIN decided d USING (partner_id, stream_id)
               GROUP BY 1""",
            scope,
        )
    }
    timeliness = []
    for (partner,) in counted.rows:
        n, ack, decide = statistics.get(partner, (0, None, None))
        timeliness.append(
            {
                "partner_id": partner,
                "concerns": counted.published_cell((partner,), "concerns", policy),
                "median_hours_to_acknowledge": policy.percentile(ack, n, 0.5),
                "median_hours_to_decide": policy.percentile(decide, n, 0.5),
                "deadlines_missed": counted.published_cell((partner,), "deadlines_missed", policy),
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


def transfers(cur, scope: Scope, policy: Policy) -> dict:
    """Referrals transferred between partners, by partner and month: out (accepted by the
    partner they were offered to) and in (accepted here from a partner's offer). The hub cannot
    pair the two: it is told neither the offer nor, of the referral transferred out, to whom.
    A referral received from an offer that its partner had withdrawn before the acceptance
    reached it is no transfer (ReferralTransferWithdrawn; the partner counted none out)."""
    table = Table(
        "transfers",
        "Referrals transferred between partners, by partner and month",
        ("partner_id", "month"),
        TRANSFER_DIRECTIONS,
        by_month(scope),
    )
    for partner, month, direction, count in query(
        cur,
        f"""WITH {_REFERRALS}
           SELECT partner_id, to_char((fields->>'transferred_on')::date, 'YYYY-MM'),
                  'transferred_out', count(*)
           FROM {{FACTS}} event_type = 'ReferralTransferred'
             AND (fields->>'transferred_on')::date BETWEEN %(start)s AND %(end)s
           GROUP BY 1, 2
           UNION ALL
           SELECT partner_id, to_char(received_on, 'YYYY-MM'), 'received_in', count(*)
           FROM referral WHERE transferred_from IS NOT NULL
             AND received_on BETWEEN %(start)s AND %(end)s
             AND (partner_id, stream_id) NOT IN (
                 SELECT partner_id, stream_id
                 FROM {{FACTS}} event_type = 'ReferralTransferWithdrawn')
           GROUP BY 1, 2""",
        scope,
    ):
        table.add((partner, month), direction, count, month)
    return {"tables": [table.publish(policy)]}


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
        "period": scope.period.as_dict(),
        "partners": list(scope.partners) or "all",
        "disclosure": policy.as_dict(),
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
