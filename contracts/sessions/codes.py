"""The sessions code lists: session kinds, modes and locations (NHS Community Services Data Set
codes where one exists), attendance, plans, signposting. Its events carry these codes; the web
app and the alliance hub read them from here."""

from __future__ import annotations

ONE_TO_ONE = "one_to_one"

GROUP = "group"

DROP_IN = "drop_in"

CARER = "carer"

SESSION_KINDS = (ONE_TO_ONE, GROUP, DROP_IN, CARER)

# kinds that support one person under a referral (a carer's own referral for carer support)
REFERRAL_KINDS = (ONE_TO_ONE, CARER)

# kinds that may belong to a Group (a drop-in can be one run as a group)
GROUP_KINDS_OF_SESSION = (GROUP, DROP_IN)

# Readable modes, each mapped to the NHS Mental Health Services Data Set consultation medium
# used (docs/domain.md), so reports compare with NHS returns.
MODES = {
    "face_to_face_base": "01",
    "home_visit": "01",
    "community_venue": "01",
    "outdoors_walk_and_talk": "01",
    "phone": "02",
    "relay_talk_type": "04",
    "email": "05",
    "text_message": "09",
    "text_chat": "10",
    "video": "11",
    "message_board": "12",
    "chat_room": "13",
    "other": "98",
}

# The media NHS England's Community Mental Health Framework access measure counts as direct
# care contacts (face to face, telephone, talk type, video); with attendance codes 5 or 6 a
# session counts towards a person's "2+ contacts".
DIRECT_CONTACT_MEDIA = ("01", "02", "04", "11")

LOCATIONS = (
    "peer_support_base",
    "person_home",
    "community_venue",
    "gp_surgery_or_health_centre",
    "nhs_mental_health_premises",
    "hospital_ward",
    "outdoors",
    "remote",
    "other",
)

# Readable attendance, each mapped to the MHSDS "attended or did not attend" code (docs/domain.md).
ATTENDANCE = {
    "attended": "5",
    "late_seen": "6",
    "late_not_seen": "7",
    "did_not_attend": "3",
    "cancelled_by_person": "2",
    "cancelled_by_service": "4",
}

SEEN = ("attended", "late_seen")

NOT_SEEN = ("late_not_seen", "did_not_attend")

# a whole session cancelled, by whom, as the same MHSDS code
CANCELLED_BY = {"person": "2", "service": "4"}

CANCELLATION_REASONS = (
    "person_unwell",
    "person_request",
    "person_in_hospital",
    "worker_unavailable",
    "venue_unavailable",
    "too_few_booked",
    "weather_or_travel",
    # the person's referral ended (the discharge asked for what was still booked to be cancelled)
    "support_ended",
    "other",
)

CORRECTION_REASONS = ("recorded_in_error", "wrong_person", "new_information", "other")

# why a record is withdrawn: it should never have been made (coded, so the hub may know it)
VOID_REASONS = ("recorded_in_error", "duplicate", "wrong_person", "other")

NOTE_THEMES = (
    "mood_and_wellbeing",
    "anxiety",
    "isolation_and_connection",
    "sleep",
    "physical_health",
    "housing",
    "money_and_benefits",
    "work_and_learning",
    "relationships_and_family",
    "caring_role",
    "identity",
    "substance_use",
    "self_harm",
    "suicidal_thoughts",
    "staying_safe",
    "recovery_goals",
    "coping_strategies",
    "community_activities",
    "services_and_appointments",
    "other",
)

SESSION_ACTIONS = (
    "next_session_booked",
    "signposted",
    "plan_to_be_reviewed",
    "safety_plan_to_be_updated",
    "measure_due",
    "worker_to_contact_another_service",
    "person_to_contact_a_service",
    "person_to_try_an_activity",
    "worker_to_discuss_in_supervision",
    "safeguarding_concern_to_be_raised",
    "liaise_with_clinical_team",
    "other",
)

BOOKED = "booked"

HELD = "held"

CANCELLED = "cancelled"

VOIDED = "voided"

GROUP_KINDS = ("weekly_peer_group", "workshop_programme", "social_activity", "drop_in")

