"""The safeguarding service's reads of its read models (projections.py, notifications.py): the
lead's inbox, the e-mail a concern caused, and the concerns the deadline timer must look at."""

from __future__ import annotations

from datetime import datetime

from services.safeguarding.domain import OPEN_STATES
from services.safeguarding.projections import SCHEMA
from shared.db import rows, select_page

INBOX = (
    "SELECT concern_id, status, age_group, categories, severity, immediate_risk,"
    " raised_by, raised_at, acknowledged_at, decision, decided_at, closed_at,"
    " outcome, open_deadline, due_at, escalation_step, escalated_to,"
    " deadlines_missed, open_actions, version,"
    " (due_at IS NOT NULL AND due_at < now()) AS is_overdue"
    f" FROM {SCHEMA}.concern_list"
)

NOTIFICATIONS = (
    "SELECT o.id, o.kind, o.deadline, o.step, o.rung, o.recipient, o.status,"
    " o.attempts, o.created_at, o.sent_at, o.next_attempt_at, o.last_error,"
    " coalesce(json_agg(json_build_object('at', a.at, 'outcome', a.outcome,"
    " 'error', a.error) ORDER BY a.id) FILTER (WHERE a.id IS NOT NULL), '[]')"
    f" AS tries FROM {SCHEMA}.notification_outbox o"
    f" LEFT JOIN {SCHEMA}.notification_attempts a ON a.outbox_id = o.id"
    " WHERE o.concern_id = %s AND o.partner_id = %s GROUP BY o.id ORDER BY o.id"
)

DUE = (
    f"SELECT concern_id FROM {SCHEMA}.concern_list WHERE partner_id = %s"
    " AND check_at <= %s AND status = ANY(%s) ORDER BY check_at LIMIT 500"
)


def inbox(cur, partner_id: str, query: dict, raised_by: str | None = None):
    """One page of a partner's concerns under the query's filters, open ones by deadline first,
    and how many there are; `raised_by`: only those this worker raised. -> (total, items)"""
    clauses, params = ["partner_id = %s"], [partner_id]
    if raised_by is not None:
        clauses.append("raised_by = %s")
        params.append(raised_by)
    if query["status"] == "open":
        clauses.append("status = ANY(%s)")
        params.append(list(OPEN_STATES))
    elif query["status"] != "any":
        clauses.append("status = %s")
        params.append(query["status"])
    for name in ("severity", "raised_by"):
        if name in query:
            clauses.append(f"{name} = %s")
            params.append(query[name])
    if "overdue" in query:
        clauses.append("(due_at IS NOT NULL AND due_at < now()) = %s")
        params.append(query["overdue"])
    return select_page(
        cur,
        INBOX,
        clauses,
        params,
        "due_at NULLS LAST, raised_at, concern_id",
        query["limit"],
        query["offset"],
    )


def notifications(cur, partner_id: str, concern_id: str) -> list[dict]:
    """Each message a concern caused, with every attempt to send it."""
    cur.execute(NOTIFICATIONS, (concern_id, partner_id))
    return rows(cur)


def due_for_escalation(cur, partner_id: str, at: datetime) -> list[str]:
    """The open concerns whose next check falls at or before `at`, soonest first."""
    cur.execute(DUE, (partner_id, at, list(OPEN_STATES)))
    return [row[0] for row in cur.fetchall()]
