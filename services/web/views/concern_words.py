"""A safeguarding concern's codes in the words workers and leads use, and each step of its
timeline told as a sentence with its details; the codes themselves are those the safeguarding
service publishes (contracts/safeguarding/codes.py)."""

from __future__ import annotations

from contracts.safeguarding.codes import (
    ACTION_KINDS,
    ACTION_OUTCOMES,
    ADULT_CATEGORIES,
    AGENCIES,
    ALLEGED_RELATIONSHIPS,
    CHILD_CATEGORIES,
    CLOSING_OUTCOMES,
    DECISIONS,
    DESIRED_OUTCOMES_MET,
    IMMEDIATE_ACTIONS,
    NO_FURTHER_ACTION_REASONS,
    SEVERITIES,
    STATES,
    WITHOUT_CONSENT_REASONS,
)
from services.web import pages
from services.web.app import uk_date, uk_datetime, words

# where the plain rendering of a code (`self_neglect` -> "Self neglect") reads wrongly
WORDS = {
    # categories
    "psychological_emotional": "Psychological or emotional",
    "financial_material": "Financial or material",
    "neglect_acts_of_omission": "Neglect and acts of omission",
    "self_neglect": "Self-neglect",
    "hate_or_mate_crime": "Hate or mate crime",
    "physical_abuse": "Physical abuse",
    # immediate actions and agencies
    "gp_informed": "GP told",
    "police_informed": "Police told",
    "crisis_team_informed": "Crisis team told",
    "emergency_services_called": "Emergency services called (999)",
    "made_safe": "Person made safe",
    "safety_plan_used": "Safety plan used",
    "first_aid_given": "First aid given",
    "person_supported_to_leave": "Person supported to leave",
    "none": "No action taken at once",
    "gp": "GP",
    "childrens_social_care": "Children's social care",
    "community_mental_health_team": "Community mental health team",
    "care_quality_commission": "Care Quality Commission",
    # consent, relationships
    "lacks_capacity": "The person lacks capacity to decide",
    "vital_interests": "To protect the person's life (vital interests)",
    "child": "The person is a child",
    "crime": "A crime has been or may be committed",
    "risk_to_others": "Others are at risk",
    "coercion_or_control": "The person is under coercion or control",
    "staff_or_volunteer_involved": "A member of staff or volunteer is involved",
    "could_not_be_asked": "The person could not be asked",
    "our_staff_or_volunteer": "Our member of staff or volunteer",
    "self": "The person themselves",
    # decisions and outcomes
    "section_42_referral": "Section 42 referral to the local authority",
    "childrens_services_referral": "Referral to children's services",
    "police": "Police",
    "internal_action_plan": "Internal action plan",
    "no_further_action": "No further action",
    "person_declined_and_has_capacity": "The person declined and has capacity",
    "ceased_at_persons_request": "Stopped at the person's request",
    "passed_to_other_agency": "Passed to another agency",
    "not_met": "Not met",
    "not_asked": "Not asked",
    "not_expressed": "The person did not say",
    "fully": "Fully met",
    "partially": "Partly met",
    "share_with_agency": "Share with an agency",
    "multi_agency_meeting": "Multi-agency meeting",
    "support_to_report_crime": "Support to report a crime",
    "signpost": "Signpost",
    "done": "Done",
    "not_needed": "Not needed",
    # deadlines and the ladder
    "acknowledge": "Acknowledgement",
    "decide": "Decision",
    "duty_lead": "Duty safeguarding lead",
    "deputy_lead": "Deputy safeguarding lead",
    "head_of_service": "Head of service",
    "email": "E-mail",
    "immediate_risk": "Immediate risk",
    "escalation": "Escalation",
    # statuses
    "raised": "Raised",
    "acknowledged": "Acknowledged",
    "decided": "Decided",
    "closed": "Closed",
    "suggested": "Suggested",
    "dismissed": "Dismissed",
}

STEP_WORDS = {
    "ConcernSuggested": "Suggested by Peerlink",
    "ConcernSuggestionDismissed": "Suggestion dismissed",
    "ConcernRaised": "Raised",
    "ConcernPersonIdentified": "Person at risk recorded",
    "ConcernAcknowledged": "Acknowledged",
    "ConcernDecided": "Decided",
    "ConcernDecisionRevised": "Decision changed",
    "ConcernActionAdded": "Action added",
    "ConcernActionCompleted": "Action completed",
    "ConcernNoteAdded": "Note added",
    "ConcernClosed": "Closed",
    "DeadlineMissed": "Deadline missed",
    "ConcernEscalated": "Escalated",
    "EscalationNotified": "Told by e-mail",
}

