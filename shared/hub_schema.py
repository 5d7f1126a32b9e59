"""The hub-side schema: of each partner event, the coded, non-identifying fields the alliance
hub may know, by event type. The hub keeps nothing else (services/reporting/facts.py), and a
partner's event feed, read with a hub token, hands over nothing else.

Partner events carry no identifiers (names, dates of birth, NHS numbers and free text live in
each node's vault); this names, on purpose and one by one, what crosses to the hub, so a field
a partner adds later reaches no report until it is named here.
"""

from __future__ import annotations

from shared.events import RecordedEvent

# event type -> payload fields the hub keeps (coded values, dates, pseudonymous ids)
HUB_FIELDS: dict[str, tuple[str, ...]] = {
    # people: coded, non-identifying fields only
    "PersonRegistered": ("age_band", "gender", "ethnicity", "postcode_district"),
    "PersonDetailsChanged": ("age_band", "gender", "ethnicity", "postcode_district"),
    "PersonErased": (),
    # referrals
    "ReferralReceived": (
        "person_id",
        "source",
        "source_group",
        "received_on",
        "urgency",
        "needs",
        "risk_level",
        "is_carer_referral",
        "transferred_from",
    ),
    "ReferralAccepted": ("accepted_on",),
    "ReferralDeclined": ("declined_on", "reason"),
    "ReferralAllocated": ("worker_id", "allocated_on"),
    "ReferralReallocated": ("worker_id", "previous_worker_id", "allocated_on"),
    "FirstContactMade": ("contacted_on",),
    "ReferralPutOnHold": ("on", "reason"),
    "ReferralResumed": ("on",),
    # close_open_items: the node's sessions service (which reads these fields off the broker
    # too) cancels the referral's sessions still booked and closes its plans
    "ReferralDischarged": ("discharged_on", "reason", "close_open_items"),
    "ReferralClosedWithoutContact": ("closed_on", "reason"),
    # a date or code put right: which field, the old and new value (dates and codes only; the
    # worker's reason stays sealed on the node)
    "ReferralCorrected": ("field", "value", "previous_value", "corrected_on"),
    # an offer carries its coded details to the partner it is offered to, and to the hub
    "ReferralOffered": (
        "to_partner",
        "offer_id",
        "offered_on",
        "source",
        "urgency",
        "needs",
        "risk_level",
        "is_carer_referral",
    ),
    "OfferAccepted": (
        "offer_id",
        "from_partner",
        "referral_id",
        "new_referral_id",
        "accepted_on",
    ),
    "OfferDeclined": ("offer_id", "from_partner", "referral_id", "declined_on", "reason"),
    "ReferralOfferDeclined": ("to_partner", "declined_on"),
    "ReferralOfferWithdrawn": ("to_partner", "offer_id", "withdrawn_on", "reason"),
    "ReferralTransferred": ("to_partner", "transferred_on"),
    # the person of a referral transferred to a partner was erased: that partner is told
    "TransferredPersonErased": ("to_partner", "offer_id", "erased_on"),
    # sessions
    "SessionBooked": ("kind", "mode", "medium_code", "location", "group_id", "person_id"),
    "SessionRecorded": (
        "kind",
        "mode",
        "medium_code",
        "location",
        "group_id",
        "referral_id",
        "person_id",
        "actual_start_at",
        "duration_minutes",
    ),
    "SessionCancelled": ("cancelled_by", "attendance_code", "reason"),
    "AttendanceRecorded": ("person_id", "status", "attendance_code"),
    "AttendanceCorrected": ("person_id", "status", "attendance_code", "previous_status"),
    "AnonymousAttendeesCounted": ("count",),
    "AnonymousAttendeesCorrected": ("count", "previous_count"),
    # withdrawn as recorded in error: the coded reason only, so reports leave the record out
    "SessionVoided": ("reason",),
    "AttendanceVoided": ("person_id", "reason"),
    "GroupCreated": ("kind", "capacity", "sessions_planned", "created_on"),
    "PlanDrafted": ("person_id", "kind", "drafted_on", "review_interval_days"),
    "PlanReviewed": ("outcome", "reviewed_on"),
    "PlanClosed": ("reason", "closed_on"),
    "SignpostingRecorded": ("person_id", "destination", "signposted_on"),
    "SignpostingOutcomeRecorded": ("outcome", "recorded_on"),
    "SignpostingOutcomeCorrected": ("outcome", "previous_outcome", "corrected_on"),
    "SignpostingVoided": ("reason", "voided_on"),
    "MeasureRecorded": (
        "person_id",
        "measure",
        "timepoint",
        "taken_on",
        "raw_score",
        "metric_score",
        "referral_id",
    ),
    # `number`: the voided MeasureRecorded's version in the person's stream
    "MeasureVoided": ("number", "reason"),
    # safeguarding
    "ConcernSuggested": ("signal", "suggested_at"),
    "ConcernRaised": (
        "age_group",
        "categories",
        "severity",
        "immediate_risk",
        "raised_at",
        "was_suggested",
        "signal",
    ),
    "ConcernSuggestionDismissed": ("reason", "dismissed_at"),
    "ConcernAcknowledged": ("acknowledged_at", "severity", "previous_severity"),
    "ConcernDecided": ("decision", "reason", "decided_at", "previous_decision"),
    "ConcernDecisionRevised": ("decision", "previous_decision", "reason", "revised_at"),
    "ConcernActionAdded": ("kind", "due_on", "added_at"),
    "ConcernActionCompleted": ("outcome", "completed_at"),
    "ConcernClosed": ("outcome", "desired_outcomes_met", "closed_at"),
    "DeadlineMissed": ("deadline", "severity", "due_at", "rung"),
    "ConcernEscalated": ("deadline", "severity", "due_at", "rung", "step", "escalated_at"),
}


def kept_fields(event: RecordedEvent) -> dict | None:
    """The fields the hub keeps of an event; None for an event type the hub does not keep."""
    names = HUB_FIELDS.get(event.event_type)
    if names is None:
        return None
    payload = event.payload
    return {name: _plain(payload.get(name)) for name in names if name in payload}


def _plain(value):
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value) if not hasattr(value, "isoformat") else value.isoformat()


def hub_payload(event: RecordedEvent) -> dict:
    """What of an event's payload may leave its node: the named fields, or none."""
    return kept_fields(event) or {}
