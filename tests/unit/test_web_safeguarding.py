"""The safeguarding pages' words and the inbox's marking, without servers: every code the
safeguarding service lists reads as words, a timeline step is told with its details and its
words, and an overdue concern is marked red in the lead's inbox, in the service's order."""

from __future__ import annotations

import re

import pytest

from contracts.safeguarding.codes import DEADLINES, SEVERITIES
from services.safeguarding import domain
from services.web import pages
from services.web.views.concern_words import CHOICES, in_words, step_in_words

pytestmark = pytest.mark.unit

CODE_LISTS = {
    "categories": domain.ADULT_CATEGORIES + domain.CHILD_CATEGORIES,
    "actions taken": domain.IMMEDIATE_ACTIONS,
    "agencies": domain.AGENCIES,
    "reasons without consent": domain.WITHOUT_CONSENT_REASONS,
    "relationships": domain.ALLEGED_RELATIONSHIPS,
    "decisions": domain.DECISIONS,
    "no further action reasons": domain.NO_FURTHER_ACTION_REASONS,
    "action kinds": domain.ACTION_KINDS,
    "action outcomes": domain.ACTION_OUTCOMES,
    "closing outcomes": domain.CLOSING_OUTCOMES,
    "outcomes met": domain.DESIRED_OUTCOMES_MET,
    "states": domain.STATES,
    "severities": SEVERITIES,
    "deadlines": DEADLINES,
}


@pytest.mark.parametrize("name", CODE_LISTS)
def test_every_safeguarding_code_reads_as_words(name):
    for code in CODE_LISTS[name]:
        words = in_words(code)
        assert words and "_" not in words and words[0].isupper(), (code, words)


def test_the_forms_offer_every_code_the_service_takes():
    offered = {key: [option[0] for option in options] for key, options in CHOICES.items()}
    assert offered["adult_categories"] == list(domain.ADULT_CATEGORIES)
    assert offered["child_categories"] == list(domain.CHILD_CATEGORIES)
    assert offered["decision"] == list(domain.DECISIONS)
    assert offered["closing_outcome"] == list(domain.CLOSING_OUTCOMES)
    assert offered["severity"] == list(SEVERITIES)


def test_a_changed_decision_is_told_with_its_details_and_reason():
    step = step_in_words(
        {
            "event_type": "ConcernDecisionRevised",
            "occurred_at": "2026-11-02T10:30:00+00:00",
            "by": "dsl",
            "role": "safeguarding_lead",
            "details": {
                "decision": "police",
                "previous_decision": "internal_action_plan",
                "reason": None,
                "revised_by": "dsl",
            },
            "texts": {"revision_reason_text": "She has told us about a crime.", "x_text": None},
        }
    )
    assert step["heading"] == "Decision changed"
    assert step["details"] == [("Decision", "Police"), ("Decision before", "Internal action plan")]
    assert step["texts"] == [("Why the decision changed", "She has told us about a crime.")]


def test_words_erased_with_the_person_say_so():
    step = step_in_words(
        {
            "event_type": "ConcernNoteAdded",
            "occurred_at": "2026-11-02T10:30:00+00:00",
            "details": {},
            "texts": {"text": "erased"},
        }
    )
    assert step["texts"] == [("Note", "These words were erased with the person's record.")]


class StaffByName:
    """What the inbox asks of its page: a member of staff's name."""

    def __init__(self, names: dict[str, str]):
        self.names = names

    def name_of(self, user_id: str) -> str:
        return self.names.get(user_id, user_id)


def concern(concern_id: str, is_overdue: bool, severity: str) -> dict:
    return {
        "concern_id": concern_id,
        "status": "raised",
        "categories": ["self_neglect"],
        "severity": severity,
        "immediate_risk": False,
        "raised_by": "sam",
        "raised_at": "2026-11-02T09:00:00+00:00",
        "open_deadline": "acknowledge",
        "due_at": "2026-11-02T11:00:00+00:00",
        "escalated_to": "deputy_lead" if is_overdue else None,
        "open_actions": 0,
        "is_overdue": is_overdue,
    }


def test_the_inbox_marks_an_overdue_concern_red_and_keeps_the_services_order():
    html = pages.render(
        "safeguarding/inbox.html",
        title="Safeguarding inbox",
        errors={},
        partner_name="leeds-mind",
        concerns=[concern("c-late", True, "high"), concern("c-fine", False, "standard")],
        total=2,
        first=1,
        filters={"status": "open", "severity": None, "overdue": False},
        choices=CHOICES,
        previous=None,
        next=None,
        page=StaffByName({"sam": "Sam Peer"}),
    )
    rows = re.findall(r'<tr class="([^"]*)" data-concern="([^"]+)">(.*?)</tr>', html, re.S)
    assert [(concern_id, "peerlink-overdue" in cls) for cls, concern_id, _ in rows] == [
        ("c-late", True),
        ("c-fine", False),
    ]
    late, fine = rows[0][2], rows[1][2]
    assert 'nhsuk-tag--red">Overdue' in late and "Overdue" not in fine
    assert "Escalated to deputy safeguarding lead" in late
    assert 'nhsuk-tag--orange">High' in late and 'nhsuk-tag--blue">Standard' in fine
    assert "2 November 2026 at 11am" in late
    assert "by Sam Peer" in late and "by sam" not in late
