"""Groups over HTTP: creating one, who joins and leaves (a waiting list when it is full), its
places and facilitators, closing it, and its register of sessions and attendance (with the
members' names for those who may read them, each read audited)."""

from __future__ import annotations

import uuid

from services.sessions import access, queries
from services.sessions.api import (
    AddFacilitatorBody,
    ChangeGroupCapacityBody,
    CloseGroupBody,
    CreateGroupBody,
    GroupListQuery,
    JoinGroupBody,
    LeaveGroupBody,
    RegisterQuery,
    RemoveFacilitatorBody,
)
from services.sessions.api_answers import GroupOut, GroupPage, GroupRegister
from services.sessions.domain import Group, Session
from services.sessions.routes import READERS, WRITERS, SessionsRoutes
from shared.commands import respond
from shared.vault import ERASED
from shared.web import NotFound, context_of, route

MISSING = "no such group"
NO_SESSION = "no such session of this group"


class GroupsApi(SessionsRoutes):
    """Mixed into the sessions service."""

    @route(
        "POST",
        "/groups",
        roles=WRITERS,
        body=CreateGroupBody,
        status=201,
        response=GroupOut,
        summary="Create a group",
    )
    def create_group(self, request, principal, body):
        group = Group(str(uuid.uuid4()))
        with self.store.db.transaction() as cur:
            self.workforce.require_named(cur, principal, "facilitator_ids", body["facilitator_ids"])
        self.commands.apply(
            group,
            lambda group: group.create(
                name=body["name"],
                kind=body["kind"],
                capacity=body["capacity"],
                facilitator_ids=body["facilitator_ids"],
                sessions_planned=body.get("sessions_planned"),
                by=principal.user_id,
                on=self._not_in_future(body.get("on"), "on"),
            ),
            context_of(principal, request),
        )
        return respond(group, group.as_dict(), 201)

    @route(
        "GET",
        "/groups",
        roles=READERS,
        query=GroupListQuery,
        response=GroupPage,
        summary="List groups",
    )
    def list_groups(self, request, principal, query):
        with self.store.db.transaction() as cur:
            return queries.groups_page(cur, query)

    @route(
        "GET",
        "/groups/<string:group_id>",
        roles=READERS,
        response=GroupOut,
        summary="Read a group",
    )
    def read_group(self, request, principal, group_id):
        group, _ = self.commands.load(Group, group_id, missing=MISSING)
        access.require_sees_members(principal, group, "read who is in it")
        self.commands.audit_read(request, principal, group, None, ["members", "waiting_list"])
        return respond(group, group.as_dict())

    def _on_group(self, request, principal, group_id, body, decide):
        """A command on a group the caller facilitates, dated by the body's `on`."""
        group, history = self.commands.load(
            Group,
            group_id,
            missing=MISSING,
            visible=lambda group, history: access.require_facilitates(principal, group),
        )
        self.commands.run(request, principal, group, history, body, self._dated(body, decide))
        return respond(group, group.as_dict())

    @route(
        "POST",
        "/groups/<string:group_id>/join",
        roles=WRITERS,
        body=JoinGroupBody,
        response=GroupOut,
        summary="Add a person to a group, or to its waiting list when it is full",
    )
    def join_group(self, request, principal, group_id, body):
        def join(cur, group: Group, on) -> list:
            self._known_person(cur, body["person_id"])
            events = group.join(person_id=str(body["person_id"]), by=principal.user_id, on=on)
            access.require_on_caseload(cur, principal, [body["person_id"]])
            return events

        return self._on_group(request, principal, group_id, body, join)

    @route(
        "POST",
        "/groups/<string:group_id>/leave",
        roles=WRITERS,
        body=LeaveGroupBody,
        response=GroupOut,
        summary="Take a person off a group or its waiting list; the first waiting takes the place",
    )
    def leave_group(self, request, principal, group_id, body):
        def leave(cur, group: Group, on) -> list:
            return group.leave(
                person_id=str(body["person_id"]), reason=body["reason"], by=principal.user_id, on=on
            )

        return self._on_group(request, principal, group_id, body, leave)

    @route(
        "POST",
        "/groups/<string:group_id>/capacity",
        roles=WRITERS,
        body=ChangeGroupCapacityBody,
        response=GroupOut,
        summary="Change a group's number of places",
    )
    def change_capacity(self, request, principal, group_id, body):
        def change(cur, group: Group, on) -> list:
            return group.change_capacity(capacity=body["capacity"], by=principal.user_id, on=on)

        return self._on_group(request, principal, group_id, body, change)

    @route(
        "POST",
        "/groups/<string:group_id>/facilitators",
        roles=WRITERS,
        body=AddFacilitatorBody,
        response=GroupOut,
        summary="Add a facilitator to a group",
    )
    def add_facilitator(self, request, principal, group_id, body):
        def add(cur, group: Group, on) -> list:
            self.workforce.require_named(cur, principal, "worker_id", [body["worker_id"]])
            return group.add_facilitator(worker_id=body["worker_id"], by=principal.user_id, on=on)

        return self._on_group(request, principal, group_id, body, add)

    @route(
        "POST",
        "/groups/<string:group_id>/facilitators/remove",
        roles=WRITERS,
        body=RemoveFacilitatorBody,
        response=GroupOut,
        summary="Remove a facilitator from a group",
    )
    def remove_facilitator(self, request, principal, group_id, body):
        def remove(cur, group: Group, on) -> list:
            return group.remove_facilitator(
                worker_id=body["worker_id"], by=principal.user_id, on=on
            )

        return self._on_group(request, principal, group_id, body, remove)

    @route(
        "POST",
        "/groups/<string:group_id>/close",
        roles=WRITERS,
        body=CloseGroupBody,
        response=GroupOut,
        summary="Close a group",
    )
    def close_group(self, request, principal, group_id, body):
        def close(cur, group: Group, on) -> list:
            return group.close(reason=body["reason"], by=principal.user_id, on=on)

        return self._on_group(request, principal, group_id, body, close)

    @route(
        "GET",
        "/groups/<string:group_id>/register",
        roles=READERS,
        query=RegisterQuery,
        response=GroupRegister,
        summary="A group's register: each session (or the one named) and each person's attendance",
    )
    def register(self, request, principal, group_id, query):
        group, _ = self.commands.load(Group, group_id, missing=MISSING)
        session = None
        if query.get("session_id"):
            session, _ = self.commands.load(Session, str(query["session_id"]), missing=NO_SESSION)
            if session.group_id != group.id:
                raise NotFound(NO_SESSION)
        with self.store.db.transaction() as cur:
            access.require_reads_register(cur, principal, group, session)
            sessions, marks = queries.register(cur, group_id, query)
            self.commands.audit_read(request, principal, group, None, ["register"])
            people = list(group.members) + [p for p in group.waiting if p not in group.members]
            seen_people = {str(person) for _, person, _, _ in marks}
            people += sorted(seen_people - set(people))
            names = self._names(request, principal, group, people) if query["names"] else {}
        cell = {(s, str(p)): (status, corrected) for s, p, status, corrected in marks}
        register_rows = []
        for person in people:
            row = {"person_id": person, "is_member": person in group.members, "attendance": []}
            if query["names"]:
                row["full_name"] = names.get(person)
            counts: dict[str, int] = {}
            for s in sessions:
                status, corrected = cell.get((s["session_id"], person), (None, False))
                row["attendance"].append(
                    {"session_id": s["session_id"], "status": status, "is_corrected": corrected}
                )
                if status:
                    counts[status] = counts.get(status, 0) + 1
            row["totals"] = counts
            register_rows.append(row)
        return {
            "group_id": group.id,
            "name": group.name,
            "sessions": sessions,
            "people": register_rows,
        }

    def _names(self, request, principal, group: Group, people: list[str]) -> dict[str, str]:
        """The register's people's names from the vault, each read audited as a read of that
        person's identifiers; whoever may read the register (its facilitators and those who
        see the partner) may read them."""
        names = {}
        with self.store.db.transaction() as cur:
            for person in people:
                identifiers = self.vault.read(cur, person)
                if isinstance(identifiers, dict):
                    names[person] = identifiers.get("full_name")
                    fields = ["full_name"]
                else:
                    names[person] = "erased" if identifiers is ERASED else None
                    fields = []
                self.audit.record(
                    principal,
                    "read",
                    "person",
                    person,
                    person_id=person,
                    fields=fields,
                    request_id=request.peerlink_request_id,
                    detail={"via": "group_register", "group_id": group.id},
                    cur=cur,
                )
        return names
