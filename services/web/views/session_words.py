"""The sessions service's codes in the words workers use: kinds of session, how and where it
happened, attendance, notes' themes and actions, groups, plans, signposting and measures. A
code without words of its own here is shown by the `words` filter (`one_to_one` -> `One to
one`); the code lists themselves are the sessions domain's."""

from __future__ import annotations

from contracts.sessions import codes as session_codes
from contracts.sessions import measures
from services.web.app import words

SESSION_KINDS = {
    session_codes.ONE_TO_ONE: "One-to-one",
    session_codes.GROUP: "Group session",
    session_codes.DROP_IN: "Drop-in",
    session_codes.CARER: "Carer support",
}

MODES = {
    "face_to_face_base": "Face to face at our base",
    "home_visit": "Home visit",
    "community_venue": "Face to face at a community venue",
    "outdoors_walk_and_talk": "Walk and talk outdoors",
    "phone": "Phone call",
    "relay_talk_type": "Relay or talk type",
    "email": "Email",
    "text_message": "Text message",
    "text_chat": "Text chat",
    "video": "Video call",
    "message_board": "Message board",
    "chat_room": "Chat room",
    "other": "Another way",
}

LOCATIONS = {
    "peer_support_base": "Our peer support base",
    "person_home": "The person's home",
    "community_venue": "A community venue",
    "gp_surgery_or_health_centre": "A GP surgery or health centre",
    "nhs_mental_health_premises": "NHS mental health premises",
    "hospital_ward": "A hospital ward",
    "outdoors": "Outdoors",
    "remote": "Remotely (phone, video or online)",
    "other": "Somewhere else",
}

# NHS Mental Health Services Data Set attendance codes, in words
ATTENDANCE = {
    "attended": "Attended",
    "late_seen": "Arrived late and was seen",
    "late_not_seen": "Arrived late and was not seen",
    "did_not_attend": "Did not attend",
    "cancelled_by_person": "Cancelled by the person",
    "cancelled_by_service": "Cancelled by us",
}

SESSION_STATUSES = {
    session_codes.BOOKED: "Booked",
    session_codes.HELD: "Held",
    session_codes.CANCELLED: "Cancelled",
    session_codes.VOIDED: "Voided (recorded in error)",
}

CANCELLED_BY = {"person": "The person", "service": "Us (the service)"}

CORRECTION_REASONS = {
    "recorded_in_error": "It was recorded wrongly",
    "wrong_person": "It was recorded for the wrong person",
    "new_information": "We have learned something new",
    "other": "Another reason",
}

VOID_REASONS = {
    "recorded_in_error": "It was recorded in error",
    "duplicate": "It was recorded twice",
    "wrong_person": "It was recorded for the wrong person",
    "other": "Another reason",
}

GROUP_KINDS = {
    "weekly_peer_group": "Weekly peer support group",
    "workshop_programme": "Workshop programme",
    "social_activity": "Social activity",
    "drop_in": "Drop-in",
}

PLAN_KINDS = {
    session_codes.RECOVERY_WELLBEING: "Recovery and wellbeing plan",
    session_codes.CRISIS_SAFETY: "Crisis and safety plan",
    session_codes.CARER_CRISIS: "Carer's crisis plan",
}

SERVICE_CONTACTS = {
    "gp": "GP",
    "nhs_111_mental_health_option": "NHS 111, mental health option",
    "crisis_line": "Crisis line",
    "crisis_house_or_safe_space": "Crisis house or safe space",
    "community_mental_health_team": "Community mental health team",
    "samaritans": "Samaritans (116 123)",
    "emergency_999": "Emergency services (999)",
    "peer_support_service": "Peer support service",
    "carers_service": "Carers' service",
    "other_service": "Another service",
}

REVIEW_OUTCOMES = {
    "no_changes_needed": "Reviewed with the person: no changes needed",
    "revised": "Reviewed with the person: the plan has been revised",
}

SIGNPOSTING_OUTCOMES = {
    "taken_up": "Taken up",
    "not_taken_up": "Not taken up",
    "unknown": "Not known yet",
}

TIMEPOINTS = {
    measures.START: "At the start of support",
    measures.REVIEW: "At a review",
    measures.DISCHARGE: "At the end of support",
}

# how often an answer applies, the same five for every SWEMWBS and WEMWBS statement
ANSWERS = {
    1: "None of the time",
    2: "Rarely",
    3: "Some of the time",
    4: "Often",
    5: "All of the time",
}

# each statement as the person reads it, about the last two weeks
STATEMENTS = {
    "optimistic_about_the_future": "I've been feeling optimistic about the future",
    "feeling_useful": "I've been feeling useful",
    "feeling_relaxed": "I've been feeling relaxed",
    "interested_in_other_people": "I've been feeling interested in other people",
    "energy_to_spare": "I've had energy to spare",
    "dealing_with_problems_well": "I've been dealing with problems well",
    "thinking_clearly": "I've been thinking clearly",
    "feeling_good_about_myself": "I've been feeling good about myself",
    "feeling_close_to_other_people": "I've been feeling close to other people",
    "feeling_confident": "I've been feeling confident",
    "able_to_make_up_own_mind": "I've been able to make up my own mind about things",
    "feeling_loved": "I've been feeling loved",
    "interested_in_new_things": "I've been interested in new things",
    "feeling_cheerful": "I've been feeling cheerful",
}

# code list name -> its words, for the `code_words` filter
TABLES = {
    "session_kind": SESSION_KINDS,
    "mode": MODES,
    "location": LOCATIONS,
    "attendance": ATTENDANCE,
    "session_status": SESSION_STATUSES,
    "cancelled_by": CANCELLED_BY,
    "correction_reason": CORRECTION_REASONS,
    "void_reason": VOID_REASONS,
    "group_kind": GROUP_KINDS,
    "plan_kind": PLAN_KINDS,
    "service_contact": SERVICE_CONTACTS,
    "review_outcome": REVIEW_OUTCOMES,
    "signposting_outcome": SIGNPOSTING_OUTCOMES,
    "timepoint": TIMEPOINTS,
    "statement": STATEMENTS,
}


def in_words(code, table: str | dict | None = None) -> str:
    """A code in words: from its code list's table when it has words there, else spelled out."""
    found = TABLES.get(table, {}) if isinstance(table, str) else (table or {})
    return found.get(code) or words(code)


def options(codes, table: str | dict | None = None) -> list[tuple[str, str]]:
    """A code list as (code, words) choices for a select, radios or checkboxes."""
    return [(code, in_words(code, table)) for code in codes]
