"""Every field the referrals service accepts is kept (in an event, or sealed in the vault) or
is a control (a version, a search term): none is accepted and thrown away."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from contracts.hub import HUB_FIELDS
from contracts.referrals.events import registry
from services.referrals.api import AllocateBody, ReceiveReferralBody
from services.referrals.api_people import RegisterPersonBody
from services.referrals.open_items import SessionsReader
from services.referrals.service import ReferralsService
from shared.web import routes_of

pytestmark = pytest.mark.unit

VAULT = "vault"  # identifiers, or free text sealed under the person's key
CONTROL = "control"  # a version to check, a search term, a moment to review as of
IDENTIFIERS = (
    "address",
    "communication_needs",
    "date_of_birth",
    "email",
    "emergency_contact",
    "full_name",
    "gp_practice",
    "interpreter_language",
    "nhs_number",
    "phone",
    "postcode",
    "preferred_name",
    "pronouns",
)
PERSON = {name: (VAULT, name) for name in IDENTIFIERS} | {
    "gender": ("PersonRegistered", "gender"),
    "ethnicity": ("PersonRegistered", "ethnicity"),
}
DATED = {"expected_version": (CONTROL, "If-Match")}

# route -> accepted field -> where it is found again: (event type, payload field) or vault
KEPT = {
    "POST /referrals": {
        "person_id": ("ReferralReceived", "person_id"),
        "person": ("PersonRegistered", "person_id"),
        "cared_for_person_id": ("ReferralReceived", "cared_for_person_id"),
        "cared_for_person": ("ReferralReceived", "cared_for_person_id"),
        "source": ("ReferralReceived", "source"),
        "received_on": ("ReferralReceived", "received_on"),
        "urgency": ("ReferralReceived", "urgency"),
        "referrer_organisation": ("ReferralReceived", "referrer"),
        "referrer_contact": ("ReferralReceived", "referrer"),  # its contact_text_id
        "needs": ("ReferralReceived", "needs"),
        "needs_notes": ("ReferralReceived", "needs_text_id"),
        "risk_level": ("ReferralReceived", "risk_level"),
        "risk_notes": ("ReferralReceived", "risk_text_id"),
        "consent": ("ReferralReceived", "consent"),
        "preferred_contact_mode": ("ReferralReceived", "preferred_contact_mode"),
        "is_carer_referral": ("ReferralReceived", "is_carer_referral"),
    },
    "POST /referrals/<string:referral_id>/accept": DATED
    | {"on": ("ReferralAccepted", "accepted_on")},
    "POST /referrals/<string:referral_id>/decline": DATED
    | {"on": ("ReferralDeclined", "declined_on"), "reason": ("ReferralDeclined", "reason")},
    "POST /referrals/<string:referral_id>/allocate": DATED
    | {
        "on": ("ReferralAllocated", "allocated_on"),
        "worker_id": ("ReferralAllocated", "worker_id"),
    },
    "POST /referrals/<string:referral_id>/first-contact": DATED
    | {"on": ("FirstContactMade", "contacted_on")},
    "POST /referrals/<string:referral_id>/hold": DATED
    | {"on": ("ReferralPutOnHold", "on"), "reason": ("ReferralPutOnHold", "reason")},
    "POST /referrals/<string:referral_id>/resume": DATED | {"on": ("ReferralResumed", "on")},
    "POST /referrals/<string:referral_id>/discharge": DATED
    | {
        "on": ("ReferralDischarged", "discharged_on"),
        "reason": ("ReferralDischarged", "reason"),
        "close_open_items": ("ReferralDischarged", "close_open_items"),
    },
    "POST /referrals/<string:referral_id>/close": DATED
    | {
        "on": ("ReferralClosedWithoutContact", "closed_on"),
        "reason": ("ReferralClosedWithoutContact", "reason"),
    },
    "POST /referrals/<string:referral_id>/offer": DATED
    | {
        "on": ("ReferralOffered", "offered_on"),
        "to_partner": ("ReferralOffered", "to_partner"),
        "share": ("ReferralOffered", "shares"),
    },
    "POST /referrals/<string:referral_id>/offer/withdraw": DATED
    | {
        "on": ("ReferralOfferWithdrawn", "withdrawn_on"),
        "reason": ("ReferralOfferWithdrawn", "reason"),
    },
    "POST /referrals/<string:referral_id>/consent": DATED
    | {
        "to_share": ("ConsentRecorded", "to_share"),
        "to_contact": ("ConsentRecorded", "to_contact"),
        "contact_methods": ("ConsentRecorded", "contact_methods"),
        "contact_times": ("ConsentRecorded", "contact_times_text_id"),
        "recorded_on": ("ConsentRecorded", "recorded_on"),
        "share_with": ("ConsentRecorded", "share_with"),
        "shares": ("ConsentRecorded", "shares"),
    },
    "POST /referrals/<string:referral_id>/consent/withdraw": DATED
    | {"on": ("ConsentWithdrawn", "withdrawn_on")},
    "POST /referrals/<string:referral_id>/correct": DATED
    | {
        "field": ("ReferralCorrected", "field"),
        "value": ("ReferralCorrected", "value"),
        "reason": ("ReferralCorrected", "reason_text_id"),
        "on": ("ReferralCorrected", "corrected_on"),
    },
    "POST /offers/<string:offer_id>/accept": DATED
    | {
        "on": ("OfferAccepted", "accepted_on"),
        "person_id": ("OfferAccepted", "person_id"),
        "register_person": ("OfferAccepted", "person"),  # "registered" rather than "linked"
    },
    "POST /offers/<string:offer_id>/decline": DATED
    | {"on": ("OfferDeclined", "declined_on"), "reason": ("OfferDeclined", "reason")},
    "POST /people": PERSON,
    "POST /people/<uuid:person_id>": PERSON | DATED,
    "POST /people/<uuid:person_id>/erasure": {
        "reason_code": ("PersonErased", "reason_code"),
        "reason": (VAULT, "erasure_reason"),
    },
    "POST /people/search": {
        n: (CONTROL, "search") for n in ("nhs_number", "full_name", "date_of_birth")
    },
    "POST /people/retention-review": {"as_of": (CONTROL, "review as of")},
    "POST /workers": {
        "worker_id": ("WorkerRegistered", "worker_id"),
        "display_name": ("WorkerRegistered", "display_name"),
        "roles": ("WorkerRegistered", "roles"),
    },
    "POST /workers/<string:worker_id>/leave": DATED
    | {"on": ("WorkerLeft", "left_on"), "reason": ("WorkerLeft", "reason")},
}


def accepted_fields() -> dict[str, set[str]]:
    return {
        f"{r.method} {r.path}": set(r.body().fields)
        for r in routes_of(ReferralsService)
        if r.body is not None
    }


def test_every_field_of_every_request_schema_is_kept_somewhere():
    accepted = accepted_fields()
    assert set(accepted) == set(KEPT), "a route's body is not walked here"
    for route, names in accepted.items():
        assert names == set(KEPT[route]), f"{route}: every accepted field says where it is kept"


def test_every_field_kept_in_an_event_is_a_field_of_that_events_schema():
    for route, kept in KEPT.items():
        for name, (where, key) in kept.items():
            if where in (VAULT, CONTROL):
                continue
            schema = registry.get(where).schema
            assert key in schema().fields, f"{route} {name}: {where} has no {key}"


def test_a_correction_reaches_the_hub_with_coded_fields_and_never_its_reason():
    assert set(HUB_FIELDS["ReferralCorrected"]) == {"field", "value"}


@pytest.mark.parametrize(
    ("schema", "body", "field"),
    [
        (RegisterPersonBody, {"full_name": "   ", "date_of_birth": "1980-01-01"}, "full_name"),
        (AllocateBody, {"worker_id": "   "}, "worker_id"),
        (
            ReceiveReferralBody,
            {
                "person_id": "6f1c5b9e-3f4e-4b8e-9a57-2f0c1d2e3a4b",
                "source": "gp",
                "received_on": "2026-01-01",
                "needs_notes": " \n ",
            },
            "needs_notes",
        ),
    ],
)
def test_text_of_nothing_but_spaces_is_refused_naming_the_field(schema, body, field):
    with pytest.raises(ValidationError) as refusal:
        schema().load(body)
    assert "TextMustHaveContent" in str(refusal.value.messages[field])


def test_text_is_trimmed():
    loaded = RegisterPersonBody().load({"full_name": "  Jo Bloggs ", "date_of_birth": "1980-01-01"})
    assert loaded["full_name"] == "Jo Bloggs"


class FakeResponse:
    def __init__(self, status_code: int, items: list[dict]):
        self.status_code = status_code
        self.items = items

    def raise_for_status(self):
        if self.status_code >= 400:
            import requests

            raise requests.HTTPError(str(self.status_code))

    def json(self):
        return {"items": self.items}


class FakeSessions:
    """The sessions service's list routes, as the referrals service reads them."""

    def __init__(self, answers: dict[str, FakeResponse]):
        self.answers = answers
        self.asked: list[tuple[str, dict, dict]] = []

    def get(self, url, params, headers, timeout):
        self.asked.append((url, params, headers))
        return self.answers[url.rsplit("/", 1)[-1]]


