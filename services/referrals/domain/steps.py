"""What every part of the Referral aggregate reads: its state as its events left it, and its dated
steps, which run forward (received <= accepted <= allocated <= first contact <= holds and
resumes <= discharge) and around the sessions held for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.referrals.codes import (
    CLOSED_WITHOUT_CONTACT,
    DECLINED,
    DISCHARGED,
    OPEN_STATES,
    TRANSFERRED,
)
from shared.aggregate import Aggregate, Rule

# the step each timeline date records, for messages
STEP_NAMES = {
    "received_on": "received",
    "accepted_on": "accepted",
    "declined_on": "declined",
    "allocated_on": "allocated",
    "first_contact_on": "first contact",
    "on_hold_on": "put on hold",
    "resumed_on": "resumed",
    "discharged_on": "discharged",
    "closed_on": "closed without contact",
}


class ReferralMustBeReceivedToDecide(Rule):
    pass


class ReferralTimelineRunsForward(Rule):
    """received <= accepted <= allocated <= first contact <= holds and resumes <= discharge:
    a step is never dated before the step it follows (a conflict with what is recorded: 409)."""


class FirstContactCannotPrecedeReferral(ReferralTimelineRunsForward):
    pass


class DischargeCannotPrecedeASessionHeld(ReferralTimelineRunsForward):
    pass


class FirstContactCannotFollowASessionHeld(ReferralTimelineRunsForward):
    pass


class FirstContactCannotFollowAMeasureTaken(ReferralTimelineRunsForward):
    pass


@dataclass(frozen=True)
class SessionsHeld:
    """The first and last day of the referral's one-to-one or carer sessions held (as the
    sessions service records them): first contact <= sessions <= discharge."""

    first: date
    last: date
    # the dates sessions held bound
    BOUNDED = ("first_contact_on", "discharged_on")

    def bound(self, field_name: str, on: date) -> None:
        if field_name == "discharged_on" and on < self.last:
            raise DischargeCannotPrecedeASessionHeld(
                f"discharged on {on.isoformat()} would come before a session held on "
                f"{self.last.isoformat()}; void that session if it was recorded in error"
            )
        if field_name == "first_contact_on" and on > self.first:
            raise FirstContactCannotFollowASessionHeld(
                f"first contact on {on.isoformat()} would come after a session held on "
                f"{self.first.isoformat()}, which was contact already"
            )


@dataclass(frozen=True)
class MeasuresTaken:
    """The first day an outcome measure recorded for the referral was taken (as the sessions
    service records them, voided ones left out): first contact <= measures, since a baseline is
    taken at first contact or after."""

    first: date

    def bound(self, field_name: str, on: date) -> None:
        if field_name == "first_contact_on" and on > self.first:
            raise FirstContactCannotFollowAMeasureTaken(
                f"first contact on {on.isoformat()} would come after a measure taken on "
                f"{self.first.isoformat()} for this referral, at a contact already; void that "
                "measure if it was recorded in error"
            )


def described(status: str) -> str:
    """A referral's status as a message says it ("transferred to another partner")."""
    return {
        DECLINED: "declined",
        DISCHARGED: "discharged",
        CLOSED_WITHOUT_CONTACT: "closed without contact",
        TRANSFERRED: "transferred to another partner",
    }.get(status, status.replace("_", " "))


def runs_forward(timeline: list[tuple[str, date]]) -> None:
    latest: tuple[str, date] | None = None
    for name, on in timeline:
        if latest is not None and on < latest[1]:
            raise ReferralTimelineRunsForward(
                f"{name} {on.isoformat()} is before {latest[0]} {latest[1].isoformat()}: "
                f"a referral is {STEP_NAMES[name]} on or after it is {STEP_NAMES[latest[0]]}"
            )
        if latest is None or on >= latest[1]:
            latest = (name, on)


class ReferralState(Aggregate):
    """A referral as its events left it; its lifecycle (referral.py), its sharing (sharing.py)
    and its corrections (correction.py) each read and fold it."""

    stream_type = "referral"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.status: str | None = None
        self.details: dict = {}
        self.worker_id: str | None = None
        self.received_on: date | None = None
        self.first_contact_on: date | None = None
        self.consent_to_share = False
        self.consent: dict | None = None
        self.consent_withdrawn_on: date | None = None
        self.offered_to: str | None = None
        self.offer_id: str | None = None
        # once transferred: to whom, by which offer (an erasure here is told to them)
        self.transferred_to: str | None = None
        self.transfer_offer_id: str | None = None
        # offers withdrawn, each to its partner: an acceptance of one arriving later is refused
        self.withdrawn_offers: dict[str, str] = {}
        self.refused_acceptances: set[str] = set()
        self.history_of_workers: list[str] = []
        self.outcome_reason: str | None = None
        # the dated steps in the order they were recorded: (timeline field, date)
        self.timeline: list[tuple[str, date]] = []
        # sealed texts: what each is (needs_notes, risk_notes, ...) -> its id in the vault
        self.text_ids: dict[str, str] = {}
        self.corrections: list[dict] = []

    def _must_exist(self) -> None:
        if self.status is None:
            raise ReferralMustBeReceivedToDecide("no such referral")

    def _follows(self, field_name: str, on: date) -> None:
        """A new step is dated on or after every step recorded before it."""
        runs_forward([*self.timeline, (field_name, on)])

    def _step_index(self, field_name: str) -> int | None:
        """The step a date field names: the latest of its kind (an allocation: the latest)."""
        for index in range(len(self.timeline) - 1, -1, -1):
            if self.timeline[index][0] == field_name:
                return index
        return None

    def _step(self, field_name: str, on: str) -> None:
        self.timeline.append((field_name, date.fromisoformat(on)))

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    def dates(self) -> dict[str, date]:
        """Each step's date (the latest allocation's for allocated_on)."""
        return dict(self.timeline)
