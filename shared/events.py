"""The event envelope, the registry of event types and their payload schemas, and upcasting.

Every fact in Peerlink is an event in this envelope; a payload is only accepted when its type
is registered and it passes that type's marshmallow schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate


class EventError(Exception):
    """Base of every refusal raised by the event layer."""


class UnknownEventType(EventError):
    def __init__(self, event_type: str):
        super().__init__(f"event_type: '{event_type}' is not a registered event type")
        self.event_type = event_type


class InvalidPayload(EventError):
    def __init__(self, event_type: str, messages: dict):
        self.event_type = event_type
        self.messages = messages
        names = ", ".join(f"payload.{name}" for name in sorted(messages))
        super().__init__(f"{event_type}: invalid payload ({names}): {messages}")


class ActorSchema(Schema):
    class Meta:
        unknown = RAISE

    user_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.Length(min=1, max=50))


class EnvelopeSchema(Schema):
    """The one envelope (docs/architecture.md, "Events"), used on the wire and in the event feed."""

    class Meta:
        unknown = RAISE

    event_id = fields.UUID(required=True)
    stream_type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    stream_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    position = fields.Integer(required=True, validate=validate.Range(min=1))
    event_type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    schema_version = fields.Integer(required=True, validate=validate.Range(min=1))
    partner_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    occurred_at = fields.AwareDateTime(required=True)
    recorded_at = fields.AwareDateTime(required=True)
    actor = fields.Nested(ActorSchema, required=True)
    correlation_id = fields.UUID(required=True)
    causation_id = fields.UUID(required=True, allow_none=True)
    payload = fields.Dict(required=True)


class WireEnvelopeSchema(EnvelopeSchema):
    """What the relay publishes: the envelope plus where it came from and what came before it,
    so a consumer can tell a missing event from a position that was never used."""

    source = fields.String(required=True)
    previous_position = fields.Integer(required=True, validate=validate.Range(min=0))


@dataclass(frozen=True)
class Actor:
    user_id: str
    role: str

    def as_dict(self) -> dict:
        return {"user_id": self.user_id, "role": self.role}


SYSTEM = Actor(user_id="system", role="system")


@dataclass(frozen=True)
class Context:
    """Who is acting and why: stamped on every event of one command."""

    partner_id: str
    actor: Actor
    correlation_id: uuid.UUID = field(default_factory=uuid.uuid4)
    causation_id: uuid.UUID | None = None


@dataclass(frozen=True)
class NewEvent:
    """An event decided by the domain and not yet stored."""

    event_type: str
    payload: dict
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class RecordedEvent:
    event_id: uuid.UUID
    stream_type: str
    stream_id: str
    version: int
    position: int
    event_type: str
    schema_version: int
    partner_id: str
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None
    payload: dict

    def envelope(self) -> dict:
        """The envelope as JSON-ready primitives."""
        return _ENVELOPE.dump({**self.__dict__, "actor": self.actor.as_dict()})

    @classmethod
    def from_envelope(cls, data: dict) -> RecordedEvent:
        """An envelope from the wire or a feed. The plain path converts the fields directly
        (a rebuild reads millions); anything it does not find as expected goes through the
        schema, which names what is wrong."""
        try:
            return _plain_envelope(cls, data)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass
        loaded = _ENVELOPE_IN.load(data)
        loaded = {k: v for k, v in loaded.items() if k in cls.__dataclass_fields__}
        loaded["actor"] = Actor(**loaded["actor"])
        return cls(**loaded)


# the namespace of ids derived from other events' ids
DERIVED_IDS = uuid.UUID("0b5c5f0e-6d2b-4b8e-9d0a-7f4e2c1a9b33")


def derived_id(cause: uuid.UUID | str, purpose: str) -> uuid.UUID:
    """The id of an event caused by another: the same cause always gives the same id, so a
    redelivered cause appends nothing twice."""
    return uuid.uuid5(DERIVED_IDS, f"{cause}/{purpose}")


def with_id(events: list[NewEvent], event_id: uuid.UUID) -> list[NewEvent]:
    return [NewEvent(e.event_type, e.payload, e.occurred_at, event_id) for e in events]


Upcaster = Callable[[dict], dict]
# marshmallow schemas hold no state between dumps: one instance serves every envelope
_ENVELOPE = EnvelopeSchema()
_ENVELOPE_IN = EnvelopeSchema(unknown=INCLUDE)


def _aware(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("a time without its offset")
    return moment


def _plain_envelope(cls, data: dict) -> RecordedEvent:
    actor = data["actor"]
    version, position, schema_version = data["version"], data["position"], data["schema_version"]
    if not all(type(n) is int and n >= 1 for n in (version, position, schema_version)):
        raise ValueError("version, position and schema_version are whole numbers from 1")
    texts = (data["stream_type"], data["stream_id"], data["event_type"], data["partner_id"])
    if not all(isinstance(t, str) and t for t in texts) or not isinstance(data["payload"], dict):
        raise ValueError("a text field is empty or the payload is not an object")
    causation = data["causation_id"]
    return cls(
        event_id=uuid.UUID(data["event_id"]),
        stream_type=texts[0],
        stream_id=texts[1],
        version=version,
        position=position,
        event_type=texts[2],
        schema_version=schema_version,
        partner_id=texts[3],
        occurred_at=_aware(data["occurred_at"]),
        recorded_at=_aware(data["recorded_at"]),
        actor=Actor(str(actor["user_id"]), str(actor["role"])),
        correlation_id=uuid.UUID(data["correlation_id"]),
        causation_id=None if causation is None else uuid.UUID(causation),
        payload=data["payload"],
    )


@dataclass
class EventType:
    name: str
    schema: type[Schema]
    schema_version: int = 1
    # upcasters[n] turns a payload written at schema_version n into schema_version n + 1
    upcasters: dict[int, Upcaster] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # one instance, reused: building a marshmallow schema costs more than using it
        self.loader = self.schema(unknown=RAISE)


class EventRegistry:
    """Event types by name. A store refuses what is not registered here."""

    def __init__(self) -> None:
        self._types: dict[str, EventType] = {}

    def register(
        self,
        name: str,
        schema: type[Schema],
        schema_version: int = 1,
        upcasters: dict[int, Upcaster] | None = None,
    ) -> EventType:
        upcasters = upcasters or {}
        missing = [v for v in range(1, schema_version) if v not in upcasters]
        if missing:
            raise ValueError(f"{name}: no upcaster from schema_version {missing}")
        if name in self._types and self._types[name].schema is not schema:
            raise ValueError(f"{name}: registered twice with different schemas")
        event_type = EventType(name, schema, schema_version, dict(upcasters))
        self._types[name] = event_type
        return event_type

    def event(self, name: str, schema_version: int = 1, upcasters: dict | None = None):
        """Class decorator: `@registry.event("ReferralReceived")` on the payload schema."""

        def decorate(schema: type[Schema]) -> type[Schema]:
            self.register(name, schema, schema_version, upcasters)
            return schema

        return decorate

    def __contains__(self, name: str) -> bool:
        return name in self._types

    def names(self) -> list[str]:
        return sorted(self._types)

    def get(self, name: str) -> EventType:
        try:
            return self._types[name]
        except KeyError:
            raise UnknownEventType(name) from None

    def validate(self, event: NewEvent) -> tuple[dict, int]:
        """The payload as it will be stored, and its schema_version; refuses what is invalid."""
        event_type = self.get(event.event_type)
        schema = event_type.loader
        try:
            loaded = schema.load(event.payload)
        except ValidationError as error:
            raise InvalidPayload(event.event_type, error.normalized_messages()) from None
        return schema.dump(loaded), event_type.schema_version

    def upcast(self, event_type_name: str, schema_version: int, payload: dict) -> tuple[dict, int]:
        """Bring a stored payload to the current schema_version; stored rows are never rewritten."""
        if event_type_name not in self._types:
            return payload, schema_version
        event_type = self._types[event_type_name]
        while schema_version < event_type.schema_version:
            payload = event_type.upcasters[schema_version](dict(payload))
            schema_version += 1
        return payload, schema_version

    def merged(self, *others: EventRegistry) -> EventRegistry:
        registry = EventRegistry()
        for source in (self, *others):
            registry._types.update(source._types)
        return registry


def upcast_recorded(registry: EventRegistry, event: RecordedEvent) -> RecordedEvent:
    payload, version = registry.upcast(event.event_type, event.schema_version, event.payload)
    if version == event.schema_version:
        return event
    return RecordedEvent(**{**event.__dict__, "payload": payload, "schema_version": version})


def as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
