"""The partner's workforce kept as data: a Worker stream per member of staff, named by the id
their sign-in gives them (the token's user claim), and the rules for naming a worker in a
command (allocating a referral, running a session, facilitating a group, owning an action).

Commands return events; `apply_*` folds them. No I/O here.
"""

from __future__ import annotations

from datetime import date

from shared.aggregate import Aggregate, ReferenceRefused, Rule
from shared.events import NewEvent

# the roles of a partner's staff: anyone signed in with one of these may be named as a worker
WORKER_ROLES = ("peer_worker", "team_lead", "safeguarding_lead", "partner_admin")
# the roles that carry a caseload, so may have referrals allocated to them: peer workers, and
# team leads who keep a few people of their own (docs/domain.md: a peer worker carries a caseload)
CASELOAD_ROLES = ("peer_worker", "team_lead")
REGISTERED = "registered"
LEFT = "left"
# how a worker came onto the list: registered by a partner admin, or on first acting
BY_ADMIN = "by_admin"
ON_FIRST_SIGN_IN = "on_first_sign_in"
HOW_REGISTERED = (BY_ADMIN, ON_FIRST_SIGN_IN)
LEAVING_REASONS = ("left_the_organisation", "changed_role", "registered_in_error", "other")


class WorkerIsRegisteredOnce(Rule):
    pass


class OnlyARegisteredWorkerLeaves(Rule):
    pass


class WorkerLeavesAfterJoining(Rule):
    pass


class WorkerMustBeRegistered(ReferenceRefused):
    pass


class WorkerMustNotHaveLeft(ReferenceRefused):
    pass


class AllocatedWorkerMustHoldACaseload(ReferenceRefused):
    pass


class Worker(Aggregate):
    """A member of a partner's staff who may be named in its records."""

    stream_type = "worker"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.status: str | None = None
        self.display_name: str | None = None
        self.roles: list[str] = []
        self.registered_on: date | None = None
        self.left_on: date | None = None

    def register(
        self, display_name: str | None, roles: list[str], by: str, on: date, how: str = BY_ADMIN
    ) -> list[NewEvent]:
        """A worker who left may be registered again (they came back)."""
        if self.status == REGISTERED:
            raise WorkerIsRegisteredOnce(f"{self.id} is already registered as a worker here")
        return self.decide(
            [
                NewEvent(
                    "WorkerRegistered",
                    {
                        "worker_id": self.id,
                        "display_name": display_name,
                        "roles": sorted(set(roles)),
                        "registered_by": by,
                        "registered_on": on.isoformat(),
                        "how": how,
                    },
                )
            ]
        )

    def leave(self, by: str, on: date, reason: str) -> list[NewEvent]:
        if self.status != REGISTERED:
            raise OnlyARegisteredWorkerLeaves(
                f"{self.id} has already left" if self.status == LEFT else f"no worker {self.id}"
            )
        if self.registered_on is not None and on < self.registered_on:
            raise WorkerLeavesAfterJoining(
                f"on: {on.isoformat()} is before {self.id} was registered "
                f"({self.registered_on.isoformat()}): a worker leaves on or after joining"
            )
        return self.decide(
            [
                NewEvent(
                    "WorkerLeft",
                    {
                        "worker_id": self.id,
                        "left_by": by,
                        "left_on": on.isoformat(),
                        "reason": reason,
                    },
                )
            ]
        )

    def apply_worker_registered(self, p: dict) -> None:
        self.status = REGISTERED
        self.display_name = p.get("display_name")
        self.roles = list(p["roles"])
        self.registered_on = date.fromisoformat(p["registered_on"])
        self.left_on = None

    def apply_worker_left(self, p: dict) -> None:
        self.status = LEFT
        self.left_on = date.fromisoformat(p["left_on"])

    def as_dict(self) -> dict:
        return {
            "worker_id": self.id,
            "version": self.version,
            "status": self.status,
            "display_name": self.display_name,
            "roles": self.roles,
            "registered_on": self.registered_on,
            "left_on": self.left_on,
        }


def require_may_be_named(
    field_name: str, worker_id: str, standing: str | None, actor_id: str
) -> None:
    """Naming a worker needs them on the partner's workforce and not left. Someone naming
    themselves always may: their own provider vouched for them a moment ago."""
    if worker_id == actor_id:
        return
    if standing is None:
        raise WorkerMustBeRegistered(
            field_name, f"no worker {worker_id!r} at this partner; register them first"
        )
    if standing == LEFT:
        raise WorkerMustNotHaveLeft(field_name, f"{worker_id!r} has left this partner")


def require_holds_caseload(field_name: str, worker_id: str, roles) -> None:
    """A referral is allocated to someone who carries a caseload: a worker on the list with a
    caseload role (`roles` as the list has them, none when they are not on it)."""
    if not set(roles or ()) & set(CASELOAD_ROLES):
        held = ", ".join(r.replace("_", " ") for r in roles) if roles else "no role here"
        raise AllocatedWorkerMustHoldACaseload(
            field_name,
            f"{worker_id!r} holds no caseload ({held}); a referral is allocated to a peer worker"
            " or team lead",
        )
