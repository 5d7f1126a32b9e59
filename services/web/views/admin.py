"""The partner admin's pages: finding a person, their subject access export as a download,
erasing them (after a warning and a reason), their audit trail, the retention review and the
workforce list with marking a worker as left."""

from __future__ import annotations

import json

from marshmallow import Schema, fields
from werkzeug.wrappers import Response

from services.web import pages
from services.web.api import Refused, segment
from services.web.app import Page, changed_once, signed_in, today
from services.web.forms import Form, date_parts, posted_date_parts
from services.web.views import people_found
from services.web.views.referral_codes import REASONS
from shared.web import route


class ExportFile(Schema):
    """The referrals service's subject access export of the person (its
    `GET /people/{person_id}/export`), unchanged, as a file to download."""

    person = fields.Dict()
    exported_at = fields.AwareDateTime()
    records = fields.Dict(keys=fields.String(), values=fields.List(fields.Dict()))
    texts = fields.Dict(keys=fields.String(), values=fields.String())
    audit = fields.List(fields.Dict())


AUDIT_PAGE = 50
ADMIN = "partner_admin"


class AdminPages:
    """Mixed into the web service: the partner admin's pages."""

    @route(
        "GET",
        "/admin",
        public=True,
        media="text/html",
        summary="Administration: find a person, retention review, the workforce",
    )
    @signed_in(ADMIN)
    def admin(self, page: Page):
        return page.render("admin/admin.html", title="Administration", values={}, found=None)

    @route(
        "POST",
        "/admin/find",
        public=True,
        media="text/html",
        summary="The people an administrator's search found",
    )
    @signed_in(ADMIN)
    def admin_find(self, page: Page):
        criteria, errors = people_found.search_criteria(page)
        found = None
        if not errors:
            ids = people_found.find_people(page, criteria)
            if not page.errors:
                found = people_found.describe(page, ids)
        return page.render(
            "admin/admin.html",
            status=422 if page.errors else 200,
            title="Administration",
            values=people_found.search_values(page),
            found=found,
        )

    @route(
        "GET",
        "/admin/people/<string:person_id>",
        public=True,
        media="text/html",
        summary="A person's record for an administrator: export, erasure, audit trail",
    )
    @signed_in(ADMIN)
    def admin_person(self, page: Page, person_id: str):
        person = page.api.get("referrals", f"/people/{segment(person_id)}")
        offset = page.args.get("offset", "0")
        offset = int(offset) if offset.isdigit() else 0
        trail = page.api.get(
            "referrals", "/audit", person_id=person_id, limit=AUDIT_PAGE, offset=offset
        )
        more = None
        if trail["total"] > offset + len(trail["entries"]):
            more = f"/admin/people/{segment(person_id)}?offset={offset + AUDIT_PAGE}#audit"
        return page.render(
            "admin/person.html",
            title=(person.get("identifiers") or {}).get("full_name") or "An erased person",
            person=person,
            trail=trail,
            more=more,
            back={"href": "/admin", "text": "Back to administration"},
        )

    @route(
        "GET",
        "/admin/people/<string:person_id>/export",
        public=True,
        response=ExportFile,
        summary="Download everything this node holds about a person (subject access), as a file",
    )
    @signed_in(ADMIN)
    def admin_export(self, page: Page, person_id: str):
        export = page.api.get("referrals", f"/people/{segment(person_id)}/export")
        name = f"subject-access-{segment(person_id)}-{today().isoformat()}.json"
        return Response(
            json.dumps(export, indent=2, ensure_ascii=False),
            status=200,
            content_type="application/json; charset=utf-8",
            headers={
                **pages.security_headers(page.issuer),
                "Content-Disposition": f'attachment; filename="{name}"',
            },
        )

    @route(
        "GET",
        "/admin/people/<string:person_id>/erase",
        public=True,
        media="text/html",
        summary="Erase a person: the warning, and the reason to give",
    )
    @signed_in(ADMIN)
    def admin_erase(self, page: Page, person_id: str):
        person = page.api.get("referrals", f"/people/{segment(person_id)}")
        return self._erase_form(page, person, {})

    @route(
        "POST",
        "/admin/people/<string:person_id>/erase",
        public=True,
        status=303,
        media="text/html",
        summary="Erase a person's identifiers: their key is destroyed, their anonymous history"
        " stays",
    )
    @signed_in(ADMIN)
    @changed_once
    def admin_erased(self, page: Page, person_id: str):
        path = f"/people/{segment(person_id)}"
        person = page.api.get("referrals", path)
        form = Form(page.form, page.errors)
        code = form.choice("reason_code", "why they are being erased", dict(REASONS["erasure"]))
        reason = form.text("reason", "the reason in your words", required=True, max_length=500)
        if form.ok():
            try:
                page.api.post(
                    "referrals", f"{path}/erasure", {"reason_code": code, "reason": reason}
                )
            except Refused as refusal:
                if refusal.status not in (409, 422):
                    raise
                page.refused(refusal)
            else:
                return page.redirect(f"/admin/people/{segment(person_id)}", done="person-erased")
        values = {
            "reason_code": page.form.get("reason_code", ""),
            "reason": page.form.get("reason", ""),
        }
        return self._erase_form(page, person, values, status=422)

    def _erase_form(self, page: Page, person: dict, values: dict, status=200):
        return page.render(
            "admin/erase.html",
            status=status,
            title="Erase this person",
            person=person,
            values=values,
            reasons=REASONS["erasure"],
            back={"href": f"/admin/people/{person['person_id']}", "text": "Back"},
        )

    # -- retention -----------------------------------------------------------------------------

    @route(
        "GET",
        "/admin/retention",
        public=True,
        media="text/html",
        summary="People past the retention period, for review",
    )
    @signed_in(ADMIN)
    def admin_retention(self, page: Page):
        due = page.api.get("referrals", "/people/retention-due", limit=200)
        return page.render(
            "admin/retention.html",
            title="Retention review",
            due=due,
            back={"href": "/admin", "text": "Back to administration"},
        )

    @route(
        "POST",
        "/admin/retention",
        public=True,
        status=303,
        media="text/html",
        summary="Run the retention review now",
    )
    @signed_in(ADMIN)
    @changed_once
    def admin_retention_run(self, page: Page):
        page.api.post("referrals", "/people/retention-review", {})
        return page.redirect("/admin/retention", done="retention-reviewed")

    # -- the workforce -------------------------------------------------------------------------

    @route(
        "GET",
        "/admin/workers",
        public=True,
        media="text/html",
        summary="The partner's workforce: who may be named in its records",
    )
    @signed_in(ADMIN)
    def admin_workers(self, page: Page):
        workers = page.api.get("referrals", "/workers", status="any", limit=500)
        return page.render(
            "admin/workers.html",
            title="Workforce",
            workers=workers["items"],
            back={"href": "/admin", "text": "Back to administration"},
        )

    @route(
        "GET",
        "/admin/workers/<string:worker_id>/leave",
        public=True,
        media="text/html",
        summary="Mark a worker as left: the reason and the date",
    )
    @signed_in(ADMIN)
    def admin_worker_leave(self, page: Page, worker_id: str):
        worker, version = page.api.get_with_version("referrals", f"/workers/{segment(worker_id)}")
        return self._leave_form(page, worker, version, {"on": date_parts(today())})

    @route(
        "POST",
        "/admin/workers/<string:worker_id>/leave",
        public=True,
        status=303,
        media="text/html",
        summary="Record that a worker left",
    )
    @signed_in(ADMIN)
    @changed_once
    def admin_worker_left(self, page: Page, worker_id: str):
        path = f"/workers/{segment(worker_id)}"
        worker = page.api.get("referrals", path)
        version = page.form.get("version") or None
        form = Form(page.form, page.errors)
        reason = form.choice("reason", "why they left", dict(REASONS["leaving"]))
        on = form.date("on", "the date they left")
        if form.ok():
            try:
                body = {"reason": reason, "on": on.isoformat()}
                # the workforce API takes the version seen in the body
                seen = (version or "").removeprefix("W/").strip('"')
                if seen.isdigit():
                    body["expected_version"] = int(seen)
                page.api.post("referrals", f"{path}/leave", body)
            except Refused as refusal:
                if refusal.status not in (409, 422):
                    raise
                page.refused(refusal)
            else:
                return page.redirect("/admin/workers", done="worker-updated")
        values = {"reason": page.form.get("reason", ""), "on": posted_date_parts(page.form, "on")}
        return self._leave_form(page, worker, version, values, status=422)

    def _leave_form(self, page, worker, version, values, status=200):
        return page.render(
            "admin/leave.html",
            status=status,
            title="Mark as left",
            worker=worker,
            version=version,
            values=values,
            reasons=REASONS["leaving"],
            back={"href": "/admin/workers", "text": "Back to the workforce"},
        )
