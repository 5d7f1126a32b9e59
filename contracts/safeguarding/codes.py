"""The safeguarding code lists: states, categories of abuse (Care Act 2014 statutory guidance,
section 14), decisions, actions and outcomes, and severities. Its events carry these codes; the
web app and the alliance hub read them from here."""

from __future__ import annotations

SUGGESTED = "suggested"

DISMISSED = "dismissed"

RAISED = "raised"

ACKNOWLEDGED = "acknowledged"

DECIDED = "decided"

CLOSED = "closed"

OPEN_STATES = (RAISED, ACKNOWLEDGED, DECIDED)

STATES = (SUGGESTED, DISMISSED, *OPEN_STATES, CLOSED)

ADULT = "adult"

CHILD = "child"

AGE_GROUPS = (ADULT, CHILD)

# Care Act 2014 statutory guidance (chapter 14): the ten types of abuse and neglect. Not a
# closed list, so local additions follow.
CARE_ACT_CATEGORIES = (
    "physical",
    "domestic",
    "sexual",
    "psychological_emotional",
    "financial_material",
    "modern_slavery",
    "discriminatory",
    "organisational",
    "neglect_acts_of_omission",
    "self_neglect",
)

LOCAL_ADULT_CATEGORIES = (
    "exploitation",
    "hate_or_mate_crime",
    "radicalisation",
    "forced_marriage",
    "female_genital_mutilation",
)

ADULT_CATEGORIES = CARE_ACT_CATEGORIES + LOCAL_ADULT_CATEGORIES

# Children Act 1989 and Working Together to Safeguard Children: the four categories of abuse.
CHILD_CATEGORIES = ("physical_abuse", "emotional_abuse", "sexual_abuse", "neglect")

CATEGORIES = {ADULT: ADULT_CATEGORIES, CHILD: CHILD_CATEGORIES}

NO_ACTION_TAKEN = "none"

IMMEDIATE_ACTIONS = (
    "emergency_services_called",
    "police_informed",
    "gp_informed",
    "crisis_team_informed",
    "made_safe",
    "safety_plan_used",
    "first_aid_given",
    "person_supported_to_leave",
    NO_ACTION_TAKEN,
)

AGENCIES = (
    "police",
    "ambulance_service",
    "adult_social_care",
    "childrens_social_care",
    "gp",
    "community_mental_health_team",
    "crisis_team",
    "housing_provider",
    "care_quality_commission",
    "probation",
    "school",
    "other",
)

# Making Safeguarding Personal: why a concern goes ahead without the person's consent.
WITHOUT_CONSENT_REASONS = (
    "risk_to_others",
    "lacks_capacity",
    "vital_interests",
    "child",
    "crime",
    "coercion_or_control",
    "staff_or_volunteer_involved",
    "could_not_be_asked",
)

ALLEGED_RELATIONSHIPS = (
    "partner_or_former_partner",
    "family_member",
    "friend_or_acquaintance",
    "neighbour",
    "stranger",
    "paid_carer",
    "our_staff_or_volunteer",
    "other_professional",
    "other_service_user",
    "self",
    "not_known",
)

SIGNALS = (
    "repeated_did_not_attend",
    "crisis_plan_activated",
    "risk_level_raised",
    "disengaged_after_crisis",
    "other",
)

DISMISS_REASONS = (
    "person_contacted_and_safe",
    "already_known_and_managed",
    "not_a_safeguarding_matter",
    "signal_wrong",
    "duplicate",
    "other",
)

NO_FURTHER_ACTION = "no_further_action"

INTERNAL_ACTION_PLAN = "internal_action_plan"

SECTION_42_REFERRAL = "section_42_referral"

CHILDRENS_SERVICES_REFERRAL = "childrens_services_referral"

POLICE = "police"

DECISIONS = (
    NO_FURTHER_ACTION,
    INTERNAL_ACTION_PLAN,
    SECTION_42_REFERRAL,
    CHILDRENS_SERVICES_REFERRAL,
    POLICE,
)

NO_FURTHER_ACTION_REASONS = (
    "not_a_safeguarding_concern",
    "risk_already_managed",
    "person_declined_and_has_capacity",
    "referred_to_another_service",
    "duplicate_concern",
    "other",
)

ACTION_KINDS = (
    "follow_up_contact",
    "welfare_check",
    "safety_plan_review",
    "risk_assessment",
    "share_with_agency",
    "multi_agency_meeting",
    "support_to_report_crime",
    "signpost",
    "supervision_discussion",
    "other",
)

ACTION_OUTCOMES = ("done", "not_needed", "passed_to_other_agency")

# Outcomes as the Safeguarding Adults Collection counts them, so reports compare.
CLOSING_OUTCOMES = (
    "risk_removed",
    "risk_reduced",
    "risk_remains",
    "no_risk_found",
    "ceased_at_persons_request",
    "passed_to_other_agency",
    "no_further_action",
)

# Making Safeguarding Personal: were the outcomes the person wanted met?
DESIRED_OUTCOMES_MET = ("fully", "partially", "not_met", "not_asked", "not_expressed")

NOTIFICATION_CHANNELS = ("email", "sms", "phone", "in_app")

IMMEDIATE = "immediate"

HIGH = "high"

STANDARD = "standard"

SEVERITIES = (IMMEDIATE, HIGH, STANDARD)

# A concern's deadlines: a lead acknowledges it, then decides what happens; the partner's
# timescales say by when, for each severity.
ACKNOWLEDGE = "acknowledge"

DECIDE = "decide"

DEADLINES = (ACKNOWLEDGE, DECIDE)
