"""What a worker's input must be, whatever it is about: a date that has happened and is not
before the partner's earliest, text with words in it. Each refusal is invalid input (422)
naming the field and the rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shared.aggregate import ReferenceRefused


class InputRule(ReferenceRefused):
    """A value that is wrong in itself (a date before the partner's earliest, or in the
    future, a blank text): invalid input, answered 422 naming the field and the rule."""


class DateMustNotBeInTheFuture(InputRule):
    pass


class DateMustNotPrecedeTheEarliestDate(InputRule):
    pass


class TextMustHaveContent(InputRule):
    pass


@dataclass(frozen=True)
class Calendar:
    """Today, and the earliest date the partner records: every date a worker gives is checked
    against both, so a mistyped year (0006-01-07) or a date still to come never gets in."""

    today: date
    earliest: date

    def check(self, field_name: str, on: date) -> date:
        if on > self.today:
            raise DateMustNotBeInTheFuture(
                field_name, f"{on.isoformat()} is in the future; record what has happened"
            )
        if on < self.earliest:
            raise DateMustNotPrecedeTheEarliestDate(
                field_name,
                f"{on.isoformat()} is before {self.earliest.isoformat()}, the earliest date "
                "this partner records",
            )
        return on


def text_with_content(field_name: str, value: str | None) -> str | None:
    """Free text trimmed; text of nothing but spaces is refused, naming the field."""
    if value is None:
        return None
    trimmed = value.strip()
    if not trimmed:
        raise TextMustHaveContent(field_name, "must not be blank")
    return trimmed
