"""The workforce of a node, kept by the referrals service: the Worker events, the read model of
who may be named as a worker (kept in the appending transaction), the /workers routes for
partner admins, and `Workforce`, which every service of the node uses to check the workers a
command names and to put a member of staff on the list the first time they act.

The other services read the read model in their own transactions rather than keeping a copy
fed by the broker: the node shares one database, a worker registered a moment ago can be named
at once, and staff names never travel over the broker (its messages carry only what the
alliance hub may know)."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, date, datetime

from marshmallow import Schema, fields, validate
from nameko.extensions import DependencyProvider

from services.referrals.people import Text
from services.referrals.workers import (
    BY_ADMIN,
    HOW_REGISTERED,
    LEAVING_REASONS,
    LEFT,
    ON_FIRST_SIGN_IN,
    REGISTERED,
    WORKER_ROLES,
    Worker,
    require_holds_caseload,
    require_may_be_named,
)
from shared import policy
from shared.auth import Forbidden, Principal
from shared.db import select_page
from shared.events import SYSTEM, Context, derived_id, with_id
from shared.eventstore import ConcurrencyError, DuplicateEventId
from shared.web import BadRequest, NotFound, context_of, json_response, route

SCHEMA = "referrals"

DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.workers (
    partner_id     text NOT NULL,
    worker_id      text NOT NULL,
    display_name   text,
    roles          text[] NOT NULL,
    status         text NOT NULL,
    how            text NOT NULL,
    registered_on  date NOT NULL,
    left_on        date,
    version        integer NOT NULL,
    PRIMARY KEY (partner_id, worker_id)
);
"""
TABLES = ("workers",)


WORKER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$"


def _worker_id(**kwargs) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=200), **kwargs)


def register_events(registry) -> None:
    class WorkerRegistered(Schema):
        worker_id = _worker_id(required=True)
        display_name = fields.String(
            load_default=None, allow_none=True, validate=validate.Length(min=1, max=200)
        )
        roles = fields.List(
            fields.String(validate=validate.OneOf(WORKER_ROLES)),
            required=True,
            validate=validate.Length(min=1),
        )
        registered_by = _worker_id(required=True)
        registered_on = fields.Date(required=True)
        how = fields.String(required=True, validate=validate.OneOf(HOW_REGISTERED))

    class WorkerLeft(Schema):
        worker_id = _worker_id(required=True)
        left_by = _worker_id(required=True)
        left_on = fields.Date(required=True)
        reason = fields.String(required=True, validate=validate.OneOf(LEAVING_REASONS))

    registry.register("WorkerRegistered", WorkerRegistered)
    registry.register("WorkerLeft", WorkerLeft)


# -- requests and responses -------------------------------------------------------------------


class RegisterWorkerBody(Schema):
    # the id their sign-in gives them: a provider's subject (a GUID, a number, a username or an
    # e-mail address), never a path or markup
    worker_id = Text(
        required=True,
        validate=[
            validate.Length(min=1, max=200),
            validate.Regexp(
                WORKER_ID_PATTERN,
                error="must be the id the worker signs in with: letters, digits and . _ @ + -",
            ),
        ],
    )
    display_name = Text(load_default=None, validate=validate.Length(min=1, max=200))
    roles = fields.List(
        fields.String(validate=validate.OneOf(WORKER_ROLES)),
        load_default=lambda: ["peer_worker"],
        validate=validate.Length(min=1, max=len(WORKER_ROLES)),
    )


class WorkerLeavesBody(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(LEAVING_REASONS))
    on = fields.Date(load_default=None)
    expected_version = fields.Integer(load_default=None, validate=validate.Range(min=1))


