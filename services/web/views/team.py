"""The team lead's page: each worker's caseload against the cap, and the waiting list to
allocate from."""

from __future__ import annotations

from services.web.app import Page, signed_in, today
from services.web.views.referral_codes import HOLDS_A_CASELOAD
from services.web.views.referrals import waited_days
from shared.web import route

TO_ALLOCATE = 50


class TeamPages:
    """Mixed into the web service: the team lead's caseloads page."""

    @route(
        "GET",
        "/team",
        public=True,
        media="text/html",
        summary="Caseloads by worker against the cap, and the referrals waiting to be allocated",
    )
    @signed_in("team_lead")
    def team(self, page: Page):
        loads = page.api.get("referrals", "/caseloads")
        workers = page.api.get("referrals", "/workers", status="registered", limit=500)["items"]
        cap = loads["caseload_cap"]
        counted = {w["worker_id"]: w["caseload"] for w in loads["workers"] if w.get("worker_id")}
        rows = []
        for worker in workers:
            if not set(worker["roles"]) & set(HOLDS_A_CASELOAD):
                continue
            rows.append(
                {
                    "worker_id": worker["worker_id"],
                    "name": page.name_of(worker["worker_id"]),
                    "caseload": counted.pop(worker["worker_id"], 0),
                }
            )
        # referrals still with someone no longer on the list (they left) are shown too
        rows += [
            {"worker_id": w, "name": page.name_of(w), "caseload": n, "has_left": True}
            for w, n in counted.items()
        ]
        for row in rows:
            row["is_over_cap"] = row["caseload"] >= cap
        rows.sort(key=lambda r: (-r["caseload"], r["name"].lower()))
        waiting = page.api.get(
            "referrals", "/referrals", status="accepted", names="true", limit=TO_ALLOCATE
        )
        for referral in waiting["items"]:
            referral["waited_days"] = waited_days(referral, today())
        received = page.api.get("referrals", "/referrals", status="received", limit=1)["total"]
        overdue = page.api.get("referrals", "/referrals", overdue="true", limit=1)["total"]
        return page.render(
            "team/team.html",
            title="Caseloads",
            cap=cap,
            rows=rows,
            waiting=waiting["items"],
            waiting_total=waiting["total"],
            received=received,
            overdue=overdue,
        )
