"""What of a partner's events crosses to the alliance hub, and in what shape.

The hub-side allow-list names, event type by event type, the coded fields the hub's reports
need and what each becomes on the way out of the node: a code as it is, a date (a timestamp
cut to its day, or its month), a timestamp cut to the hour (where a report measures hours), or
a person's pseudonym. A field not named here never leaves the node, so a field a partner adds
later reaches no report until it is named here.

Identifiers never cross. Every id in an envelope (the stream, the event, its correlation and
cause) and every person named in a payload is replaced by a keyed pseudonym: HMAC-SHA256 under a
secret of the partner's own that the hub never holds, so the hub can count a person's contacts
within one partner but cannot compute a node's ids, link two partners' people, or join a person
to anything the node did not send. Staff user names do not cross at all (no report counts by
worker). An erased person's pseudonym is replaced by one derived for the erasure, everywhere the
hub holds it.

Offers between partners carry real ids, to the partner offered alone, over the transfers
exchange (PARTNER_FIELDS); the hub never receives those messages.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

CODE = "code"
DATE = "date"  # a day (a timestamp is cut to its day, in UTC)
MONTH = "month"  # the first day of the month
HOUR = "hour"  # a timestamp cut to the hour, in UTC: for reports that measure hours
PERSON = "person"  # a person's pseudonym


@dataclass(frozen=True)
class Kept:
    """A field the hub keeps: its name at the hub, what it becomes, and the payload field it is
    made from (the same name unless given)."""

    name: str
    treatment: str = CODE
    source: str | None = None

    @property
    def read_from(self) -> str:
        return self.source or self.name


def _fields(*specs: str | Kept) -> dict[str, Kept]:
    kept = [spec if isinstance(spec, Kept) else Kept(spec) for spec in specs]
    return {field.name: field for field in kept}


def date_(name: str, source: str | None = None) -> Kept:
    return Kept(name, DATE, source)


def hour(name: str) -> Kept:
    return Kept(name, HOUR)


def month(name: str) -> Kept:
    return Kept(name, MONTH)


def person(name: str = "person_id") -> Kept:
    return Kept(name, PERSON)


# event type -> the fields the hub keeps. Only what a report reads: the hub's reports count
# referrals, waits, caseloads (by partner), sessions, attendance, contacts, wellbeing,
# signposting, safeguarding concerns and transfers.
HUB_FIELDS: dict[str, dict[str, Kept]] = {
    # an erasure: the hub replaces the person's pseudonym wherever it holds it (see
    # erasure_notice); no demographic crosses (no report needs one)
    "PersonErased": {},
    # referrals: counted by month and source; no person (a referral is counted, not a person)
    "ReferralReceived": _fields(
        "source",
        "source_group",
        date_("received_on"),
        "urgency",
        "needs",
        "risk_level",
        "is_carer_referral",
        "transferred_from",
    ),
    "ReferralAccepted": _fields(date_("accepted_on")),
    "ReferralDeclined": _fields(date_("declined_on"), "reason"),
    # who the referral is allocated to stays on the node: its team leads see caseloads by worker
    "ReferralAllocated": _fields(date_("allocated_on")),
    "ReferralReallocated": _fields(date_("allocated_on")),
    "FirstContactMade": _fields(date_("contacted_on")),
    "ReferralPutOnHold": _fields(date_("on"), "reason"),
    "ReferralResumed": _fields(date_("on")),
    "ReferralDischarged": _fields(date_("discharged_on"), "reason"),
    "ReferralClosedWithoutContact": _fields(date_("closed_on"), "reason"),
    # a date or code put right: which field and its new value (the reason stays on the node)
    "ReferralCorrected": _fields("field", "value"),
    # the month only, and not to whom: a transfer must not pair one partner's referral with the
    # other's (the receiving partner's referral says which partner it came from)
    "ReferralTransferred": _fields(month("transferred_on")),
    # a referral received from a partner's offer that the partner had withdrawn first: the
    # transfers report does not count it as received (docs/decisions/0011)
    "ReferralTransferWithdrawn": _fields(date_("withdrawn_on")),
    # sessions
    "SessionRecorded": _fields(
        "kind",
        "mode",
        "medium_code",
        "location",
        date_("held_on", "actual_start_at"),
        "duration_minutes",
    ),
    "SessionCancelled": _fields("cancelled_by", "attendance_code", "reason"),
    "SessionVoided": _fields("reason"),
    "AttendanceRecorded": _fields(person(), "status", "attendance_code"),
    "AttendanceCorrected": _fields(person(), "status", "attendance_code", "previous_status"),
    "AttendanceVoided": _fields(person(), "reason"),
    "AnonymousAttendeesCounted": _fields("count"),
    "AnonymousAttendeesCorrected": _fields("count", "previous_count"),
    "SignpostingRecorded": _fields(person(), "destination", date_("signposted_on")),
    "SignpostingOutcomeRecorded": _fields("outcome", date_("recorded_on")),
    "SignpostingOutcomeCorrected": _fields("outcome", date_("corrected_on")),
    "SignpostingVoided": _fields("reason", date_("voided_on")),
    "MeasureRecorded": _fields(
        person(), "measure", "timepoint", date_("taken_on"), "raw_score", "metric_score"
    ),
    # `number`: the voided MeasureRecorded's version in the person's stream
    "MeasureVoided": _fields("number", "reason"),
    # safeguarding: hours from raised to acknowledged and decided are reported, so those three
    # moments cross cut to the hour; every other moment as its day
    "ConcernRaised": _fields(
        "age_group",
        "categories",
        "severity",
        "immediate_risk",
        hour("raised_at"),
        "was_suggested",
        "signal",
    ),
    "ConcernAcknowledged": _fields(hour("acknowledged_at"), "severity", "previous_severity"),
    "ConcernDecided": _fields("decision", hour("decided_at"), "previous_decision"),
    "ConcernDecisionRevised": _fields("decision", "previous_decision", date_("revised_at")),
    "ConcernClosed": _fields("outcome", "desired_outcomes_met", date_("closed_at")),
    "DeadlineMissed": _fields("deadline", "severity", date_("due_at"), "rung"),
}

# the payload fields that name a person, by event type
PERSON_FIELDS: dict[str, tuple[str, ...]] = {
    event_type: tuple(name for name, kept in fields.items() if kept.treatment == PERSON)
    for event_type, fields in HUB_FIELDS.items()
}
# streams whose id is a person's id: their pseudonym is the person's
PERSON_STREAMS = ("person", "person_measures")

# What the partner an offer concerns receives (over the transfers exchange, never the hub's
# link): the offer's coded details and the ids both nodes need to answer it. The person's
# record travels sealed for that partner alone (services/referrals/transfers.py).
PARTNER_FIELDS: dict[str, tuple[str, ...]] = {
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
    "ReferralOfferWithdrawn": ("to_partner", "offer_id", "withdrawn_on", "reason"),
    "OfferAccepted": ("offer_id", "from_partner", "referral_id", "new_referral_id", "accepted_on"),
    "OfferDeclined": ("offer_id", "from_partner", "referral_id", "declined_on", "reason"),
    "TransferredPersonErased": ("to_partner", "offer_id", "erased_on"),
    "OfferAcceptanceRefused": ("to_partner", "offer_id", "refused_on", "reason"),
}
# the payload field naming the partner a message between partners is for
RECIPIENT_FIELD = {
    "ReferralOffered": "to_partner",
    "ReferralOfferWithdrawn": "to_partner",
    "TransferredPersonErased": "to_partner",
    "OfferAcceptanceRefused": "to_partner",
    "OfferAccepted": "from_partner",
    "OfferDeclined": "from_partner",
}

# what stands in for the user who acted: the hub learns the role, never who
WITHHELD_USER = "withheld"

PSEUDONYM = re.compile(r"p_[0-9a-f]{32}")


def kept_names(event_type: str) -> set[str]:
    """The names of the fields the hub keeps of an event type (empty for one it does not)."""
    return set(HUB_FIELDS.get(event_type, {}))


class Pseudonyms:
    """A partner's keyed pseudonyms: the same id always gives the same pseudonym under the same
    key, and nobody without the key can compute one, or tell which id one stands for."""

    def __init__(self, key: bytes):
        if len(key) < 32:
            raise ValueError("a pseudonym key needs at least 32 bytes")
        self._key = key

    def _digest(self, namespace: str, value: object) -> bytes:
        message = f"{namespace}\0{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def person(self, person_id: object) -> str:
        return "p_" + self._digest("person", person_id)[:16].hex()

    def erased_person(self, person_id: object) -> str:
        """What stands for a person once they are erased: derived for the erasure, so the
        pseudonym they had is gone from the hub and cannot be found from this one."""
        return "p_" + self._digest("erased-person", person_id)[:16].hex()

    def stream(self, stream_type: str, stream_id: object) -> str:
        return self._digest(f"stream/{stream_type}", stream_id)[:16].hex()

    def uuid(self, namespace: str, value: object) -> str:
        return str(uuid.UUID(bytes=self._digest(namespace, value)[:16], version=4))


def _as_moment(value) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _as_day(value) -> date:
    if isinstance(value, datetime):
        return _as_moment(value).date()
    if isinstance(value, date):
        return value
    text = str(value)
    return _as_moment(text).date() if len(text) > 10 else date.fromisoformat(text)


def _treated(kept: Kept, value, person_of):
    if value is None:
        return None
    if kept.treatment == DATE:
        return _as_day(value).isoformat()
    if kept.treatment == MONTH:
        return _as_day(value).replace(day=1).isoformat()
    if kept.treatment == HOUR:
        return _as_moment(value).replace(minute=0, second=0, microsecond=0).isoformat()
    if kept.treatment == PERSON:
        return person_of(str(value))
    return _plain(value)


def _plain(value):
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def person_ids(event_type: str, stream_type: str, stream_id: str, payload: dict) -> set[str]:
    """Every node person id an event names (its stream's, and its payload's person fields)."""
    named = {str(payload[name]) for name in PERSON_FIELDS.get(event_type, ()) if payload.get(name)}
    if stream_type in PERSON_STREAMS:
        named.add(str(stream_id))
    return named


def hub_envelope(envelope: dict, pseudonyms: Pseudonyms, erased: frozenset[str] = frozenset()):
    """The envelope as the hub may have it: every id replaced by its pseudonym, the user who
    acted withheld, and of the payload only the fields the hub-side allow-list names, each in
    its hub shape (none for an event type the hub does not keep). `erased`: the ids of the
    people of this partner erased by now."""

    def person_of(person_id: str) -> str:
        if person_id in erased:
            return pseudonyms.erased_person(person_id)
        return pseudonyms.person(person_id)

    event_type = envelope["event_type"]
    stream_type = envelope["stream_type"]
    payload = envelope.get("payload") or {}
    if event_type == "PersonErased":
        stream_id = pseudonyms.erased_person(str(envelope["stream_id"]))
    elif stream_type in PERSON_STREAMS:
        stream_id = person_of(str(envelope["stream_id"]))
    else:
        stream_id = pseudonyms.stream(stream_type, envelope["stream_id"])
    kept = {
        name: _treated(field, payload[field.read_from], person_of)
        for name, field in HUB_FIELDS.get(event_type, {}).items()
        if field.read_from in payload
    }
    if event_type == "PersonErased":
        kept = erasure_notice(envelope["partner_id"], str(envelope["stream_id"]), pseudonyms)
    causation = envelope.get("causation_id")
    return {
        **envelope,
        "event_id": pseudonyms.uuid("event", envelope["event_id"]),
        "stream_id": stream_id,
        "correlation_id": pseudonyms.uuid("correlation", envelope["correlation_id"]),
        "causation_id": None if causation is None else pseudonyms.uuid("event", causation),
        "actor": {"user_id": WITHHELD_USER, "role": envelope["actor"]["role"]},
        "payload": kept,
    }


def pseudonym_digest(partner_id: str, pseudonym: str) -> str:
    """A one-way digest of a partner's pseudonym: what an erasure names it by."""
    return hashlib.sha256(f"{partner_id}/{pseudonym}".encode()).hexdigest()


