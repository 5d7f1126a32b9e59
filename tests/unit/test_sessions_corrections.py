"""Records withdrawn and refused: voided measures and signposting, one open crisis and safety
plan per person, blank text, plan content of the wrong kind, and the words of a refusal."""

from datetime import date

import pytest

from services.sessions import api as schemas
from services.sessions import domain
from services.sessions.domain import Plan, Signposting
from tests.unit.test_sessions_domain import (
    CRISIS,
    PERSON,
    RECOVERY,
    REFERRAL,
    TODAY,
    Story,
    measures_of,
    refused,
    swemwbs,
    take,
)

pytestmark = pytest.mark.unit


# -- measures ------------------------------------------------------------------------------------


def test_a_voided_measure_leaves_the_series_and_its_start_may_be_taken_again():
    story = measures_of()
    story.then(take(story, "start", swemwbs(1), date(2026, 1, 10)), "MeasureRecorded")
    story.then(take(story, "review", swemwbs(3), date(2026, 2, 10)), "MeasureRecorded")
    [event] = story.then(story.now.void(number=1, reason="wrong_person", by="w1"), "MeasureVoided")
    assert event.payload["timepoint"] == "start" and event.payload["number"] == 1
    assert [m["number"] for m in story.now.as_dict()["measures"]] == [2]
    assert story.now.change("swemwbs") is None  # one measure left: no change to show
    story.then(take(story, "start", swemwbs(2), date(2026, 1, 11)), "MeasureRecorded")
    assert [m["number"] for m in story.now.as_dict()["measures"]] == [2, 4]


def test_voiding_a_measure_twice_or_one_never_taken_is_refused():
    story = measures_of()
    story.then(take(story, "start", swemwbs(1), TODAY), "MeasureRecorded")
    story.then(story.now.void(number=1, reason="duplicate", by="w1"), "MeasureVoided")
    refused(domain.MeasureMustExist, lambda: story.now.void(number=1, reason="other", by="w1"))
    refused(domain.MeasureMustExist, lambda: story.now.void(number=7, reason="other", by="w1"))
    refused(
        domain.MeasureMustExist,
        lambda: story.now.void(number=2, reason="other", by="w1"),  # the void itself
    )


# -- signposting ---------------------------------------------------------------------------------


def signposted() -> Story:
    story = Story(Signposting)
    story.then(
        story.now.record(person_id=PERSON, destination="housing", by="w1", on=TODAY),
        "SignpostingRecorded",
    )
    return story


def test_a_voided_signposting_says_why_and_takes_no_outcome():
    story = signposted()
    [event] = story.then(
        story.now.void(reason="recorded_in_error", by="w2", on=TODAY), "SignpostingVoided"
    )
    assert event.payload == {
        "reason": "recorded_in_error",
        "voided_by": "w2",
        "voided_on": TODAY.isoformat(),
    }
    refused(
        domain.VoidedRecordCannotChange,
        lambda: story.now.record_outcome(outcome="taken_up", by="w1", on=TODAY),
    )
    refused(
        domain.VoidedRecordCannotChange,
        lambda: story.now.void(reason="other", by="w1", on=TODAY),
    )


def test_unknown_is_not_an_outcome_a_worker_records():
    with pytest.raises(schemas.ValidationError, match="outcome"):
        schemas.RecordSignpostingOutcomeBody().load({"outcome": "unknown"})
    with pytest.raises(schemas.ValidationError, match="outcome"):
        schemas.CorrectSignpostingOutcomeBody().load({"outcome": "unknown", "reason": "other"})
    assert schemas.SignpostingListQuery().load({"outcome": "unknown"})["outcome"] == "unknown"


# -- plans ---------------------------------------------------------------------------------------


def test_a_second_open_crisis_and_safety_plan_for_a_person_is_refused():
    refused(
        domain.OneOpenCrisisAndSafetyPlanPerPerson,
        lambda: Plan("p2").draft(
            person_id=PERSON,
            kind="crisis_safety",
            content=CRISIS,
            by="w1",
            on=TODAY,
            open_plans=[("p1", "crisis_safety")],
        ),
        "revise it, or close it",
    )


def test_other_open_plans_do_not_stop_a_crisis_and_safety_plan():
    story = Story(Plan)
    story.then(
        story.now.draft(
            person_id=PERSON,
            kind="crisis_safety",
            content=CRISIS,
            by="w1",
            on=TODAY,
            open_plans=[("p1", "recovery_wellbeing"), ("p2", "carer_crisis")],
        ),
        "PlanDrafted",
    )


def test_content_of_another_kind_of_plan_is_refused_naming_what_the_kind_holds():
    body = {"person_id": PERSON, "kind": "crisis_safety", "content": RECOVERY}
    with pytest.raises(schemas.ValidationError) as refusal:
        schemas.DraftPlanBody().load(body)
    [message] = refusal.value.messages["content"]
    assert message.startswith("a crisis safety plan's content holds warning_signs,")
    assert "goals is not part of this kind of plan" in message


# -- blank and padded text -----------------------------------------------------------------------

SESSION = {
    "kind": "one_to_one",
    "referral_id": REFERRAL,
    "mode": "phone",
    "location": "remote",
    "worker_ids": ["w1"],
    "planned_start_at": "2026-03-11T10:00:00+00:00",
}


@pytest.mark.parametrize(
    ("body_class", "body", "field"),
    [
        ("BookSessionBody", {**SESSION, "worker_ids": ["   "]}, "worker_ids"),
        ("BookSessionBody", {**SESSION, "referral_id": "  "}, "referral_id"),
        (
            "CreateGroupBody",
            {"name": "   ", "kind": "social_activity", "capacity": 3, "facilitator_ids": ["w1"]},
            "name",
        ),
        ("SessionNotesBody", {"text": " \n\t "}, "text"),
    ],
)
def test_blank_text_is_refused_naming_the_field(body_class, body, field):
    with pytest.raises(schemas.ValidationError) as refusal:
        getattr(schemas, body_class)().load(body)
    assert field in refusal.value.messages
    assert "must not be blank" in str(refusal.value.messages[field])


def test_text_is_kept_without_its_surrounding_spaces():
    loaded = schemas.CreateGroupBody().load(
        {
            "name": "  Tuesday walk ",
            "kind": "social_activity",
            "capacity": 3,
            "facilitator_ids": [" w1 "],
        }
    )
    assert loaded["name"] == "Tuesday walk" and loaded["facilitator_ids"] == ["w1"]
