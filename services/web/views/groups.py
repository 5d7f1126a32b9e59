"""Groups in the browser: the list, creating one, a group's page with its members and waiting
list (by name, for its facilitators), who joins and leaves, its places and facilitators, and its
register of every session and each person's attendance."""

from __future__ import annotations

from contracts.sessions import codes as session_codes
from services.web.api import Refused, segment
from services.web.app import CASEWORK, Page, changed_once, made_once, signed_in
from services.web.forms import Form
from services.web.views import session_words as say
from services.web.views.caseload import caseload, people_of, quoted
from shared.web import route

ROLES = CASEWORK + ("partner_admin",)
READS_WORKFORCE = ("team_lead", "partner_admin")
# who may facilitate a group, of the partner's workforce
FACILITATING_ROLES = ("peer_worker", "team_lead")
MOST_PLACES = 500
MOST_SESSIONS = 520


class GroupPages:
    """The group pages of the web service."""

    @route("GET", "/groups", public=True, media="text/html", summary="The partner's groups")
    @signed_in(*ROLES)
    def groups_list(self, page: Page):
        status = page.args.get("status") if page.args.get("status") == "closed" else "open"
        groups = page.api.get("sessions", "/groups", status=status, limit=200)["items"]
        mine = [g for g in groups if page.user_id in g["facilitator_ids"]]
        others = [g for g in groups if page.user_id not in g["facilitator_ids"]]
        return page.render(
            "groups/list.html", title="Groups", mine=mine, others=others, showing=status
        )

    @route("GET", "/groups/new", public=True, media="text/html", summary="Create a group")
    @signed_in(*ROLES)
    def group_new(self, page: Page):
        values = {"facilitators": [page.user_id]}
        return _group_form(page, values)

    @route(
        "POST",
        "/groups/new",
        public=True,
        media="text/html",
        status=303,
        summary="Create the group; then its page",
    )
    @signed_in(*ROLES)
    @made_once
    def group_new_post(self, page: Page):
        form = Form(page.form, page.errors)
        workers = _workers(page)
        body = {
            "name": form.text("name", "the group's name", required=True, max_length=120),
            "kind": form.choice("kind", "the kind of group", session_codes.GROUP_KINDS),
            "capacity": form.number("capacity", "the number of places", 1, MOST_PLACES),
            "sessions_planned": form.number(
                "sessions_planned", "the number of sessions planned", 1, MOST_SESSIONS, False
            ),
        }
        if workers:
            body["facilitator_ids"] = form.choices(
                "facilitators", "facilitator", [w for w, _ in workers], required=True
            )
        else:
            body["facilitator_ids"] = [page.user_id]
        values = {name: page.form.get(name) for name in page.form}
        values["facilitators"] = page.form.getlist("facilitators")
        if not form.ok():
            return _group_form(page, values, status=422)
        try:
            group = page.api.post(
                "sessions", "/groups", {k: v for k, v in body.items() if v is not None}
            )
        except Refused as refusal:
            page.refused(refusal, names={"facilitator_ids": "facilitators"})
            return _group_form(page, values, status=422)
        return page.redirect(f"/groups/{segment(group['group_id'])}", "group-created")

    @route(
        "GET",
        "/groups/<string:group_id>",
        public=True,
        media="text/html",
        summary="A group: its details, members and waiting list, and what can be changed",
    )
    @signed_in(*ROLES)
    def group_page(self, page: Page, group_id: str):
        return _group_page(page, group_id)

    @route(
        "GET",
        "/groups/<string:group_id>/register",
        public=True,
        media="text/html",
        summary="A group's register: every session and each person's attendance, by name",
    )
    @signed_in(*ROLES)
    def group_register(self, page: Page, group_id: str):
        register = page.api.get("sessions", f"/groups/{segment(group_id)}/register", names="true")
        return page.render(
            "groups/register.html",
            title=f"Register: {register['name']}",
            register=register,
            back={"href": f"/groups/{segment(group_id)}", "text": "Back to the group"},
        )

    @route(
        "POST",
        "/groups/<string:group_id>/join",
        public=True,
        media="text/html",
        status=303,
        summary="Give a person a place in the group, or on its waiting list when it is full",
    )
    @signed_in(*ROLES)
    @changed_once
    def group_join(self, page: Page, group_id: str):
        form = Form(page.form, page.errors)
        person = form.text("join-person", "who joins", required=True)
        return _group_change(page, group_id, form, "join", {"person_id": person}, "join-person")

    @route(
        "POST",
        "/groups/<string:group_id>/leave",
        public=True,
        media="text/html",
        status=303,
        summary="Take a person off the group or its waiting list",
    )
    @signed_in(*ROLES)
    @changed_once
    def group_leave(self, page: Page, group_id: str):
        form = Form(page.form, page.errors)
        body = {
            "person_id": form.text("leave-person", "who leaves", required=True),
            "reason": form.choice("leave-reason", "why they leave", session_codes.LEAVING_REASONS),
        }
        names = {"person_id": "leave-person", "reason": "leave-reason"}
        return _group_change(page, group_id, form, "leave", body, names)

    @route(
        "POST",
        "/groups/<string:group_id>/capacity",
        public=True,
        media="text/html",
        status=303,
        summary="Change the group's number of places",
    )
    @signed_in(*ROLES)
    @changed_once
    def group_capacity(self, page: Page, group_id: str):
        form = Form(page.form, page.errors)
        body = {"capacity": form.number("capacity", "the number of places", 1, MOST_PLACES)}
        return _group_change(page, group_id, form, "capacity", body, {"capacity": "capacity"})

    @route(
        "POST",
        "/groups/<string:group_id>/facilitators",
        public=True,
        media="text/html",
        status=303,
        summary="Add a facilitator to the group, or take one off",
    )
    @signed_in(*ROLES)
    @changed_once
    def group_facilitators(self, page: Page, group_id: str):
        form = Form(page.form, page.errors)
        if page.form.get("remove"):
            body = {"worker_id": form.text("remove-worker", "who stops facilitating", True)}
            names = {"worker_id": "remove-worker"}
            return _group_change(page, group_id, form, "facilitators/remove", body, names)
        body = {"worker_id": form.text("add-worker", "who facilitates", True, max_length=200)}
        return _group_change(
            page, group_id, form, "facilitators", body, {"worker_id": "add-worker"}
        )

    @route(
        "POST",
        "/groups/<string:group_id>/close",
        public=True,
        media="text/html",
        status=303,
        summary="Close the group",
    )
    @signed_in(*ROLES)
    @changed_once
    def group_close(self, page: Page, group_id: str):
        form = Form(page.form, page.errors)
        body = {"reason": form.choice("close-reason", "why", session_codes.GROUP_CLOSING_REASONS)}
        return _group_change(page, group_id, form, "close", body, {"reason": "close-reason"})