def erasure_notice(partner_id: str, person_id: str, pseudonyms: Pseudonyms) -> dict:
    """What the hub is told of an erasure: the digest of the pseudonym to remove (never the
    pseudonym itself) and, as the erasure's stream, the one that replaces it. The hub rewrites
    every fact holding a pseudonym of that digest, and keeps the digest so that a fact of that
    person still on its way is rewritten when it lands."""
    return {"replaces": pseudonym_digest(partner_id, pseudonyms.person(person_id))}


def partner_envelope(envelope: dict) -> tuple[str, dict] | None:
    """(the partner it is for, the envelope with only the fields that partner may read) for a
    message between partners; None for any other event."""
    names = PARTNER_FIELDS.get(envelope["event_type"])
    if names is None:
        return None
    payload = envelope.get("payload") or {}
    recipient = payload.get(RECIPIENT_FIELD[envelope["event_type"]])
    if not recipient:
        return None
    kept = {name: _plain(payload.get(name)) for name in names if name in payload}
    return str(recipient), {**envelope, "payload": kept}


def conform(event_type: str, payload: dict) -> dict | None:
    """What the hub keeps of a payload as it arrives: the named fields only, dates no finer
    than the allow-list says, and a person field only when it holds a pseudonym (a node that
    sent a raw id would have it dropped here). None for an event type the hub does not keep."""
    fields = HUB_FIELDS.get(event_type)
    if fields is None or event_type == "PersonErased":
        return None
    kept = {}
    for name, field in fields.items():
        if name not in payload:
            continue
        value = payload[name]
        if value is not None and field.treatment == PERSON:
            if not PSEUDONYM.fullmatch(str(value)):
                continue
        elif value is not None and field.treatment in (DATE, MONTH, HOUR):
            value = _treated(field, value, str)
        else:
            value = _plain(value)
        kept[name] = value
    return kept
