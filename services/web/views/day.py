"""My day: the signed-in worker's diary for today and the week, their caseload with each
person's next contact, plans overdue for review, measures due, and the safeguarding concerns
they raised with where each has got to."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from services.web.app import LONDON, Page, today

OPEN_STATES = ("received", "accepted", "allocated", "active", "on_hold")


def my_day(page: Page) -> dict:
    """Everything My day shows, from the node's services with the person's own token."""
    start = today()
    end = start + timedelta(days=6)
    day = {"start": start, "end": end, "today": [], "week": [], "caseload": [], "plans": []}
    day["measures_due"] = []
    day["concerns"] = []
    if page.is_role("peer_worker", "team_lead"):
        diary = page.api.get(
            "sessions", "/diary", **{"from": start.isoformat(), "to": end.isoformat()}, limit=200
        )
        for item in diary["items"]:
            when = _local_date(item["starts_at"])
            (day["today"] if when == start else day["week"]).append(item)
        caseload = page.api.get(
            "referrals", "/referrals", worker_id=page.user_id, names="true", limit=200
        )
        people = [r for r in caseload["items"] if r["status"] in OPEN_STATES]
        next_contact = _next_contacts(diary["items"])
        for referral in people:
            referral["next_contact"] = next_contact.get(str(referral["person_id"]))
        day["caseload"] = people
        day["plans"] = _plans_overdue(page, people)
        day["measures_due"] = _measures_due(page, people)
    concerns = page.api.get("safeguarding", "/concerns", status="any", raised_by=page.user_id)
    day["concerns"] = concerns["items"][:20]
    return day


def _local_date(value: str) -> date:
    return datetime.fromisoformat(value).astimezone(LONDON).date()


def _next_contacts(sessions: list[dict]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in sorted(sessions, key=lambda s: s["starts_at"]):
        if item.get("status") == "booked" and item.get("person_id"):
            found.setdefault(str(item["person_id"]), item["starts_at"])
    return found


def _plans_overdue(page: Page, people: list[dict]) -> list[dict]:
    mine = {str(r["person_id"]): r for r in people}
    overdue = page.api.get("sessions", "/plans", review_overdue="true", status="open", limit=200)
    return [
        {**plan, "full_name": mine[str(plan["person_id"])].get("full_name")}
        for plan in overdue["items"]
        if str(plan.get("person_id")) in mine
    ]


def _measures_due(page: Page, people: list[dict]) -> list[dict]:
    """People on the worker's open caseload with no SWEMWBS in the last 12 weeks."""
    due = page.api.get("sessions", "/measures/due", worker_id=page.user_id, measure="swemwbs")
    names = {str(r["person_id"]): r.get("full_name") for r in people}
    return [
        {**item, "full_name": names.get(item["person_id"])}
        for item in due["items"]
        if item["is_due"]
    ]
