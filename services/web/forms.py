"""Reading a posted form: trimmed text, UK dates in three boxes, times, numbers and choices,
each with an error in words when it is missing or wrong. What the form cannot tell (whether a
referral may be accepted, whether a date fits its record) the services decide; their answer is
shown at the same fields (Page.refused)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


class Form:
    def __init__(self, data, errors: dict[str, str] | None = None):
        self.data = data
        self.errors: dict[str, str] = {} if errors is None else errors

    def _fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def text(self, name: str, label: str, required: bool = False, max_length: int = 10_000):
        value = (self.data.get(name) or "").strip()
        if not value:
            if required:
                self._fail(name, f"Enter {label}")
            return None
        if len(value) > max_length:
            self._fail(name, f"{_cap(label)} must be {max_length} characters or fewer")
        return value

    def choice(self, name: str, label: str, codes, required: bool = True):
        value = (self.data.get(name) or "").strip()
        if not value:
            if required:
                self._fail(name, f"Select {label}")
            return None
        if value not in set(codes):
            self._fail(name, f"Select {label} from the list")
            return None
        return value

    def choices(self, name: str, label: str, codes, required: bool = False) -> list[str]:
        values = [v for v in self.data.getlist(name) if v]
        allowed = set(codes)
        if any(v not in allowed for v in values):
            self._fail(name, f"Select {label} from the list")
            return []
        if required and not values:
            self._fail(name, f"Select at least one {label}")
        return values

    def number(self, name: str, label: str, low: int, high: int, required: bool = True):
        raw = (self.data.get(name) or "").strip()
        if not raw:
            if required:
                self._fail(name, f"Enter {label}")
            return None
        if not raw.lstrip("-").isdigit():
            self._fail(name, f"{_cap(label)} must be a whole number")
            return None
        value = int(raw)
        if not low <= value <= high:
            self._fail(
                name,
                f"{_cap(label)} must be between {low} and {high}",
            )
            return None
        return value

    def date(self, name: str, label: str, required: bool = True) -> date | None:
        """A date from its three boxes (`<name>-day`, `-month`, `-year`)."""
        parts = [(self.data.get(f"{name}-{p}") or "").strip() for p in ("day", "month", "year")]
        if not any(parts):
            if required:
                self._fail(name, f"Enter {label}")
            return None
        missing = [w for w, p in zip(("day", "month", "year"), parts, strict=True) if not p]
        if missing:
            self._fail(name, f"{_cap(label)} must include a {missing[0]}")
            return None
        if not all(p.isdigit() for p in parts) or len(parts[2]) != 4:
            self._fail(
                name,
                f"{_cap(label)} must be a real date, for example 27 3 2026",
            )
            return None
        try:
            return date(int(parts[2]), int(parts[1]), int(parts[0]))
        except ValueError:
            self._fail(
                name,
                f"{_cap(label)} must be a real date, for example 27 3 2026",
            )
            return None

    def time(self, name: str, label: str, required: bool = True) -> time | None:
        """A time as 14:30, 2:30pm or 9am."""
        raw = (self.data.get(name) or "").strip().lower().replace(".", ":").replace(" ", "")
        if not raw:
            if required:
                self._fail(name, f"Enter {label}")
            return None
        suffix = raw[-2:] if raw[-2:] in ("am", "pm") else ""
        core = raw[: -len(suffix)] if suffix else raw
        hours, _, minutes = core.partition(":")
        try:
            hour, minute = int(hours), int(minutes or 0)
            if suffix:
                if not 1 <= hour <= 12:
                    raise ValueError
                hour = hour % 12 + (12 if suffix == "pm" else 0)
            return time(hour, minute)
        except ValueError:
            self._fail(
                name,
                f"{_cap(label)} must be a time, for example 14:30 or 2:30pm",
            )
            return None

    def ok(self) -> bool:
        return not self.errors


def _cap(label: str) -> str:
    return label[:1].upper() + label[1:]


def at(day: date, when: time) -> str:
    """A London date and time as the ISO instant the services take."""
    return datetime.combine(day, when, tzinfo=LONDON).isoformat()


def date_parts(value: date | str | None) -> dict:
    """A date as the three boxes' values, to show a form again."""
    if not value:
        return {}
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return {"day": value.day, "month": value.month, "year": value.year}


def posted_date_parts(data, name: str) -> dict:
    """The three boxes as they were posted (shown again when the form has errors)."""
    return {p: data.get(f"{name}-{p}", "") for p in ("day", "month", "year")}
