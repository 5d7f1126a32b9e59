"""The /workers routes of a node, kept by the referrals service: partner admins register
members of staff and record that they left. The workforce itself (its events, read model and
the check every service makes) is shared.workforce."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.referrals.people import Text
from shared import policy
from shared.auth import Principal
from shared.db import select_page
from shared.eventstore import ConcurrencyError
from shared.web import BadRequest, NotFound, context_of, json_response, route
from shared.workforce.roster import SCHEMA, WORKER_ID_PATTERN, today
from shared.workforce.workers import (
    BY_ADMIN,
    LEAVING_REASONS,
    LEFT,
    REGISTERED,
    WORKER_ROLES,
    Worker,
)

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
            body["display_name"], body["roles"], principal.user_id, today(), how=BY_ADMIN
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
        on = body.get("on") or today()
        if on > today():
            raise BadRequest("on", "cannot be in the future")
        events = worker.leave(principal.user_id, on, body["reason"])
        recorded = self.store.append(
            Worker.stream_type, worker_id, worker.version, events, context_of(principal, request)
        )
        worker.version = recorded[-1].version
        return self._worker_out(worker)
