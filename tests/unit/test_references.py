"""The rules of naming someone: a referral's person is registered here and not erased; a worker
named in a record is on the partner's workforce and has not left (given these past Worker
events, when this command, then these events or this refusal)."""

from datetime import date

import pytest

from contracts.referrals.events import registry
from services.referrals.api import ReceiveReferralBody
from services.referrals.domain import (
    ErasedPersonCannotBeReferred,
    ReferralNamesARegisteredPerson,
    require_referable,
)
from shared.aggregate import ReferenceRefused, RuleBroken
from shared.events import SYSTEM, Context
from shared.eventstore import InMemoryEventStore
from shared.workforce import workers
from shared.workforce.workers import Worker

pytestmark = pytest.mark.unit

DAY = date(2026, 3, 2)


def given(*commands) -> Worker:
    """A worker after these commands, their events stored and read back (so payloads are
    valid)."""
    store = InMemoryEventStore(registry)
    worker = Worker("sam")
    for command in commands:
        store.append(
            "worker", "sam", worker.version, command(worker), Context("leeds-mind", SYSTEM)
        )
        worker = Worker.fold("sam", store.read_stream("worker", "sam"))
    return worker


def registered(worker: Worker):
    return worker.register("Sam Carter", ["peer_worker"], "rae", DAY)


def left(worker: Worker):
    return worker.leave("rae", DAY, "left_the_organisation")


# -- people -------------------------------------------------------------------------------------


def test_a_person_registered_here_may_be_referred():
    require_referable("person_id", "registered")


def test_a_person_never_registered_here_is_refused_naming_the_field():
    with pytest.raises(ReferralNamesARegisteredPerson) as refused:
        require_referable("cared_for_person_id", None)
    assert refused.value.field_name == "cared_for_person_id"
    assert refused.value.rule == "ReferralNamesARegisteredPerson"
    assert isinstance(refused.value, ReferenceRefused)


def test_an_erased_person_cannot_be_referred_under_their_old_id():
    with pytest.raises(ErasedPersonCannotBeReferred):
        require_referable("person_id", "erased")


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "person_id"),
        (
            {
                "person_id": "6f1c5b9e-3f4e-4b8e-9a57-2f0c1d2e3a4b",
                "person": {"full_name": "A B", "date_of_birth": "1990-01-01"},
            },
            "person_id",
        ),
        ({"person": {"full_name": "A B"}}, "person"),
        (
            {
                "person_id": "6f1c5b9e-3f4e-4b8e-9a57-2f0c1d2e3a4b",
                "cared_for_person": {"full_name": "C D", "date_of_birth": "1940-01-01"},
            },
            "cared_for_person",
        ),
    ],
)
def test_a_referral_names_its_person_by_id_or_registers_them(body, field):
    from marshmallow import ValidationError

    with pytest.raises(ValidationError) as invalid:
        ReceiveReferralBody().load({"source": "gp", "received_on": "2026-03-02", **body})
    assert field in invalid.value.normalized_messages()


# -- the workforce ------------------------------------------------------------------------------


def test_a_worker_is_registered_with_their_roles():
    worker = given(registered)
    assert worker.status == workers.REGISTERED and worker.roles == ["peer_worker"]
    assert worker.display_name == "Sam Carter"


def test_a_registered_worker_is_not_registered_twice():
    with pytest.raises(RuleBroken) as refused:
        registered(given(registered))
    assert refused.value.rule == "WorkerIsRegisteredOnce"


def test_a_worker_who_left_may_come_back():
    worker = given(registered, left, registered)
    assert worker.status == workers.REGISTERED and worker.left_on is None


def test_only_a_registered_worker_leaves():
    for past in ((), (registered, left)):
        with pytest.raises(RuleBroken) as refused:
            left(given(*past))
        assert refused.value.rule == "OnlyARegisteredWorkerLeaves"


def test_a_worker_does_not_leave_before_they_were_registered():
    with pytest.raises(RuleBroken) as refused:
        given(registered).leave("rae", date(1999, 1, 1), "left_the_organisation")
    assert refused.value.rule == "WorkerLeavesAfterJoining"
    assert given(registered, left).left_on == DAY  # the day they joined is allowed


def test_a_worker_registered_on_first_acting_says_so():
    [event] = Worker("sam").register(None, ["team_lead"], "sam", DAY, how=workers.ON_FIRST_SIGN_IN)
    assert event.payload["how"] == "on_first_sign_in" and event.payload["registered_by"] == "sam"


@pytest.mark.parametrize(
    "standing, rule",
    [(None, "WorkerMustBeRegistered"), (workers.LEFT, "WorkerMustNotHaveLeft")],
)
def test_naming_a_worker_off_the_workforce_is_refused_naming_the_field(standing, rule):
    with pytest.raises(ReferenceRefused) as refused:
        workers.require_may_be_named("worker_ids", "sma", standing, "alex")
    assert refused.value.rule == rule and refused.value.field_name == "worker_ids"


def test_a_registered_worker_may_be_named():
    workers.require_may_be_named("worker_id", "sam", workers.REGISTERED, "alex")


@pytest.mark.parametrize("standing", [None, workers.LEFT])
def test_whoever_acts_may_name_themselves(standing):
    workers.require_may_be_named("worker_id", "alex", standing, "alex")


@pytest.mark.parametrize("roles", [["partner_admin"], ["safeguarding_lead"], []])
def test_a_referral_is_not_allocated_to_someone_who_holds_no_caseload(roles):
    with pytest.raises(ReferenceRefused) as refused:
        workers.require_holds_caseload("worker_id", "rae", roles)
    assert refused.value.rule == "AllocatedWorkerMustHoldACaseload"
    assert refused.value.field_name == "worker_id"
    assert "peer worker or team lead" in refused.value.message


@pytest.mark.parametrize("roles", [["peer_worker"], ["team_lead"], ["partner_admin", "team_lead"]])
def test_a_peer_worker_or_team_lead_may_hold_a_caseload(roles):
    workers.require_holds_caseload("worker_id", "sam", roles)
