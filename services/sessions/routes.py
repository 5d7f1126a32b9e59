"""What every route of the sessions service shares: the roles that read and record, what a
partner may set, the clock, and the checks made before the domain decides (a person registered
on this node, a date neither ahead of today nor before the earliest the partner records, a
referral's timeline). Commands take the one command path (shared.commands)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from services.sessions import access, queries
from services.sessions.domain import not_before_earliest
from shared import policy
from shared.aggregate import Aggregate
from shared.commands import Act, Commands, Visible
from shared.web import BadRequest, NotFound

READERS = policy.MAY_READ_SESSIONS
WRITERS = policy.MAY_RECORD_SESSIONS

# decide(cur, aggregate): the domain's decision, with a read transaction open for what it is told
Decide = Callable[..., list]


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return now().date()


def timeline_of(referral: dict) -> dict:
    """The dates of a referral (as the sessions service knows it) a session is dated within."""
    return {
        "referral_received_on": referral["received_on"],
        "referral_first_contact_on": referral["first_contact_on"],
        "referral_ended_on": referral["ended_on"],
    }


class SessionsRoutes:
    """The base of the service's route mixins; the service gives `store`, `config` (its
    SessionSettings), `audit`, `vault` and `workforce`."""

    @property
    def commands(self) -> Commands:
        return Commands(self.store, self.audit)

    def _reading(self, decide: Decide) -> Act:
        """An act that decides with a read transaction open (`decide(cur, aggregate)`), closed
        before the events are appended."""

        def act(aggregate: Aggregate) -> list:
            with self.store.db.transaction() as cur:
                return decide(cur, aggregate)

        return act

    def _dated(self, body: dict, decide: Decide) -> Act:
        """As `_reading`, the decision dated by the body's `on` (today when left out, never in
        the future): `decide(cur, aggregate, on)`."""
        return self._reading(
            lambda cur, aggregate: decide(cur, aggregate, self._not_in_future(body.get("on"), "on"))
        )

    def _checked(self, check: Callable) -> Visible:
        """A `visible` for a load: `check(cur, aggregate)` refuses a caller who may not act on
        it, in a read transaction of its own."""

        def visible(aggregate: Aggregate, history: list) -> None:
            with self.store.db.transaction() as cur:
                check(cur, aggregate)

        return visible

    def _about_person(self, principal) -> Visible:
        """Who may act on a plan or a signposting: whoever may see its person."""
        return self._checked(
            lambda cur, aggregate: access.require_person(cur, principal, aggregate.person_id)
        )

    def _known_person(self, cur, person_id, field_name: str = "person_id") -> None:
        self._known_people(cur, [(person_id, field_name)])

    def _known_people(self, cur, named: list[tuple[Any, str]]) -> None:
        """Each (person_id, field) names someone registered here and not erased; the first that
        does not is refused, naming its field. One statement for them all."""
        standings = self.vault.standings(cur, [person_id for person_id, _ in named])
        for person_id, field_name in named:
            standing = standings.get(uuid.UUID(str(person_id)))
            if standing is None:
                raise BadRequest(field_name, "no such person on this node; register them first")
            if standing == "erased":
                raise BadRequest(field_name, "this person's record was erased")

    def _person_path(self, cur, principal, person_id: str, for_change: bool = False) -> str:
        """The person a path names; one this node never registered is 404, and one erased may
        be read (their anonymous history stays) but gets nothing new."""
        try:
            person = str(uuid.UUID(person_id))
        except ValueError:
            raise NotFound("no such person") from None
        standing = self.vault.standing(cur, person)
        if standing is None:
            raise NotFound("no such person")
        access.require_person(cur, principal, person)
        if for_change and standing == "erased":
            raise BadRequest("person_id", "this person's record was erased")
        return person

    def _not_in_future(self, day: date | None, field_name: str) -> date:
        day = day or today()
        if day > today():
            raise BadRequest(field_name, "cannot be in the future")
        return not_before_earliest(field_name, day, self.config.earliest_date)

    @staticmethod
    def _referral_dates(cur, referral_id: str | None) -> dict:
        """The referral's timeline, for a session dated within it."""
        referral = queries.referral_status(cur, referral_id) if referral_id else None
        return timeline_of(referral) if referral else {}

    def _audit_search(self, request, principal, what: str, query: dict, returned: int) -> None:
        self.audit.record(
            principal,
            "search",
            what,
            person_id=str(query["person_id"]) if query.get("person_id") else None,
            fields=sorted(query),
            request_id=request.peerlink_request_id,
            detail={"filters": {k: str(v) for k, v in query.items()}, "returned": returned},
        )
