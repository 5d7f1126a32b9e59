import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields

from shared.events import (
    Actor,
    EnvelopeSchema,
    EventRegistry,
    InvalidPayload,
    NewEvent,
    RecordedEvent,
    UnknownEventType,
    upcast_recorded,
)

pytestmark = pytest.mark.unit


class V1(Schema):
    full = fields.String(required=True)


class V3(Schema):
    first = fields.String(required=True)
    last = fields.String(required=True)
    title = fields.String(required=True)


def split(payload):
    first, _, last = payload.pop("full").partition(" ")
    return {**payload, "first": first, "last": last}


def titled(payload):
    return {**payload, "title": ""}


def recorded(event_type="Named", schema_version=1, payload=None) -> RecordedEvent:
    return RecordedEvent(
        event_id=uuid.uuid4(),
        stream_type="thing",
        stream_id="s-1",
        version=1,
        position=1,
        event_type=event_type,
        schema_version=schema_version,
        partner_id="lslcs",
        occurred_at=datetime(2026, 1, 2, tzinfo=UTC),
        recorded_at=datetime(2026, 1, 3, tzinfo=UTC),
        actor=Actor("u", "peer_worker"),
        correlation_id=uuid.uuid4(),
        causation_id=None,
        payload=payload if payload is not None else {"full": "Ada Lovelace"},
    )


def test_a_registered_type_validates_and_names_its_schema_version():
    registry = EventRegistry()
    registry.register("Named", V3, 3, {1: split, 2: titled})
    payload, version = registry.validate(
        NewEvent("Named", {"first": "a", "last": "b", "title": "c"})
    )
    assert version == 3
    assert payload == {"first": "a", "last": "b", "title": "c"}


def test_an_invalid_payload_names_the_field():
    registry = EventRegistry()
    registry.register("Named", V1)
    with pytest.raises(InvalidPayload) as error:
        registry.validate(NewEvent("Named", {"full": 7, "extra": 1}))
    assert "payload.full" in str(error.value) and "payload.extra" in str(error.value)
    assert set(error.value.messages) == {"full", "extra"}


def test_an_unregistered_type_is_refused():
    with pytest.raises(UnknownEventType, match="'Missing' is not a registered event type"):
        EventRegistry().validate(NewEvent("Missing", {}))


def test_a_schema_version_without_its_upcasters_cannot_be_registered():
    with pytest.raises(ValueError, match="no upcaster from schema_version"):
        EventRegistry().register("Named", V3, 3, {1: split})


def test_old_payloads_are_upcast_through_every_version_on_read():
    registry = EventRegistry()
    registry.register("Named", V3, 3, {1: split, 2: titled})
    event = upcast_recorded(registry, recorded())
    assert event.schema_version == 3
    assert event.payload == {"first": "Ada", "last": "Lovelace", "title": ""}


def test_a_current_payload_is_not_touched_by_upcasting():
    registry = EventRegistry()
    registry.register("Named", V1)
    event = recorded()
    assert upcast_recorded(registry, event) is event


@given(st.text(min_size=0, max_size=40))
def test_upcasting_never_loses_the_name(full):
    registry = EventRegistry()
    registry.register("Named", V3, 3, {1: split, 2: titled})
    event = upcast_recorded(registry, recorded(payload={"full": full}))
    rebuilt = f"{event.payload['first']} {event.payload['last']}" if " " in full else full
    assert rebuilt == full or event.payload["first"] == full
    assert set(event.payload) == {"first", "last", "title"}


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=10), st.integers() | st.text(max_size=20), max_size=5
    ),
    st.integers(min_value=1, max_value=10**12),
)
def test_the_envelope_round_trips(payload, position):
    event = recorded(payload=payload)
    event = RecordedEvent(**{**event.__dict__, "position": position})
    assert RecordedEvent.from_envelope(event.envelope()) == event


def test_the_envelope_schema_refuses_unknown_and_missing_fields():
    data = recorded().envelope()
    data["surprise"] = 1
    del data["partner_id"]
    with pytest.raises(ValidationError) as error:
        EnvelopeSchema().load(data)
    assert set(error.value.messages) == {"surprise", "partner_id"}


def test_a_malformed_envelope_from_the_wire_is_refused_naming_the_field():
    from marshmallow import ValidationError

    for field, value in [
        ("version", 0),
        ("occurred_at", "2026-11-23T10:00:00"),
        ("event_id", "not-a-uuid"),
        ("payload", []),
        ("stream_id", ""),
    ]:
        data = {**recorded().envelope(), field: value}
        try:
            RecordedEvent.from_envelope(data)
        except ValidationError as error:
            assert field in error.messages, (field, error.messages)
        else:
            raise AssertionError(f"{field}={value!r} was accepted")