def _workers(page: Page) -> list[tuple[str, str]]:
    """Who may facilitate, for those who may read the workforce (a peer worker names
    themselves)."""
    if not page.is_role(*READS_WORKFORCE):
        return []
    found = page.api.get("referrals", "/workers", status="registered", limit=500)["items"]
    return [
        (w["worker_id"], page.name_of(w["worker_id"]))
        for w in found
        if set(w.get("roles") or ()) & set(FACILITATING_ROLES)
    ]


def _group_form(page: Page, values: dict, status: int = 200):
    return page.render(
        "groups/new.html",
        status=status,
        title="Create a group",
        values=values,
        kinds=say.options(session_codes.GROUP_KINDS, "group_kind"),
        workers=_workers(page),
        back={"href": "/groups", "text": "Back to groups"},
    )


def _group_change(page, group_id, form, path, body, names):
    here = f"/groups/{segment(group_id)}"
    if isinstance(names, str):
        names = {"person_id": names}
    values = {name: page.form.get(name) for name in page.form}
    if not form.ok():
        return _group_page(page, group_id, status=422, values=values)
    try:
        page.api.post("sessions", f"{here}/{path}", body, version=quoted(page.form.get("version")))
    except Refused as refusal:
        page.refused(refusal, names=names)
        return _group_page(page, group_id, status=422, values=values)
    return page.redirect(here, "group-updated")


def _group_page(page: Page, group_id: str, status: int = 200, values: dict | None = None):
    here = f"/groups/{segment(group_id)}"
    group, version = page.api.get_with_version("sessions", here)
    register = page.api.get("sessions", f"{here}/register", names="true")
    names = {
        row["person_id"]: row.get("full_name") or "Name not known" for row in register["people"]
    }
    in_group = set(group["members"]) | set(group["waiting_list"])
    joining = [(p, n) for p, n in people_of(caseload(page)) if p not in in_group]
    workers = [(w, n) for w, n in _workers(page) if w not in group["facilitator_ids"]]
    values = dict(values or {})
    values["version"] = quoted(version)
    return page.render(
        "groups/group.html",
        status=status,
        title=group["name"],
        group=group,
        names=names,
        members=[(p, names.get(p, "Name not known")) for p in group["members"]],
        waiting=[(p, names.get(p, "Name not known")) for p in group["waiting_list"]],
        joining=joining,
        workers=workers,
        facilitators=[(w, page.name_of(w)) for w in group["facilitator_ids"]],
        values=values,
        leaving=say.options(session_codes.LEAVING_REASONS),
        closing=say.options(session_codes.GROUP_CLOSING_REASONS),
        sessions=register["sessions"],
        back={"href": "/groups", "text": "Back to groups"},
    )