LEAVING_REASONS = (
    "completed_programme",
    "no_longer_wanted",
    "needs_met",
    "moved_away",
    "unable_to_attend",
    "removed_by_service",
    "other",
)

GROUP_CLOSING_REASONS = ("programme_ended", "too_few_members", "funding_ended", "other")

OPEN = "open"

CLOSED = "closed"

RECOVERY_WELLBEING = "recovery_wellbeing"

CRISIS_SAFETY = "crisis_safety"

CARER_CRISIS = "carer_crisis"

PLAN_KINDS = (RECOVERY_WELLBEING, CRISIS_SAFETY, CARER_CRISIS)

LIFE_AREAS = (
    "mental_wellbeing",
    "physical_health",
    "relationships",
    "connection_and_community",
    "work_volunteering_and_learning",
    "money",
    "housing",
    "identity_and_self_esteem",
    "managing_day_to_day",
    "hope_and_meaning",
    "caring_role",
    "other",
)

GOAL_STATUSES = ("working_on", "achieved", "set_aside")

STEP_STATUSES = ("not_started", "in_progress", "done")

WARNING_SIGNS = (
    "sleep_changes",
    "withdrawing_from_people",
    "not_eating_or_overeating",
    "racing_thoughts",
    "hearing_or_seeing_things",
    "self_harm_urges",
    "suicidal_thoughts",
    "more_alcohol_or_drugs",
    "irritability_or_anger",
    "neglecting_self_care",
    "feeling_overwhelmed",
    "other",
)

WHAT_HELPS = (
    "talking_to_someone",
    "being_with_people",
    "time_alone_somewhere_safe",
    "going_outside_or_walking",
    "music",
    "breathing_or_grounding",
    "distraction",
    "creative_activity",
    "routine_and_rest",
    "medication_as_prescribed",
    "other",
)

PERSON_CONTACTS = (
    "family_member",
    "partner",
    "friend",
    "carer",
    "neighbour",
    "peer_support_worker",
    "other_person",
)

SERVICE_CONTACTS = (
    "gp",
    "nhs_111_mental_health_option",
    "crisis_line",
    "crisis_house_or_safe_space",
    "community_mental_health_team",
    "samaritans",
    "emergency_999",
    "peer_support_service",
    "carers_service",
    "other_service",
)

PLAN_ACTIONS = (
    "contact_a_named_person",
    "contact_a_named_service",
    "remove_means_of_harm",
    "go_to_a_safe_place",
    "use_coping_strategies",
    "arrange_care_for_the_person_cared_for",
    "tell_the_peer_support_worker",
    "other",
)

REVISION_REASONS = (
    "at_review",
    "after_a_crisis",
    "person_asked",
    "goal_achieved",
    "new_goal",
    "circumstances_changed",
    "other",
)

REVIEW_OUTCOMES = ("no_changes_needed", "revised")

PLAN_CLOSING_REASONS = ("support_ended", "replaced_by_another_plan", "person_withdrew", "other")

SIGNPOSTING_DESTINATIONS = (
    "housing",
    "benefits_and_money",
    "employment_and_education",
    "physical_health",
    "community_groups",
    "clinical_mental_health",
    "crisis_services",
    "carer_services",
    "other",
)

TAKEN_UP = "taken_up"

NOT_TAKEN_UP = "not_taken_up"

UNKNOWN = "unknown"

SIGNPOSTING_OUTCOMES = (TAKEN_UP, NOT_TAKEN_UP, UNKNOWN)

# what a worker records: "unknown" is how a signposting stands until then, never recorded
RECORDABLE_OUTCOMES = (TAKEN_UP, NOT_TAKEN_UP)

# A full day's workshop or outing is about ten hours; a longer session is a typing error.
MAX_SESSION_MINUTES = 600

# Plans are reviewed every 90 days unless the plan says otherwise: the quarterly review common
# in local peer support and care-planning policies; set per plan, between a week and a year.
DEFAULT_REVIEW_INTERVAL_DAYS = 90

# the shortest and longest review interval a plan may have, in days: a week and a year
REVIEW_INTERVAL_DAYS_RANGE = (7, 366)
