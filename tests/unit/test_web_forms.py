"""The web app's reading of forms and its words: UK dates in three boxes, times as people type
them, where a sign-in may send someone back to, a service's refusal mapped to form fields, and
dates and times in London time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from werkzeug.datastructures import MultiDict

from services.web.api import Refused
from services.web.app import safe_next, uk_date, uk_datetime, words
from services.web.assets import FONT_FACE
from services.web.forms import Form, at

pytestmark = pytest.mark.unit


def form(**values) -> Form:
    return Form(MultiDict(values))


def test_a_date_in_three_boxes_is_read_and_each_mistake_named():
    given = form(**{"on-day": "27", "on-month": "3", "on-year": "2026"})
    assert given.date("on", "the date") == date(2026, 3, 27) and given.ok()
    cases = {
        ("", "", ""): "Enter the date",
        ("27", "", "2026"): "The date must include a month",
        ("31", "2", "2026"): "The date must be a real date, for example 27 3 2026",
        ("1", "1", "26"): "The date must be a real date, for example 27 3 2026",
        ("x", "1", "2026"): "The date must be a real date, for example 27 3 2026",
    }
    for (day, month, year), message in cases.items():
        wrong = form(**{"on-day": day, "on-month": month, "on-year": year})
        assert wrong.date("on", "the date") is None
        assert wrong.errors == {"on": message}


def test_times_are_read_as_people_type_them():
    for typed, expected in {
        "14:30": time(14, 30),
        "2:30pm": time(14, 30),
        "9am": time(9, 0),
        "12pm": time(12, 0),
        "12am": time(0, 0),
        "9.15": time(9, 15),
    }.items():
        given = form(at=typed)
        assert given.time("at", "the time") == expected, typed
    for typed in ("25:00", "13pm", "noon", "9:75"):
        wrong = form(at=typed)
        assert wrong.time("at", "the time") is None
        assert "must be a time" in wrong.errors["at"], typed


def test_text_is_trimmed_and_blank_is_missing():
    given = form(name="  Jordan  ", blank="   ")
    assert given.text("name", "a name", required=True) == "Jordan"
    assert given.text("blank", "a reason", required=True) is None
    assert given.errors == {"blank": "Enter a reason"}


def test_a_choice_outside_the_list_is_refused():
    given = form(kind="one_to_one", other="drop_table")
    assert given.choice("kind", "the kind", ["one_to_one", "group"]) == "one_to_one"
    assert given.choice("other", "the kind", ["one_to_one"]) is None
    assert given.errors == {"other": "Select the kind from the list"}


def test_numbers_out_of_range_are_named():
    given = form(count="40", bad="four", low="-1")
    assert given.number("count", "the count", 0, 500) == 40
    assert given.number("bad", "the count", 0, 500) is None
    assert given.number("low", "the number", 0, 500) is None
    assert given.errors == {
        "bad": "The count must be a whole number",
        "low": "The number must be between 0 and 500",
    }


def test_a_london_time_becomes_the_instant_the_services_take():
    assert at(date(2026, 7, 1), time(14, 0)) == "2026-07-01T14:00:00+01:00"
    assert at(date(2026, 12, 1), time(14, 0)) == "2026-12-01T14:00:00+00:00"


def test_signing_in_sends_people_back_only_within_the_app():
    assert safe_next("/referrals?status=received") == "/referrals?status=received"
    for elsewhere in (None, "", "https://evil.example/", "//evil.example/", "/\\evil", "x"):
        assert safe_next(elsewhere) == "/"


def test_a_refusal_names_each_field_even_nested_ones():
    refusal = Refused(
        422,
        "invalid",
        "...",
        fields={"received_on": ["must not be in the future"], "content": {"goals": ["bad"]}},
    )
    assert refusal.field_errors() == {
        "received_on": "must not be in the future",
        "content.goals": "bad",
    }


def test_dates_and_times_read_as_people_write_them_in_london():
    assert uk_date("2026-03-27") == "27 March 2026"
    assert uk_datetime(datetime(2026, 7, 1, 13, 30, tzinfo=UTC)) == "1 July 2026 at 2:30pm"
    assert uk_datetime("2026-12-01T09:00:00+00:00") == "1 December 2026 at 9am"
    assert words("face_to_face_base") == "Face to face base"


def test_the_frontends_remote_font_is_taken_out_of_its_stylesheet():
    css = "a{color:red}@font-face{font-family:Frutiger;src:url(https://assets.nhs.uk/x.woff2)}b{}"
    assert FONT_FACE.sub("", css) == "a{color:red}b{}"
