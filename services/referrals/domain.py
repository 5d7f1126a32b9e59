"""The Referral aggregate: from a referral arriving to a person discharged."""

from __future__ import annotations

from datetime import date

from shared.aggregate import Aggregate, RuleBroken
from shared.events import NewEvent


class ReferralMustBeNew(RuleBroken):
    def __init__(self):
        super().__init__("ReferralMustBeNew", "this referral has already been received")


class Referral(Aggregate):
    stream_type = "referral"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.status: str | None = None
        self.person_id = None
        self.source: str | None = None
        self.received_on: date | None = None
        self.urgency: str | None = None

    def receive(self, person_id, source: str, received_on: date, urgency: str) -> list[NewEvent]:
        if self.status is not None:
            raise ReferralMustBeNew()
        return self.decide(
            [
                NewEvent(
                    "ReferralReceived",
                    {
                        "person_id": str(person_id),
                        "source": source,
                        "received_on": received_on.isoformat(),
                        "urgency": urgency,
                    },
                )
            ]
        )

    def apply_referral_received(self, payload: dict) -> None:
        self.status = "received"
        self.person_id = payload["person_id"]
        self.source = payload["source"]
        self.received_on = date.fromisoformat(payload["received_on"])
        self.urgency = payload["urgency"]

    def as_dict(self) -> dict:
        return {
            "referral_id": self.id,
            "version": self.version,
            "status": self.status,
            "person_id": self.person_id,
            "source": self.source,
            "received_on": self.received_on,
            "urgency": self.urgency,
        }
