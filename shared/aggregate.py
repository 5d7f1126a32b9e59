"""The aggregate base: state is a fold over a stream's events; commands return new events."""

from __future__ import annotations

import functools
import re

from shared.events import NewEvent, RecordedEvent


class RuleBroken(Exception):
    """A command that the rules of the domain do not allow (HTTP 409)."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule
        self.message = message


class Rule(RuleBroken):
    """A named rule of the domain, raised with a message for the worker: each rule is a
    subclass named after it (`class ConsentIsWithdrawnOnce(Rule)`), and answers 409 with that
    name."""

    def __init__(self, message: str):
        super().__init__(type(self).__name__, message)


class ReferenceRefused(RuleBroken):
    """A command naming someone who is not there to be named (a person never registered here, a
    worker who left): the field is wrong, so it is answered as invalid input (HTTP 422) naming
    the field, with the rule. Subclasses are named after their rule."""

    def __init__(self, field_name: str, message: str):
        super().__init__(type(self).__name__, message)
        self.field_name = field_name


@functools.cache
def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Aggregate:
    stream_type: str = ""

    def __init__(self, stream_id: str):
        self.id = stream_id
        self.version = 0

    @classmethod
    def fold(cls, stream_id: str, events: list[RecordedEvent]):
        aggregate = cls(stream_id)
        for event in events:
            aggregate.apply(event.event_type, event.payload)
            aggregate.version = event.version
        return aggregate

    def apply(self, event_type: str, payload: dict) -> None:
        handler = getattr(self, f"apply_{_snake(event_type)}", None)
        if handler is None:
            raise TypeError(f"{type(self).__name__} cannot apply {event_type}")
        handler(payload)

    def decide(self, events: list[NewEvent]) -> list[NewEvent]:
        """Apply decided events to this instance too, so a command can be followed by another."""
        for event in events:
            self.apply(event.event_type, event.payload)
        return events
