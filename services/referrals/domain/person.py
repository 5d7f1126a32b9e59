"""The Person aggregate: someone registered on this node, as their events know them: coded,
non-identifying fields only. Their identifiers live in the vault, never in an event."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from contracts.referrals.codes import AGE_BANDS
from shared.aggregate import Aggregate, ReferenceRefused
from shared.events import NewEvent

# what a person's events may say of them: nothing that identifies them
CODED_FIELDS = ("age_band", "gender", "ethnicity", "postcode_district")


class ErasureReasonMustNotIdentify(ReferenceRefused):
    """An erasure's reason outlives the person's key: it must not repeat who they were."""


def age_band(date_of_birth: date, on: date) -> str:
    years = (
        on.year
        - date_of_birth.year
        - ((on.month, on.day) < (date_of_birth.month, date_of_birth.day))
    )
    return next(band for low, high, band in AGE_BANDS if low <= years <= high)


def postcode_district(postcode: str | None) -> str | None:
    """The outward code only (e.g. LS7): the most a report may know of where someone lives."""
    if not postcode:
        return None
    compact = postcode.replace(" ", "").upper()
    return compact[:-3] if len(compact) > 3 else None


def registration(person_id: str, details: Mapping, on: date) -> tuple[NewEvent, dict]:
    """A person's PersonRegistered event (coded fields only) and the identifiers for the
    vault, from the fields of a registration (POST /people), registered `on` that day."""
    coded = {k: details[k] for k in ("gender", "ethnicity")}
    identifiers = {
        k: (v.isoformat() if isinstance(v, date) else v)
        for k, v in details.items()
        if k not in coded
    }
    payload = {
        "person_id": person_id,
        "age_band": age_band(details["date_of_birth"], on),
        **coded,
        "postcode_district": postcode_district(identifiers.get("postcode")),
    }
    return NewEvent("PersonRegistered", payload), identifiers


class Person(Aggregate):
    """A person's coded, non-identifying record, folded from their events."""

    stream_type = "person"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.coded: dict = {}
        self.is_erased = False

    def change_details(self, changed: Mapping, coded: Mapping, on: date) -> list[NewEvent]:
        """`changed`: the identifiers changed (dates as ISO text), which the event names but
        never holds; `coded`: a new gender or ethnicity. A new date of birth or postcode
        changes the age band or district the event carries."""
        payload = {"person_id": self.id, "changed": sorted(changed), **coded}
        if "date_of_birth" in changed:
            born = changed["date_of_birth"]
            payload["age_band"] = age_band(date.fromisoformat(born), on) if born else None
        if "postcode" in changed:
            payload["postcode_district"] = postcode_district(changed["postcode"])
        return self.decide([NewEvent("PersonDetailsChanged", payload)])

    def erase(self, reason_code: str) -> list[NewEvent]:
        return self.decide(
            [NewEvent("PersonErased", {"person_id": self.id, "reason_code": reason_code})]
        )

    def _code(self, p: dict) -> None:
        self.coded.update({k: v for k, v in p.items() if k in CODED_FIELDS and v is not None})

    def apply_person_registered(self, p: dict) -> None:
        self._code(p)

    def apply_person_details_changed(self, p: dict) -> None:
        self._code(p)

    def apply_person_retention_due(self, p: dict) -> None:
        pass

    def apply_person_erased(self, p: dict) -> None:
        self.is_erased = True
