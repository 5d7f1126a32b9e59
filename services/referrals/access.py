"""How the referrals service's routes reach a referral: as the caller may see it (their partner's,
on their caseload), each step taken through the one command path (shared.commands) with the
words it names sealed under the person's key, and every date a worker gives checked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime

from services.referrals.api import referral_out
from services.referrals.domain import Calendar, Person, Referral
from shared.aggregate import RuleBroken
from shared.auth import Forbidden, Principal
from shared.commands import Commands, respond, sealing
from shared.events import NewEvent, RecordedEvent
from shared.web import NotFound

NO_SUCH_REFERRAL = "no such referral"

# decide(referral, on): the events a step of the referral decides, on the day it is dated
Decide = Callable[[Referral, date], list[NewEvent]]


def today() -> date:
    return datetime.now(UTC).date()


def calendar(earliest: date) -> Calendar:
    """Today's calendar, refusing any date before `earliest` (ReferralSettings.earliest_date)."""
    return Calendar(today(), earliest)


def consent_payload(consent: Mapping | None, contact_times_text_id: str | None) -> dict | None:
    """Consent as its events keep it, from a request's: the person's words about when to call
    are sealed, and the event names them by their text id."""
    if not consent:
        return None
    return {
        "to_share": consent["to_share"],
        "to_contact": consent["to_contact"],
        "contact_methods": consent["contact_methods"],
        "contact_times_text_id": contact_times_text_id,
        "recorded_on": consent["recorded_on"].isoformat(),
        # with whom, and what of their record, the person consents to share (None: any
        # partner, all of it); refusing to share refuses it all
        "share_with": consent.get("share_with") if consent["to_share"] else [],
        "shares": consent.get("shares") if consent["to_share"] else [],
    }


def visible_to(principal: Principal):
    """A referral is its partner's alone; a peer worker sees those on their caseload, and one
    they recorded that nobody has yet been allocated."""

    def visible(referral: Referral, history: list[RecordedEvent]) -> None:
        if history[0].partner_id != principal.partner_id:
            raise NotFound(NO_SUCH_REFERRAL)
        if principal.role == "peer_worker" and referral.worker_id != principal.user_id:
            created_by_me = history[0].actor.user_id == principal.user_id
            if not (created_by_me and referral.worker_id is None):
                raise Forbidden("this referral is not on your caseload")

    return visible


class ReferralAccess:
    """Mixed into the referrals service; expects `store`, `config`, `audit`, `vault`."""

    @property
    def commands(self) -> Commands:
        return Commands(self.store, self.audit)

    def _referral(
        self, principal: Principal, referral_id: str
    ) -> tuple[Referral, list[RecordedEvent]]:
        return self.commands.load(
            Referral, referral_id, missing=NO_SUCH_REFERRAL, visible=visible_to(principal)
        )

    def _step(
        self,
        request,
        principal: Principal,
        referral_id: str,
        body: Mapping,
        decide: Decide,
        texts: Mapping[str, str] | None = None,
        ending: bool = False,
    ):
        """A step of a referral, dated `on` the body's day (today if none), through the one
        command path; `texts` (text id -> words) are sealed under the person's key with its
        events. Of an erased person's referral, only an `ending` step (closing, discharging)
        may still be taken."""
        referral, history = self._referral(principal, referral_id)
        person_id = referral.details["person_id"]

        def act(referral: Referral) -> list[NewEvent]:
            if not ending and self._person_standing(principal, person_id) == "erased":
                raise RuleBroken(
                    "NoSupportForAnErasedPerson",
                    "the person this referral is for was erased; it can only be closed or"
                    " discharged",
                )
            return decide(referral, self._date(body))

        within = None
        if texts:
            within = sealing(
                self.vault, person_id, texts, "this referral", instead="nothing more is written"
            )
        self.commands.run(request, principal, referral, history, body, act, within=within)
        return respond(referral, referral_out(referral))

    def _person_standing(self, principal: Principal, person_id) -> str | None:
        """Whether the person is "registered" or "erased"; None when this partner has none by
        that id."""
        events = self.store.read_stream(Person.stream_type, str(person_id))
        if not events or events[0].partner_id != principal.partner_id:
            return None
        return "erased" if Person.fold(str(person_id), events).is_erased else "registered"

    def _date(self, body: Mapping) -> date:
        return calendar(self.config.earliest_date).check("on", body.get("on") or today())
