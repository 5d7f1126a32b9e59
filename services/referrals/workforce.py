"""The /workers routes of a node, kept by the referrals service: partner admins register
members of staff and record that they left. The workforce itself (its events, read model and
the check every service makes) is shared.workforce."""

from __future__ import annotations

from services.referrals import queries
from services.referrals.access import ReferralAccess
from services.referrals.api_workers import (
    RegisterWorkerBody,
    WorkerLeavesBody,
    WorkerListQuery,
    WorkerOut,
    WorkerPage,
)
from shared import policy
from shared.auth import Principal
from shared.commands import respond
from shared.events import RecordedEvent
from shared.web import BadRequest, NotFound, instance_of, route
from shared.workforce.roster import today
from shared.workforce.workers import BY_ADMIN, Worker


def visible_worker(principal: Principal):
    """A worker is on their own partner's list, and no other's."""

    def visible(worker: Worker, history: list[RecordedEvent]) -> None:
        if history[0].partner_id != principal.partner_id:
            raise NotFound("no such worker")

    return visible


def worker_out(worker: Worker, status: int = 200):
    return respond(worker, instance_of(WorkerOut).dump(worker.as_dict()), status)


class WorkersApi(ReferralAccess):
    """Mixed into the referrals service; expects `store`, `audit`."""

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
        # a worker who left may be registered again: their stream goes on
        history = self.store.read_stream(Worker.stream_type, worker_id)
        worker = Worker.fold(worker_id, history)
        self.commands.run(
            request,
            principal,
            worker,
            history,
            body,
            lambda worker: worker.register(
                body["display_name"], body["roles"], principal.user_id, today(), how=BY_ADMIN
            ),
        )
        return worker_out(worker, 201)

    @route(
        "GET",
        "/workers",
        roles=policy.MAY_READ_WORKERS,
        query=WorkerListQuery,
        response=WorkerPage,
        summary="List this partner's workers, paged",
    )
    def list_workers(self, request, principal, query):
        with self.store.db.transaction() as cur:
            total, items = queries.worker_page(cur, principal.partner_id, query)
        return {"items": items, "total": total, "limit": query["limit"], "offset": query["offset"]}

    @route(
        "GET",
        "/workers/<string:worker_id>",
        roles=policy.MAY_READ_WORKERS,
        response=WorkerOut,
        summary="Read a worker of this partner",
    )
    def read_worker(self, request, principal, worker_id):
        worker, _ = self.commands.load(
            Worker, worker_id, missing="no such worker", visible=visible_worker(principal)
        )
        return worker_out(worker)

    @route(
        "POST",
        "/workers/<string:worker_id>/leave",
        roles=policy.MAY_MANAGE_WORKERS,
        body=WorkerLeavesBody,
        response=WorkerOut,
        summary="Record that a worker left: they can no longer be named in new records",
    )
    def worker_leaves(self, request, principal, worker_id, body):
        worker, history = self.commands.load(
            Worker, worker_id, missing="no such worker", visible=visible_worker(principal)
        )

        def leave(worker: Worker):
            on = body.get("on") or today()
            if on > today():
                raise BadRequest("on", "cannot be in the future")
            return worker.leave(principal.user_id, on, body["reason"])

        self.commands.run(request, principal, worker, history, body, leave)
        return worker_out(worker)
