"""The node's workforce, kept in the referrals service's store (its `Worker` streams and the
`referrals.workers` read model kept in the appending transaction), and `Workforce`, which every
service of the node uses to check the workers a command names and to put a member of staff on
the list the first time they act. The referrals service keeps the /workers routes.

The other services read the read model in their own transactions rather than keeping a copy
fed by the broker: the node shares one database, a worker registered a moment ago can be named
at once, and staff names never travel over the broker (its messages carry only what the
alliance hub may know)."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, date, datetime

from nameko.extensions import DependencyProvider

from shared.audit import change_projector
from shared.auth import Forbidden, Principal
from shared.commands import Commands
from shared.events import SYSTEM, Context, EventRegistry, derived_id, with_id
from shared.eventstore import ConcurrencyError, DuplicateEventId
from shared.projections import chain
from shared.workforce.events import register_events
from shared.workforce.workers import (
    ON_FIRST_SIGN_IN,
    WORKER_ROLES,
    Worker,
    require_holds_caseload,
    require_may_be_named,
)

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


def today() -> date:
    return datetime.now(UTC).date()


def worker_events() -> EventRegistry:
    """The registry of the workforce's own events (the referrals service's registry holds them
    too, beside its others)."""
    registry = EventRegistry()
    register_events(registry)
    return registry


def worker_projector():
    """What the referrals service's projector does for a worker's events: the read model and
    the audit trail (a worker's stream is about no person)."""
    return chain(WorkerList(), change_projector("referrals"))


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
        self.commands = Commands(store)
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
        # the same first act seen twice at once appends it once; the node records it (the
        # worker asked for something else), the payload says whose sign-in it was
        event_id = derived_id(f"{principal.partner_id}/{principal.user_id}", "worker")
        context = Context(principal.partner_id, SYSTEM)
        # registered by an admin meanwhile: on the list all the same
        with contextlib.suppress(ConcurrencyError, DuplicateEventId):
            self.commands.apply(
                Worker(principal.user_id),
                lambda worker: with_id(
                    worker.register(
                        None, [principal.role], principal.user_id, today(), how=ON_FIRST_SIGN_IN
                    ),
                    event_id,
                ),
                context,
            )


class Workforce(DependencyProvider):
    """The node's workforce for a service: `require_named` and `sign_in` (see Roster)."""

    def setup(self):
        from shared.config import Settings
        from shared.db import shared_database
        from shared.eventstore import PostgresEventStore

        settings = Settings.from_environment(self.container.service_name)
        # the process's one pool, shared with the service's event store
        self.db = shared_database(
            settings.database_url, maxconn=2, application_name=self.container.service_name
        )
        store = PostgresEventStore(
            self.db, SCHEMA, worker_events(), service="referrals", projector=worker_projector()
        )
        self.roster = Roster(store)

    def stop(self):
        self.db.close()

    def get_dependency(self, worker_ctx):
        return self.roster