class WorkerListQuery(Schema):
    status = fields.String(
        load_default=REGISTERED, validate=validate.OneOf((REGISTERED, LEFT, "any"))
    )
    role = fields.String(validate=validate.OneOf(WORKER_ROLES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class WorkerOut(Schema):
    worker_id = fields.String()
    version = fields.Integer()
    status = fields.String()
    display_name = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    registered_on = fields.Date()
    left_on = fields.Date(allow_none=True)


class WorkerListItem(WorkerOut):
    status = fields.String(validate=validate.OneOf((REGISTERED, LEFT)))
    roles = fields.List(fields.String(validate=validate.OneOf(WORKER_ROLES)))


class WorkerPage(Schema):
    items = fields.List(fields.Nested(WorkerListItem))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


# -- the read model ---------------------------------------------------------------------------


class WorkerList:
    """One row per worker of the partner, as its stream stands."""

    name = "workers"

    def __call__(self, cur, events) -> None:
        for event in events:
            if event.stream_type != Worker.stream_type:
                continue
            p = event.payload
            if event.event_type == "WorkerRegistered":
                cur.execute(
                    f"INSERT INTO {SCHEMA}.workers (partner_id, worker_id, display_name, roles,"
                    " status, how, registered_on, version)"
                    " VALUES (%s, %s, %s, %s, 'registered', %s, %s, %s)"
                    " ON CONFLICT (partner_id, worker_id) DO UPDATE SET"
                    " display_name = EXCLUDED.display_name, roles = EXCLUDED.roles,"
                    " status = 'registered', how = EXCLUDED.how,"
                    " registered_on = EXCLUDED.registered_on, left_on = NULL,"
                    " version = EXCLUDED.version",
                    (
                        event.partner_id,
                        event.stream_id,
                        p.get("display_name"),
                        list(p["roles"]),
                        p["how"],
                        p["registered_on"],
                        event.version,
                    ),
                )
            elif event.event_type == "WorkerLeft":
                cur.execute(
                    f"UPDATE {SCHEMA}.workers SET status = 'left', left_on = %s, version = %s"
                    " WHERE partner_id = %s AND worker_id = %s",
                    (p["left_on"], event.version, event.partner_id, event.stream_id),
                )

    def reset(self, cur) -> None:
        cur.execute(f"TRUNCATE {SCHEMA}.workers")


def standing(cur, partner_id: str, worker_id: str) -> str | None:
    """Whether the worker is "registered" or "left"; None when never on the workforce."""
    row = _worker_row(cur, partner_id, worker_id)
    return row[0] if row else None


def _worker_row(cur, partner_id: str, worker_id: str) -> tuple[str, list[str]] | None:
    cur.execute(
        f"SELECT status, roles FROM {SCHEMA}.workers WHERE partner_id = %s AND worker_id = %s",
        (partner_id, worker_id),
    )
    return cur.fetchone()


def _today() -> date:
    return datetime.now(UTC).date()


# -- every service's view -----------------------------------------------------------------------


# how long a process trusts what it last read of a member of staff's standing: a worker marked
# as left loses access within this time on every service of the node
STANDING_SECONDS = 30.0


class WorkerHasLeft(Forbidden):
    """A member of staff whose place on the partner's workforce has ended (HTTP 403)."""


class Roster:
    """Who may be named as a worker at this node, and the first act of a member of staff."""

    def __init__(self, store, clock=time.monotonic):
        self.store = store  # the referrals store, whose projector keeps the read model
        self._clock = clock
        self._standing: dict[tuple[str, str], tuple[str, float]] = {}

    def require_named(self, cur, principal: Principal, field_name: str, worker_ids) -> None:
        """Refuses (422, naming the field) a worker not on the list or who has left; the one
        acting may always name themselves."""
        for worker_id in worker_ids or ():
            require_may_be_named(
                field_name,
                worker_id,
                standing(cur, principal.partner_id, worker_id),
                principal.user_id,
            )

    def require_caseload_holder(self, cur, principal: Principal, field_name: str, worker_id):
        """Refuses (422, naming the field) a worker a referral may not be allocated to: one not
        on the list or who left, or one whose roles carry no caseload (a partner admin, a
        safeguarding lead)."""
        self.require_named(cur, principal, field_name, [worker_id])
        row = _worker_row(cur, principal.partner_id, worker_id)
        roles = row[1] if row else [principal.role] if worker_id == principal.user_id else []
        require_holds_caseload(field_name, worker_id, roles)

    def sign_in(self, principal: Principal) -> None:
        """A member of staff acting for the first time goes on the list (once: a worker who
        left is registered again only by a partner admin); one who has left may do nothing
        more here, whatever their provider still vouches for."""
        if principal.role not in WORKER_ROLES:
            return
        key = (principal.partner_id, principal.user_id)
        known = self._standing.get(key)
        if known is None or self._clock() - known[1] > STANDING_SECONDS:
            with self.store.db.transaction() as cur:
                status = standing(cur, *key)
            if status is None:
                self._register_on_first_act(principal)
                status = "registered"
            known = self._standing[key] = (status, self._clock())
        if known[0] == "left":
            raise WorkerHasLeft(
                f"{principal.user_id} has left {principal.partner_id}'s workforce: ask a partner "
                "admin to register them again (rule WorkerMustNotHaveLeft)"
            )

    def _register_on_first_act(self, principal: Principal) -> None:
        events = Worker(principal.user_id).register(
            None, [principal.role], principal.user_id, _today(), how=ON_FIRST_SIGN_IN
        )
        # the same first act seen twice at once appends it once; the node records it (the
        # worker asked for something else), the payload says whose sign-in it was
        event_id = derived_id(f"{principal.partner_id}/{principal.user_id}", "worker")
        context = Context(principal.partner_id, SYSTEM)
        # registered by an admin meanwhile: on the list all the same
        with contextlib.suppress(ConcurrencyError, DuplicateEventId):
            self.store.append(
                Worker.stream_type, principal.user_id, 0, with_id(events, event_id), context
            )


class Workforce(DependencyProvider):
    """The node's workforce for a service: `require_named` and `sign_in` (see Roster)."""

    def setup(self):
        from services.referrals.projections import referrals_projector
        from services.referrals.schemas import registry
        from shared.config import Settings
        from shared.db import Database
        from shared.eventstore import PostgresEventStore

        settings = Settings.from_environment(self.container.service_name)
        self.db = Database(settings.database_url, maxconn=2, application_name="workforce")
        store = PostgresEventStore(
            self.db, SCHEMA, registry, service="referrals", projector=referrals_projector()
        )
        self.roster = Roster(store)

    def stop(self):
        self.db.close()

    def get_dependency(self, worker_ctx):
        return self.roster


# -- the routes (mixed into the referrals service) ----------------------------------------------


class WorkersApi:
    """Mixed into the referrals service; expects `store`."""

    def _worker(self, principal: Principal, worker_id: str) -> Worker:
        events = self.store.read_stream(Worker.stream_type, worker_id)
        if not events or events[0].partner_id != principal.partner_id:
            raise NotFound("no such worker")
        return Worker.fold(worker_id, events)

    @staticmethod
    def _worker_out(worker: Worker, status: int = 200):
        return json_response(
            status, WorkerOut().dump(worker.as_dict()), headers={"ETag": f'"{worker.version}"'}
        )

    @route(
        "POST",
        "/workers",
        roles=policy.MAY_MANAGE_WORKERS,
        body=RegisterWorkerBody,
        response=WorkerOut,
        status=201,
        summary="Register a worker of this partner, by the id their sign-in gives them",
    )
    def register_worker(self, request, principal, body):
        worker_id = body["worker_id"]
        events = self.store.read_stream(Worker.stream_type, worker_id)
        worker = Worker.fold(worker_id, events)
        new = worker.register(
            body["display_name"], body["roles"], principal.user_id, _today(), how=BY_ADMIN
        )
        recorded = self.store.append(
            Worker.stream_type, worker_id, worker.version, new, context_of(principal, request)
        )
        worker.version = recorded[-1].version
        return self._worker_out(worker, 201)

    @route(
        "GET",
        "/workers",
        roles=policy.MAY_READ_WORKERS,
        query=WorkerListQuery,
        response=WorkerPage,
        summary="List this partner's workers, paged",
    )
    def list_workers(self, request, principal, query):
        clauses, params = ["partner_id = %s"], [principal.partner_id]
        if query["status"] != "any":
            clauses.append("status = %s")
            params.append(query["status"])
        if "role" in query:
            clauses.append("%s = ANY(roles)")
            params.append(query["role"])
        with self.store.db.transaction() as cur:
            total, items = select_page(
                cur,
                f"SELECT worker_id, display_name, roles, status, registered_on, left_on, version"
                f" FROM {SCHEMA}.workers",
                clauses,
                params,
                "worker_id",
                query["limit"],
                query["offset"],
            )
        return {"items": items, "total": total, "limit": query["limit"], "offset": query["offset"]}

    @route(
        "GET",
        "/workers/<string:worker_id>",
        roles=policy.MAY_READ_WORKERS,
        response=WorkerOut,
        summary="Read a worker of this partner",
    )
    def read_worker(self, request, principal, worker_id):
        return self._worker_out(self._worker(principal, worker_id))

    @route(
        "POST",
        "/workers/<string:worker_id>/leave",
        roles=policy.MAY_MANAGE_WORKERS,
        body=WorkerLeavesBody,
        response=WorkerOut,
        summary="Record that a worker left: they can no longer be named in new records",
    )
    def worker_leaves(self, request, principal, worker_id, body):
        worker = self._worker(principal, worker_id)
        expected = body.get("expected_version")
        if expected is not None and expected != worker.version:
            raise ConcurrencyError(worker_id, expected, worker.version)
        on = body.get("on") or _today()
        if on > _today():
            raise BadRequest("on", "cannot be in the future")
        events = worker.leave(principal.user_id, on, body["reason"])
        recorded = self.store.append(
            Worker.stream_type, worker_id, worker.version, events, context_of(principal, request)
        )
        worker.version = recorded[-1].version
        return self._worker_out(worker)