class Request:
    headers = {"Authorization": "Bearer caller"}


def test_open_items_list_future_sessions_and_open_plans_with_how_to_close_them():
    sessions = FakeSessions(
        {
            "sessions": FakeResponse(
                200, [{"session_id": "s1", "kind": "one_to_one", "starts_at": "2099-01-01"}]
            ),
            "plans": FakeResponse(200, [{"plan_id": "p1", "kind": "crisis_and_safety"}]),
        }
    )
    items, warnings = SessionsReader("http://sessions", sessions).of(Request(), "person-1")
    assert [(i["kind"], i["id"]) for i in items] == [("session", "s1"), ("plan", "p1")]
    assert "/sessions/s1/cancel" in items[0]["to_close"] and warnings == []
    # with the caller's own token, so the sessions service's access rules apply
    assert all(h["Authorization"] == "Bearer caller" for _, _, h in sessions.asked)
    assert sessions.asked[0][1]["status"] == "booked"


def test_open_items_that_cannot_be_read_become_a_warning_not_a_failure():
    sessions = FakeSessions({"sessions": FakeResponse(500, []), "plans": FakeResponse(200, [])})
    items, warnings = SessionsReader("http://sessions", sessions).of(Request(), "person-1")
    assert items == [] and "could not be read" in warnings[0]
    items, warnings = SessionsReader(None).of(Request(), "person-1")
    assert items == [] and "not checked" in warnings[0]
