"""What every route on a concern shares: who may see it, when a client's version of it is stale,
the vault key its words are sealed under, and the concern as a client is answered with it.

Who sees what: any worker raises a concern; safeguarding leads (and team leads, who deputise
for them) see every concern of their partner; anyone else sees only the concerns they raised.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from services.safeguarding.api import ConcernOut
from services.safeguarding.domain import Concern
from services.safeguarding.domain.deadlines import Timescales, deadlines_for, open_deadlines
from shared import policy
from shared.auth import Forbidden, Principal
from shared.commands import Commands, Visible, Within, respond, sealing
from shared.events import SYSTEM, RecordedEvent
from shared.web import NotFound, instance_of

MAY_RAISE_CONCERNS = policy.MAY_RAISE_CONCERNS
MAY_LEAD_SAFEGUARDING = policy.MAY_LEAD_SAFEGUARDING
MISSING = "no such concern"


def now() -> datetime:
    return datetime.now(UTC)


def subject_of(concern_id: str) -> uuid.UUID:
    """The vault key a concern's text is sealed under while its person is not known."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"peerlink:concern/{concern_id}/subject")


def is_lead(principal: Principal) -> bool:
    return principal.role in MAY_LEAD_SAFEGUARDING


def visible_to(principal: Principal) -> Visible:
    """Another partner's concern is not there for the caller; one raised by someone else is
    a lead's to see."""

    def visible(concern: Concern, history: list[RecordedEvent]) -> None:
        if history[0].partner_id != principal.partner_id:
            raise NotFound(MISSING)
        mine = principal.user_id in (concern.raised_by, history[0].actor.user_id)
        if not is_lead(principal) and not mine:
            raise Forbidden("only safeguarding leads see concerns raised by others")

    return visible


def changed_by_a_person(history: list[RecordedEvent], expected: int) -> bool:
    """What the timer records (deadlines missed, escalations, e-mail sent) changes nothing a
    lead acts on, so it never makes their page stale; a person's step does."""
    if expected >= len(history):
        return True
    return any(event.actor != SYSTEM for event in history[expected:])


def word_ids(body: Mapping, names: Iterable[str]) -> dict[str, uuid.UUID]:
    """A new text id for each of the body's fields of free text that was given."""
    return {name: uuid.uuid4() for name in names if body.get(name) is not None}


def view(concern: Concern, timescales: Timescales) -> dict:
    body = instance_of(ConcernOut).dump({**concern.as_dict(), **deadlines_for(concern, timescales)})
    due = [at for _, at in open_deadlines(concern, timescales)]
    body["is_overdue"] = bool(due) and due[0] < now()
    return body


def answer(concern: Concern, timescales: Timescales, status: int = 200, **extra):
    """The concern as a client is answered with it, its version the ETag."""
    return respond(concern, {**view(concern, timescales), **extra}, status)


class ConcernRoutes:
    """The base of the service's route mixins; the service gives `store`, `audit`, `vault`,
    `workforce`, `settings` and `config` (its SafeguardingSettings)."""

    def _answer(self, concern: Concern, status: int = 200, **extra):
        return answer(concern, self.config.timescales, status, **extra)

    @property
    def commands(self) -> Commands:
        return Commands(self.store, self.audit)

    def _concern(self, principal: Principal, concern_id: str):
        """The concern and its history, if the caller may see it."""
        return self.commands.load(
            Concern, concern_id, missing=MISSING, visible=visible_to(principal)
        )

    def _step(
        self,
        request,
        principal: Principal,
        concern_id: str,
        body: Mapping,
        act: Callable[[Concern, dict[str, uuid.UUID]], list],
        texts: Iterable[str] = (),
        also: Within | None = None,
    ) -> Concern:
        """A step on a concern: `act(concern, ids)` decides, given the id each of the body's
        `texts` is sealed under; the words are sealed with the events, and what the timer
        recorded since the client looked never makes its version stale."""
        concern, history = self._concern(principal, concern_id)
        ids = word_ids(body, texts)
        self.commands.run(
            request,
            principal,
            concern,
            history,
            body,
            lambda c: act(c, ids),
            within=self._sealing(concern, body, ids, also) if ids or also else None,
            stale=changed_by_a_person,
        )
        return concern

    def _sealing(
        self,
        concern: Concern,
        body: Mapping,
        ids: Mapping[str, uuid.UUID],
        also: Within | None = None,
    ) -> Within:
        """The body's words, each under its id, sealed with the events under the person at
        risk (or the concern's own key while they are not known)."""
        return sealing(
            self.vault,
            concern.person_id or subject_of(concern.id),
            {text_id: body[name] for name, text_id in ids.items()},
            "this concern",
            also=also,
            instead="record it without words",
        )
