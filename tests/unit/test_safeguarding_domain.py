"""Given these past events, when this command, then these new events or this refusal."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from marshmallow import ValidationError

from contracts.safeguarding.events import registry
from services.safeguarding import domain
from services.safeguarding.api import (
    AcknowledgeConcernBody,
    AddActionBody,
    AddNoteBody,
    CloseConcernBody,
    CompleteActionBody,
    ConcernOut,
    ConfirmSuggestionBody,
    DecideConcernBody,
    DismissSuggestionBody,
    IdentifyPersonBody,
    RaiseConcernBody,
)
from services.safeguarding.domain import ADULT_CATEGORIES, CHILD_CATEGORIES, Concern
from services.safeguarding.domain.deadlines import (
    ACKNOWLEDGE,
    DECIDE,
    Timescales,
    deadlines_for,
    decide_by,
    due_escalations,
)
from shared.aggregate import RuleBroken
from shared.events import SYSTEM, Context, NewEvent
from shared.eventstore import InMemoryEventStore

pytestmark = pytest.mark.unit

PERSON = str(uuid.uuid4())
ACTION = str(uuid.uuid4())
CONFIG = Timescales()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def iso(text: str) -> str:
    return at(text).isoformat()


NOW = at("2026-03-03 10:00")

DETAILS = {
    "person_id": PERSON,
    "description_text_id": None,
    "age_group": "adult",
    "categories": ["financial_material", "psychological_emotional"],
    "severity": "standard",
    "immediate_risk": False,
    "what_happened_text_id": str(uuid.uuid4()),
    "happened_on": "2026-03-01",
    "is_ongoing": True,
    "children_at_risk": False,
    "alleged_relationship": "family_member",
    "actions_taken": ["gp_informed"],
    "actions_taken_text_id": None,
    "informed": ["gp"],
    "consent_given": True,
    "without_consent_reason": None,
    "views_text_id": str(uuid.uuid4()),
}
RAISED = {
    **DETAILS,
    "raised_by": "w1",
    "raised_at": iso("2026-03-02 09:30"),
    "was_suggested": False,
    "suggested_at": None,
    "signal": None,
}
SUGGESTED = {
    "person_id": PERSON,
    "signal": "repeated_did_not_attend",
    "source_event_ids": [str(uuid.uuid4()) for _ in range(3)],
    "suggested_at": iso("2026-03-02 08:00"),
}
ACKNOWLEDGED = {
    "acknowledged_by": "lead",
    "acknowledged_at": iso("2026-03-02 11:00"),
    "severity": "standard",
    "previous_severity": "standard",
}


def decided(decision: str, reason: str | None = None) -> tuple[str, dict]:
    return (
        "ConcernDecided",
        {
            "decision": decision,
            "reason": reason,
            "rationale_text_id": None,
            "agency_reference_text_id": None,
            "previous_decision": None,
            "decided_by": "lead",
            "decided_at": iso("2026-03-02 14:00"),
        },
    )


ACTION_ADDED = {
    "action_id": ACTION,
    "kind": "follow_up_contact",
    "owner_id": "w1",
    "due_on": "2026-03-05",
    "details_text_id": None,
    "added_by": "lead",
    "added_at": iso("2026-03-02 14:05"),
}
ACTION_COMPLETED = {
    "action_id": ACTION,
    "outcome": "done",
    "note_text_id": None,
    "completed_by": "w1",
    "completed_at": iso("2026-03-02 16:00"),
}

# The events that bring a concern to each state.
PATHS: dict[str, list[tuple[str, dict]]] = {
    "new": [],
    "suggested": [("ConcernSuggested", SUGGESTED)],
    "dismissed": [
        ("ConcernSuggested", SUGGESTED),
        (
            "ConcernSuggestionDismissed",
            {
                "reason": "person_contacted_and_safe",
                "reason_text_id": None,
                "dismissed_by": "w1",
                "dismissed_at": iso("2026-03-02 09:00"),
            },
        ),
    ],
    "raised": [("ConcernRaised", RAISED)],
    "raised_unknown_person": [
        (
            "ConcernRaised",
            {**RAISED, "person_id": None, "description_text_id": str(uuid.uuid4())},
        )
    ],
}
PATHS["acknowledged"] = PATHS["raised"] + [("ConcernAcknowledged", ACKNOWLEDGED)]
PATHS["decided"] = PATHS["acknowledged"] + [decided("internal_action_plan")]
PATHS["decided_nfa"] = PATHS["acknowledged"] + [
    decided("no_further_action", "risk_already_managed")
]
PATHS["action_open"] = PATHS["decided"] + [("ConcernActionAdded", ACTION_ADDED)]
PATHS["closed"] = PATHS["action_open"] + [
    ("ConcernActionCompleted", ACTION_COMPLETED),
    (
        "ConcernClosed",
        {
            "outcome": "risk_reduced",
            "desired_outcomes_met": "partially",
            "outcome_text_id": None,
            "closed_by": "lead",
            "closed_at": iso("2026-03-02 17:00"),
        },
    ),
]


def stored(events: list[tuple[str, dict]]) -> tuple[InMemoryEventStore, str]:
    """Append events through a real store, so their payloads are checked by their schemas."""
    store = InMemoryEventStore(registry)
    stream = str(uuid.uuid4())
    if events:
        new = [NewEvent(t, p) for t, p in events]
        store.append("concern", stream, 0, new, Context("leeds-mind", SYSTEM))
    return store, stream


def load(store: InMemoryEventStore, stream: str) -> Concern:
    return Concern.fold(stream, store.read_stream("concern", stream))


def given(state: str, change: dict | None = None) -> Concern:
    events = PATHS[state]
    if change:
        events = [(t, {**p, **change}) if t == "ConcernRaised" else (t, p) for t, p in events]
    return load(*stored(events))


def details(**change) -> domain.ConcernDetails:
    fields = {
        "age_group": "adult",
        "categories": ("financial_material",),
        "severity": "standard",
        "immediate_risk": False,
        "what_happened_text_id": uuid.uuid4(),
        "actions_taken": ("none",),
        "consent_given": True,
        "person_id": uuid.UUID(PERSON),
    }
    return domain.ConcernDetails(**{**fields, **change})


COMMANDS = {
    "suggest": (
        lambda c: c.suggest(uuid.UUID(PERSON), "risk_level_raised", NOW),
        "ConcernSuggested",
    ),
    "raise": (lambda c: c.raise_concern(details(), "w1", NOW), "ConcernRaised"),
    "confirm": (
        lambda c: c.confirm_suggestion(details(person_id=None), "w1", NOW),
        "ConcernRaised",
    ),
    "dismiss": (
        lambda c: c.dismiss_suggestion("already_known_and_managed", "w1", NOW),
        "ConcernSuggestionDismissed",
    ),
    "identify": (
        lambda c: c.identify_person(uuid.uuid4(), "w1", NOW),
        "ConcernPersonIdentified",
    ),
    "acknowledge": (lambda c: c.acknowledge("lead", NOW), "ConcernAcknowledged"),
    "decide_police": (lambda c: c.record_decision("police", "lead", NOW), "ConcernDecided"),
    "decide_nfa": (
        lambda c: c.record_decision(
            "no_further_action", "lead", NOW, reason="not_a_safeguarding_concern"
        ),
        "ConcernDecided",
    ),
    "revise_to_police": (
        lambda c: c.record_decision("police", "lead", NOW, revision_reason_text_id=uuid.uuid4()),
        "ConcernDecisionRevised",
    ),
    "add_action": (
        lambda c: c.add_action(uuid.uuid4(), "welfare_check", "w2", date(2026, 3, 10), "lead", NOW),
        "ConcernActionAdded",
    ),
    "complete_action": (
        lambda c: c.complete_action(uuid.UUID(ACTION), "w1", NOW),
        "ConcernActionCompleted",
    ),
    "add_note": (lambda c: c.add_note(uuid.uuid4(), "w1", NOW), "ConcernNoteAdded"),
    "close": (lambda c: c.close("risk_removed", "lead", NOW), "ConcernClosed"),
}

OPEN = {"raised", "raised_unknown_person", "acknowledged", "decided", "decided_nfa", "action_open"}
ALLOWED = {
    "suggest": {"new"},
    "raise": {"new"},
    "confirm": {"suggested"},
    "dismiss": {"suggested"},
    "identify": {"raised_unknown_person"},
    "acknowledge": {"raised", "raised_unknown_person"},
    "decide_police": {"acknowledged"},
    "decide_nfa": {"acknowledged"},
    "revise_to_police": {"decided", "decided_nfa", "action_open"},
    "add_action": {"decided", "action_open"},
    "complete_action": {"action_open"},
    "add_note": OPEN | {"closed"},
    "close": {"decided", "decided_nfa"},
}

CASES = [(command, state) for command in COMMANDS for state in PATHS]


@pytest.mark.parametrize(("command", "state"), CASES, ids=[f"{c}-from-{s}" for c, s in CASES])
def test_every_command_from_every_state(command, state):
    concern = given(state)
    act, expected_type = COMMANDS[command]
    if state in ALLOWED[command]:
        events = act(concern)
        assert [e.event_type for e in events] == [expected_type]
        for event in events:  # every decided event is valid for its registered schema
            registry.validate(event)
            assert event.occurred_at == NOW
    else:
        version = concern.version
        with pytest.raises(RuleBroken) as refusal:
            act(concern)
        assert refusal.value.message and refusal.value.rule
        assert concern.version == version


def test_every_event_type_is_folded_by_the_concern():
    for name in registry.names():
        snake = "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name).lstrip("_")
        assert hasattr(Concern, f"apply_{snake}"), name


# -- raising -----------------------------------------------------------------------------------

CATEGORY_CASES = [("adult", c, True) for c in ADULT_CATEGORIES]
CATEGORY_CASES += [("adult", c, False) for c in CHILD_CATEGORIES]
CATEGORY_CASES += [("child", c, True) for c in CHILD_CATEGORIES]
CATEGORY_CASES += [("child", c, False) for c in ADULT_CATEGORIES]


@pytest.mark.parametrize(
    ("age_group", "category", "is_allowed"),
    CATEGORY_CASES,
    ids=[f"{g}-{c}" for g, c, _ in CATEGORY_CASES],
)
def test_categories_must_suit_the_age_group(age_group, category, is_allowed):
    raise_it = Concern(str(uuid.uuid4())).raise_concern
    reason = {"consent_given": False, "without_consent_reason": "child"}
    change = {"age_group": age_group, "categories": (category,)}
    if age_group == "child":
        change.update(reason)
    if is_allowed:
        [event] = raise_it(details(**change), "w1", NOW)
        registry.validate(event)
    else:
        with pytest.raises(domain.CategoriesMustSuitTheAgeGroup, match=category.split("_")[0]):
            raise_it(details(**change), "w1", NOW)


def test_several_categories_are_recorded_and_each_once():
    concern = Concern("c1")
    with pytest.raises(domain.ConcernNeedsACategory):
        concern.raise_concern(details(categories=()), "w1", NOW)
    with pytest.raises(domain.ConcernNeedsACategory):
        concern.raise_concern(details(categories=("domestic", "domestic")), "w1", NOW)
    concern.raise_concern(details(categories=("domestic", "physical", "exploitation")), "w1", NOW)
    assert concern.categories == ["domestic", "physical", "exploitation"]


def test_a_child_category_on_an_adult_concern_asks_whether_it_is_about_a_child():
    with pytest.raises(domain.CategoriesMustSuitTheAgeGroup, match="concern about a child"):
        Concern("c1").raise_concern(details(categories=("neglect",)), "w1", NOW)


@pytest.mark.parametrize("severity", ["high", "standard"])
def test_immediate_risk_means_immediate_severity(severity):
    with pytest.raises(domain.ImmediateRiskMeansImmediateSeverity):
        Concern("c1").raise_concern(details(immediate_risk=True, severity=severity), "w1", NOW)
    concern = Concern("c1")
    concern.raise_concern(details(immediate_risk=True, severity="immediate"), "w1", NOW)
    assert concern.severity == "immediate"


@pytest.mark.parametrize(
    "change",
    [
        {"person_id": None},
        {"description_text_id": uuid.uuid4()},
    ],
    ids=["neither-person-nor-description", "both-person-and-description"],
)
def test_a_concern_names_its_person_or_describes_them(change):
    with pytest.raises(domain.ConcernNeedsAPerson):
        Concern("c1").raise_concern(details(**change), "w1", NOW)


def test_a_person_described_at_raising_is_identified_once_later():
    concern = given("raised_unknown_person")
    person = uuid.uuid4()
    [event] = concern.identify_person(person, "w1", NOW)
    assert concern.person_id == str(person)
    registry.validate(event)
    with pytest.raises(domain.PersonIsIdentifiedOnce):
        concern.identify_person(uuid.uuid4(), "w1", NOW)


@pytest.mark.parametrize(
    ("change", "is_allowed"),
    [
        ({"consent_given": True}, True),
        ({"consent_given": False, "without_consent_reason": "risk_to_others"}, True),
        ({"consent_given": False, "without_consent_reason": "lacks_capacity"}, True),
        ({"consent_given": False}, False),
        ({"consent_given": True, "without_consent_reason": "crime"}, False),
        ({"consent_given": False, "without_consent_reason": "child"}, False),
    ],
    ids=[
        "consented",
        "risk-to-others",
        "lacks-capacity",
        "no-consent-no-reason",
        "consent-with-a-reason",
        "child-reason-for-an-adult",
    ],
)
def test_acting_without_consent_needs_a_reason(change, is_allowed):
    concern = Concern("c1")
    if is_allowed:
        [event] = concern.raise_concern(details(**change), "w1", NOW)
        registry.validate(event)
    else:
        with pytest.raises(domain.ActingWithoutConsentNeedsAReason):
            concern.raise_concern(details(**change), "w1", NOW)


@pytest.mark.parametrize("actions", [(), ("none", "made_safe")], ids=["nothing", "none-and-more"])
def test_actions_taken_at_once_are_none_or_a_list(actions):
    with pytest.raises(domain.NoActionTakenStandsAlone):
        Concern("c1").raise_concern(details(actions_taken=actions), "w1", NOW)


def test_a_raised_concern_is_raised_once():
    with pytest.raises(domain.ConcernMustBeNew, match="already been raised"):
        given("raised").raise_concern(details(), "w1", NOW)


def test_a_concern_refuses_a_time_without_a_timezone():
    with pytest.raises(ValueError, match="timezone"):
        Concern("c1").raise_concern(details(), "w1", datetime(2026, 3, 3, 10))


# -- suggestions ------------------------------------------------------------------------------


def test_the_same_suggestion_delivered_again_changes_nothing():
    concern = given("suggested")
    assert concern.suggest(uuid.UUID(PERSON), "repeated_did_not_attend", NOW) == []
    assert concern.status == "suggested"


def test_a_confirmed_suggestion_is_raised_for_the_suggested_person():
    concern = given("suggested")
    [event] = concern.confirm_suggestion(details(person_id=None), "w1", NOW)
    assert event.payload["person_id"] == PERSON
    assert event.payload["was_suggested"] is True
    assert event.payload["signal"] == "repeated_did_not_attend"
    assert concern.status == "raised" and concern.raised_at == NOW and concern.raised_by == "w1"


def test_a_suggestion_cannot_be_confirmed_for_someone_else():
    with pytest.raises(domain.ConfirmationKeepsTheSuggestedPerson):
        given("suggested").confirm_suggestion(details(person_id=uuid.uuid4()), "w1", NOW)


def test_a_suggestion_is_confirmed_before_a_lead_acknowledges_it():
    with pytest.raises(domain.AcknowledgementNeedsARaisedConcern, match="confirmed by a worker"):
        given("suggested").acknowledge("lead", NOW)


def test_a_dismissed_suggestion_keeps_its_reason_and_takes_no_notes():
    concern = given("dismissed")
    assert concern.dismiss_reason == "person_contacted_and_safe"
    with pytest.raises(domain.NotesFollowRaising):
        concern.add_note(uuid.uuid4(), "w1", NOW)


# -- a lead's part ----------------------------------------------------------------------------


def test_a_lead_may_regrade_severity_on_acknowledging_and_the_decision_follows_it():
    concern = given("raised")
    [event] = concern.acknowledge("lead", NOW, severity="high")
    assert event.payload == {
        "acknowledged_by": "lead",
        "acknowledged_at": NOW.isoformat(),
        "severity": "high",
        "previous_severity": "standard",
    }
    assert deadlines_for(concern, CONFIG)["decide_by"] == NOW + timedelta(hours=24)


def test_a_concern_with_immediate_risk_cannot_be_regraded_down():
    concern = given("raised", {"immediate_risk": True, "severity": "immediate"})
    with pytest.raises(domain.ImmediateRiskMeansImmediateSeverity):
        concern.acknowledge("lead", NOW, severity="standard")


def test_acknowledging_cannot_be_recorded_before_raising():
    with pytest.raises(domain.ConcernTimesMustRunForward, match="before it was raised"):
        given("raised").acknowledge("lead", at("2026-03-02 09:00"))


def test_deciding_needs_acknowledgement_first():
    with pytest.raises(domain.DecisionNeedsAcknowledgement, match="acknowledges the concern"):
        given("raised").record_decision("internal_action_plan", "lead", NOW)


def test_a_section_42_referral_is_for_an_adult_and_childrens_services_for_a_child():
    adult = given("acknowledged")
    with pytest.raises(domain.ChildrensServicesReferralsAreForChildren):
        adult.record_decision("childrens_services_referral", "lead", NOW)
    [event] = adult.record_decision(
        "section_42_referral", "lead", NOW, agency_reference_text_id=uuid.UUID(int=7)
    )
    registry.validate(event)
    child = given(
        "acknowledged",
        {
            "age_group": "child",
            "categories": ["neglect"],
            "consent_given": False,
            "without_consent_reason": "child",
        },
    )
    with pytest.raises(domain.Section42ReferralsAreForAdults):
        child.record_decision("section_42_referral", "lead", NOW)
    [event] = child.record_decision("childrens_services_referral", "lead", NOW)
    registry.validate(event)


def test_no_further_action_needs_a_reason_and_only_it_takes_one():
    concern = given("acknowledged")
    with pytest.raises(domain.NoFurtherActionNeedsAReason, match="say why"):
        concern.record_decision("no_further_action", "lead", NOW)
    with pytest.raises(domain.NoFurtherActionNeedsAReason, match="rationale"):
        concern.record_decision("police", "lead", NOW, reason="duplicate_concern")


def test_a_decision_may_change_route_with_a_reason_and_keeps_the_first_decision_time():
    concern = given("decided")
    first_decided_at = concern.decided_at
    reason_text = uuid.uuid4()
    with pytest.raises(domain.NewDecisionMustChangeTheRoute):
        concern.record_decision(
            "internal_action_plan", "lead", NOW, revision_reason_text_id=reason_text
        )
    [event] = concern.record_decision(
        "section_42_referral", "lead2", NOW, revision_reason_text_id=reason_text
    )
    registry.validate(event)
    assert event.event_type == "ConcernDecisionRevised"
    assert event.payload["previous_decision"] == "internal_action_plan"
    assert event.payload["decision"] == "section_42_referral"
    assert event.payload["revised_by"] == "lead2"
    assert event.payload["revision_reason_text_id"] == str(reason_text)
    assert concern.decision == "section_42_referral"
    assert concern.decided_at == first_decided_at
    assert concern.as_dict()["decision_revisions"] == 1


def test_re_deciding_a_decided_concern_without_a_reason_is_refused():
    concern = given("decided")
    with pytest.raises(domain.RevisingADecisionNeedsAReason, match="say why"):
        concern.record_decision("section_42_referral", "lead", NOW)
    assert concern.decision == "internal_action_plan"


def test_a_first_decision_takes_no_revision_reason():
    with pytest.raises(domain.RevisingADecisionNeedsAReason, match="first one"):
        given("acknowledged").record_decision(
            "police", "lead", NOW, revision_reason_text_id=uuid.uuid4()
        )


def test_a_revised_decision_folds_again_from_its_events():
    concern = given("decided")
    events = concern.record_decision(
        "no_further_action",
        "lead",
        NOW,
        reason="risk_already_managed",
        revision_reason_text_id=uuid.uuid4(),
    )
    assert events[0].payload["previous_decision"] == "internal_action_plan"
    assert concern.decision == "no_further_action"
    assert concern.decision_reason == "risk_already_managed"
    assert concern.status == "decided"


def test_no_further_action_is_refused_while_an_action_is_open():
    with pytest.raises(domain.NoFurtherActionLeavesNoActionOpen):
        given("action_open").record_decision(
            "no_further_action",
            "lead",
            NOW,
            reason="risk_already_managed",
            revision_reason_text_id=uuid.uuid4(),
        )


def test_no_further_action_takes_no_actions():
    with pytest.raises(domain.ActionsFollowADecisionToAct, match="no further action"):
        given("decided_nfa").add_action(
            uuid.uuid4(), "welfare_check", "w1", date(2026, 3, 10), "lead", NOW
        )


def test_actions_have_their_own_ids_and_are_not_due_in_the_past():
    concern = given("action_open")
    with pytest.raises(domain.ActionIdsAreUnique):
        concern.add_action(uuid.UUID(ACTION), "signpost", "w1", date(2026, 3, 10), "lead", NOW)
    with pytest.raises(domain.ActionCannotBeDueInThePast):
        concern.add_action(uuid.uuid4(), "signpost", "w1", date(2026, 3, 2), "lead", NOW)


def test_an_action_is_completed_once():
    concern = given("action_open")
    with pytest.raises(domain.OnlyOpenActionsCanBeCompleted, match="no action with that id"):
        concern.complete_action(uuid.uuid4(), "w1", NOW)
    concern.complete_action(uuid.UUID(ACTION), "w1", NOW, outcome="not_needed")
    assert concern.open_actions == [] and concern.actions[ACTION].outcome == "not_needed"
    with pytest.raises(domain.OnlyOpenActionsCanBeCompleted, match="already been completed"):
        concern.complete_action(uuid.UUID(ACTION), "w1", NOW)


def test_closing_needs_every_action_completed():
    concern = given("action_open")
    with pytest.raises(domain.ClosingNeedsEveryActionCompleted, match="1 action"):
        concern.close("risk_removed", "lead", NOW)
    concern.complete_action(uuid.UUID(ACTION), "w1", NOW)
    [event] = concern.close("risk_removed", "lead", NOW, desired_outcomes_met="fully")
    registry.validate(event)
    assert concern.status == "closed" and not concern.is_open


def test_a_note_on_a_closed_concern_changes_nothing_recorded_before():
    concern = given("closed")
    before = concern.as_dict()
    [event] = concern.add_note(uuid.uuid4(), "lead", NOW)
    registry.validate(event)
    after = concern.as_dict()
    assert after.pop("note_count") == before.pop("note_count") + 1
    assert after == before


def test_a_concern_reads_out_through_its_response_schema():
    concern = given("closed")
    out = ConcernOut().dump({**concern.as_dict(), **deadlines_for(concern, CONFIG)})
    assert out["status"] == "closed" and out["actions"][0]["outcome"] == "done"
    assert out["acknowledge_by"] == at("2026-03-02 17:00").isoformat()


# -- deadlines and escalation -----------------------------------------------------------------


def evaluate(store, stream, now) -> list:
    """What a timer does: load the concern, find what is due, record it."""
    concern = load(store, stream)
    events = concern.record_escalations(due_escalations(concern, now, CONFIG))
    if events:
        store.append("concern", stream, concern.version, events, Context("leeds-mind", SYSTEM))
    return events


def test_escalations_are_recorded_once_however_often_and_after_a_restart():
    store, stream = stored([("ConcernRaised", {**RAISED, "raised_at": iso("2026-03-02 15:30")})])
    # standard: acknowledge by 17:00; deputy two working hours after, head a working day after
    assert evaluate(store, stream, at("2026-03-02 17:00")) == []
    first = evaluate(store, stream, at("2026-03-02 17:01"))
    assert [(e.event_type, e.payload["rung"]) for e in first] == [("DeadlineMissed", "duty_lead")]
    assert first[0].occurred_at == at("2026-03-02 17:00")
    assert evaluate(store, stream, at("2026-03-02 17:01")) == []
    assert evaluate(store, stream, at("2026-03-03 10:59")) == []
    second = evaluate(store, stream, at("2026-03-04 09:00"))
    assert [(e.event_type, e.payload["rung"]) for e in second] == [
        ("ConcernEscalated", "deputy_lead"),
        ("ConcernEscalated", "head_of_service"),
    ]
    assert [e.payload["escalated_at"] for e in second] == [
        iso("2026-03-03 11:00"),
        iso("2026-03-03 17:00"),
    ]
    for later in ("2026-03-04 09:00", "2026-03-20 09:00"):
        assert evaluate(store, stream, at(later)) == []
    concern = load(store, stream)
    assert concern.escalation_steps == {ACKNOWLEDGE: 2}
    assert [(e.deadline, e.step) for e in concern.escalations] == [
        (ACKNOWLEDGE, 0),
        (ACKNOWLEDGE, 1),
        (ACKNOWLEDGE, 2),
    ]


def test_two_timers_recording_the_same_escalation_store_it_once():
    store, stream = stored([("ConcernRaised", RAISED)])
    first_timer, second_timer = load(store, stream), load(store, stream)
    now = at("2026-03-03 09:00")
    first = first_timer.record_escalations(due_escalations(first_timer, now, CONFIG))
    second = second_timer.record_escalations(due_escalations(second_timer, now, CONFIG))
    assert len(first) == 1 and [e.event_id for e in first] == [e.event_id for e in second]
    context = Context("leeds-mind", SYSTEM)
    store.append("concern", stream, 1, first, context)
    store.append("concern", stream, 1, second, context)  # the same event ids: stored once
    assert len(store.read_stream("concern", stream)) == 2
    assert first_timer.record_escalations(due_escalations(first_timer, now, CONFIG)) == []


def test_a_met_acknowledgement_stops_its_ladder_and_starts_the_decisions_clock():
    store, stream = stored([("ConcernRaised", RAISED)])
    assert len(evaluate(store, stream, at("2026-03-02 17:30"))) == 1
    concern = load(store, stream)
    events = concern.acknowledge("lead", at("2026-03-03 09:15"))
    store.append("concern", stream, concern.version, events, Context("leeds-mind", SYSTEM))
    concern = load(store, stream)
    assert concern.pending_notifications() == []  # the missed deadline is met now
    assert evaluate(store, stream, at("2026-03-04 09:00")) == []
    due_at = decide_by(at("2026-03-03 09:15"), "standard", CONFIG)
    assert due_at == at("2026-03-05 09:15")
    assert evaluate(store, stream, due_at) == []
    [missed] = evaluate(store, stream, due_at + timedelta(minutes=1))
    assert missed.payload["deadline"] == DECIDE and missed.payload["rung"] == "duty_lead"
    with pytest.raises(domain.EscalationNeedsAnOpenDeadline):
        load(store, stream).record_escalations(
            due_escalations(given("raised"), at("2026-03-04 09:00"), CONFIG)
        )


def test_escalations_follow_the_ladder_in_order():
    concern = given("raised")
    due = due_escalations(concern, at("2026-03-04 09:00"), CONFIG)
    with pytest.raises(domain.EscalationsFollowTheLadder):
        concern.record_escalations(due[1:])


def test_each_rung_is_told_once_and_the_telling_is_recorded():
    concern = given("raised")
    concern.record_escalations(due_escalations(concern, at("2026-03-03 12:00"), CONFIG))
    pending = concern.pending_notifications()
    assert [(e.deadline, e.step, e.rung) for e in pending] == [
        (ACKNOWLEDGE, 0, "duty_lead"),
        (ACKNOWLEDGE, 1, "deputy_lead"),
    ]
    [event] = concern.record_notification(ACKNOWLEDGE, 0, "email", NOW)
    registry.validate(event)
    assert concern.record_notification(ACKNOWLEDGE, 0, "email", NOW) == []
    assert [e.step for e in concern.pending_notifications()] == [1]
    with pytest.raises(domain.NoEscalationToNotify):
        concern.record_notification(ACKNOWLEDGE, 2, "email", NOW)


def test_escalation_events_fold_back_to_the_same_state_from_the_store():
    store, stream = stored([("ConcernRaised", RAISED)])
    evaluate(store, stream, at("2026-03-04 09:00"))
    concern = load(store, stream)
    events = concern.record_notification(ACKNOWLEDGE, 1, "sms", NOW)
    store.append("concern", stream, concern.version, events, Context("leeds-mind", SYSTEM))
    concern = load(store, stream)
    assert concern.notified == {(ACKNOWLEDGE, 1)}
    assert due_escalations(concern, at("2026-03-04 09:00"), CONFIG) == []


# -- request bodies -----------------------------------------------------------------------------

RAISE_BODY = {
    "person_id": PERSON,
    "age_group": "adult",
    "categories": ["self_neglect"],
    "severity": "high",
    "immediate_risk": False,
    "what_happened": "Found the flat cold and without food on a home visit.",
    "actions_taken": ["gp_informed"],
    "informed": ["gp"],
    "consent_given": False,
    "without_consent_reason": "vital_interests",
}

BAD_BODIES = [
    (RaiseConcernBody, {**RAISE_BODY, "nhs_number": "943 476 5919"}, "nhs_number"),
    (RaiseConcernBody, {**RAISE_BODY, "person_id": None}, "person_id"),
    (
        RaiseConcernBody,
        {**RAISE_BODY, "person_description": "older man, ground floor flat"},
        "person_description",
    ),
    (RaiseConcernBody, {**RAISE_BODY, "categories": ["neglect"]}, "categories"),
    (RaiseConcernBody, {**RAISE_BODY, "categories": []}, "categories"),
    (RaiseConcernBody, {**RAISE_BODY, "immediate_risk": True}, "severity"),
    (RaiseConcernBody, {**RAISE_BODY, "actions_taken": ["none", "made_safe"]}, "actions_taken"),
    (
        RaiseConcernBody,
        {**RAISE_BODY, "without_consent_reason": None},
        "without_consent_reason",
    ),
    (RaiseConcernBody, {**RAISE_BODY, "consent_given": True}, "without_consent_reason"),
    (RaiseConcernBody, {**RAISE_BODY, "what_happened": ""}, "what_happened"),
    (ConfirmSuggestionBody, RAISE_BODY, "person_id"),
    (DismissSuggestionBody, {"reason": "bored"}, "reason"),
    (IdentifyPersonBody, {"person_id": "not-a-uuid"}, "person_id"),
    (AcknowledgeConcernBody, {"severity": "urgent"}, "severity"),
    (DecideConcernBody, {"decision": "no_further_action"}, "reason"),
    (DecideConcernBody, {"decision": "police", "reason": "duplicate_concern"}, "reason"),
    (AddActionBody, {"kind": "welfare_check", "owner_id": "w1"}, "due_on"),
    (CompleteActionBody, {"outcome": "finished"}, "outcome"),
    (AddNoteBody, {"text": "called", "at": "2026-03-03T10:00:00Z"}, "at"),
    (CloseConcernBody, {}, "outcome"),
]


@pytest.mark.parametrize(
    ("body", "data", "field"),
    BAD_BODIES,
    ids=[f"{b.__name__}-{f}-{i}" for i, (b, _, f) in enumerate(BAD_BODIES)],
)
def test_a_bad_body_is_refused_naming_the_field(body, data, field):
    with pytest.raises(ValidationError) as refusal:
        body().load(data)
    assert field in refusal.value.normalized_messages()


@pytest.mark.parametrize(
    ("body", "data"),
    [
        (RaiseConcernBody, RAISE_BODY),
        (
            RaiseConcernBody,
            {**RAISE_BODY, "person_id": None, "person_description": "a woman at the drop-in"},
        ),
        (ConfirmSuggestionBody, {k: v for k, v in RAISE_BODY.items() if k != "person_id"}),
        (DismissSuggestionBody, {"reason": "person_contacted_and_safe", "notes": "spoke today"}),
        (IdentifyPersonBody, {"person_id": PERSON}),
        (AcknowledgeConcernBody, {}),
        (DecideConcernBody, {"decision": "no_further_action", "reason": "duplicate_concern"}),
        (DecideConcernBody, {"decision": "section_42_referral", "agency_reference": "LA-77"}),
        (AddActionBody, {"kind": "welfare_check", "owner_id": "w1", "due_on": "2026-03-10"}),
        (CompleteActionBody, {"expected_version": 4}),
        (AddNoteBody, {"text": "Spoke with her GP."}),
        (CloseConcernBody, {"outcome": "risk_reduced", "desired_outcomes_met": "partially"}),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_a_good_body_loads(body, data):
    assert isinstance(body().load(data), dict)
