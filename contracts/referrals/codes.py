"""The referrals code lists: what a referral's and a person's coded fields may hold, and the states
a referral moves through. Its events carry these codes; the web app and the alliance hub read
them from here."""

from __future__ import annotations

RECEIVED = "received"

ACCEPTED = "accepted"

DECLINED = "declined"

ALLOCATED = "allocated"

ACTIVE = "active"

ON_HOLD = "on_hold"

DISCHARGED = "discharged"

CLOSED_WITHOUT_CONTACT = "closed_without_contact"

TRANSFERRED = "transferred"

# received from a partner's offer, whose acceptance the partner refused: it had withdrawn the
# offer before the acceptance reached it (docs/decisions/0011)
TRANSFER_WITHDRAWN = "transfer_withdrawn"

OPEN_STATES = (RECEIVED, ACCEPTED, ALLOCATED, ACTIVE, ON_HOLD)

ENDED_STATES = (DECLINED, DISCHARGED, CLOSED_WITHOUT_CONTACT, TRANSFERRED, TRANSFER_WITHDRAWN)

DECLINE_REASONS = (
    "needs_met_elsewhere",
    "outside_service_criteria",
    "outside_area",
    "person_declined",
    "unable_to_contact",
    "needs_clinical_service",
    "duplicate_referral",
    "other",
)

DISCHARGE_REASONS = (
    "goals_met",
    "disengaged",
    "moved_away",
    "transferred",
    "declined_further_support",
    "other",
)

CLOSURE_REASONS = ("unable_to_contact", "person_declined", "referral_withdrawn", "other")

HOLD_REASONS = ("hospital_admission", "person_request", "worker_absence", "other")

# Readable referral sources for workers, each mapped to the NHS Mental Health Services Data Set
# referral source group so reports compare with NHS returns (docs/domain.md).
REFERRAL_SOURCES = {
    "cmht": "local_authority_or_nhs_secondary",
    "gp": "primary_care",
    "clinical_step_down": "internal_nhs",
    "crisis_service": "acute_care",
    "partner_organisation": "independent_or_voluntary",
    "self": "self_referral",
    "carer": "self_referral",
    "other": "other",
}

URGENCIES = ("routine", "soon", "urgent")

NEED_THEMES = (
    "low_mood",
    "anxiety",
    "isolation",
    "self_harm",
    "suicidal_thoughts",
    "trauma",
    "psychosis",
    "eating_difficulties",
    "substance_use",
    "housing",
    "money_and_benefits",
    "employment",
    "relationships",
    "identity",
    "physical_health",
    "caring_role",
    "other",
)

RISK_LEVELS = ("none_known", "low", "medium", "high")

CONTACT_MODES = ("face_to_face", "home_visit", "phone", "video", "text", "email", "letter")

# What a person may consent to share with the partner their referral is offered to, sealed for
# that partner alone: who they are, how to reach them (and how they like to be reached), their
# needs and risk in the worker's words, and the referral's coded history. Coded needs, urgency
# and risk level travel with every offer: a partner decides on them before accepting.
SHAREABLE = ("identifiers", "contact", "needs", "risk", "history")

# The dates a worker can get wrong, each the date of one step of the referral's timeline, and
# the coded fields; each is put right by a ReferralCorrected event, never overwritten.
CORRECTABLE_DATES = (
    "received_on",
    "accepted_on",
    "declined_on",
    "allocated_on",
    "first_contact_on",
    "discharged_on",
    "closed_on",
)

CORRECTABLE_CODES = ("source", "urgency", "risk_level", "needs", "preferred_contact_mode")

# the coded reason an ended referral was closed with, by the status it ended in
OUTCOME_REASONS = {
    DECLINED: DECLINE_REASONS,
    DISCHARGED: DISCHARGE_REASONS,
    CLOSED_WITHOUT_CONTACT: CLOSURE_REASONS,
}

CORRECTABLE_FIELDS = CORRECTABLE_DATES + CORRECTABLE_CODES + ("outcome_reason",)

OFFER_DECLINE_REASONS = ("no_capacity", "outside_service_criteria", "person_declined", "other")

# why the offering partner withdraws an offer still open
OFFER_WITHDRAWAL_REASONS = (
    "consent_withdrawn",
    "needs_changed",
    "offered_in_error",
    "person_erased",
    "other",
)

GENDERS = ("woman", "man", "non_binary", "other", "prefer_not_to_say", "not_known")

# NHS ethnic category groups (the first letter groups of the national code list)
ETHNICITY = ("white", "mixed", "asian", "black", "other", "not_stated")

ERASURE_REASONS = ("person_request", "recorded_in_error", "retention_period_ended", "other")
# why a node erases someone of its own accord: registered only by accepting an offer that the
# partner had withdrawn before the acceptance reached it (docs/decisions/0011)
TRANSFER_WITHDRAWN_ERASURE = "transfer_withdrawn"

AGE_BANDS = (
    (0, 17, "under_18"),
    (18, 24, "18_24"),
    (25, 34, "25_34"),
    (35, 44, "35_44"),
    (45, 54, "45_54"),
    (55, 64, "55_64"),
    (65, 200, "65_plus"),
)

STATUS_AFTER = {
    "ReferralAccepted": "accepted",
    "ReferralDeclined": "declined",
    "ReferralAllocated": "allocated",
    "FirstContactMade": "active",
    "ReferralPutOnHold": "on_hold",
    "ReferralResumed": "active",
    "ReferralDischarged": "discharged",
    "ReferralClosedWithoutContact": "closed_without_contact",
    "ReferralTransferred": "transferred",
    "ReferralTransferWithdrawn": "transfer_withdrawn",
}