# a step's coded details worth showing, in this order, with their labels
DETAIL_LABELS = (
    ("severity", "Severity"),
    ("previous_severity", "Severity before"),
    ("categories", "Categories"),
    ("decision", "Decision"),
    ("previous_decision", "Decision before"),
    ("reason", "Reason"),
    ("agency_reference", "Agency's reference"),
    ("kind", "Action"),
    ("owner_id", "Owner"),
    ("due_on", "Due"),
    ("outcome", "Outcome"),
    ("desired_outcomes_met", "Outcomes the person wanted"),
    ("deadline", "Deadline"),
    ("due_at", "It was due"),
    ("rung", "Told"),
    ("channel", "By"),
)

TEXT_LABELS = {
    "what_happened_text": "What happened",
    "description_text": "Who the person is",
    "actions_taken_text": "Actions taken at once",
    "views_text": "The person's views and the outcomes they want",
    "rationale_text": "Rationale",
    "agency_reference_text": "Agency's reference",
    "revision_reason_text": "Why the decision changed",
    "details_text": "Details",
    "note_text": "Note",
    "text": "Note",
    "outcome_text": "Closing notes",
    "reason_text": "Notes",
}

# the code lists the forms offer, as (code, words)
SEVERITY_HINTS = {
    "immediate": "Someone is in danger now. If they are, call 999 first.",
    "high": "Serious harm is likely soon.",
    "standard": "There is a risk of harm, but not in the next day.",
}


def in_words(code) -> str:
    """One code, or a list of them, in words."""
    if isinstance(code, list | tuple):
        return ", ".join(in_words(c) for c in code)
    if code in (None, ""):
        return ""
    return WORDS.get(str(code), words(code))


def options(codes) -> list[tuple[str, str]]:
    return [(code, in_words(code)) for code in codes]


CHOICES = {
    "severity": [(s, in_words(s), SEVERITY_HINTS[s]) for s in SEVERITIES],
    "adult_categories": options(ADULT_CATEGORIES),
    "child_categories": options(CHILD_CATEGORIES),
    "actions_taken": options(IMMEDIATE_ACTIONS),
    "informed": options(AGENCIES),
    "alleged_relationship": options(ALLEGED_RELATIONSHIPS),
    "without_consent_reason": options(WITHOUT_CONSENT_REASONS),
    "decision": options(DECISIONS),
    "no_further_action_reason": options(NO_FURTHER_ACTION_REASONS),
    "action_kind": options(ACTION_KINDS),
    "action_outcome": options(ACTION_OUTCOMES),
    "closing_outcome": options(CLOSING_OUTCOMES),
    "desired_outcomes_met": options(DESIRED_OUTCOMES_MET),
    "status": [("open", "Open (not yet closed)"), ("any", "Any")] + options(STATES),
    "severity_filter": options(SEVERITIES),
}


def step_in_words(step: dict) -> dict:
    """A timeline step as a heading, its coded details in words and its opened words."""
    details = step.get("details") or {}
    shown = []
    for name, label in DETAIL_LABELS:
        value = details.get(name)
        if value in (None, "", []):
            continue
        if name == "due_on":
            value = uk_date(value)
        elif name == "due_at":
            value = uk_datetime(value)
        elif name not in ("owner_id", "agency_reference"):
            value = in_words(value)
        shown.append((label, value))
    texts = [
        (TEXT_LABELS.get(name, words(name.removesuffix("_text"))), _opened(text))
        for name, text in (step.get("texts") or {}).items()
        if text is not None
    ]
    return {
        "heading": STEP_WORDS.get(step["event_type"], words(step["event_type"])),
        "occurred_at": step["occurred_at"],
        "by": step.get("by"),
        "role": step.get("role"),
        "details": shown,
        "texts": texts,
    }


def _opened(text: str) -> str:
    return "These words were erased with the person's record." if text == "erased" else text


def texts_in_words(texts: dict) -> list[tuple[str, str]]:
    """The words recorded when the concern was raised, labelled."""
    return [
        (TEXT_LABELS.get(name, words(name)), _opened(text))
        for name, text in texts.items()
        if text is not None
    ]


pages.TEMPLATES.filters["concern_words"] = in_words
