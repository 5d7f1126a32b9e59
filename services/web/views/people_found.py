"""Finding people registered on the node: by NHS number, or by full name and date of birth (the
people API's search, a POST so identifiers never travel in an address), and each person found
with the identifiers a worker needs to tell them apart. Every person shown is an audited read."""

from __future__ import annotations

from services.web.api import Refused, segment
from services.web.app import Page
from services.web.forms import Form, posted_date_parts

SEARCH_FIELDS = ("nhs_number", "full_name", "date_of_birth")


def search_criteria(page: Page) -> tuple[dict, dict]:
    """The search form as the people API's query, and what is wrong with it."""
    form = Form(page.form, page.errors)
    nhs_number = form.text("nhs_number", "the NHS number", max_length=20)
    full_name = form.text("full_name", "their full name", max_length=200)
    born = form.date("date_of_birth", "their date of birth", required=False)
    if nhs_number:
        return {"nhs_number": nhs_number}, form.errors
    if full_name and born:
        return {"full_name": full_name, "date_of_birth": born.isoformat()}, form.errors
    if not form.errors:
        if full_name:
            form.errors["date_of_birth"] = "Enter their date of birth as well as their name"
        elif born:
            form.errors["full_name"] = "Enter their full name as well as their date of birth"
        else:
            form.errors["nhs_number"] = (
                "Enter an NHS number, or a full name and date of birth, to search"
            )
    return {}, form.errors


def search_values(page: Page) -> dict:
    """The search form as it was posted, to show it again."""
    return {
        "nhs_number": page.form.get("nhs_number", ""),
        "full_name": page.form.get("full_name", ""),
        "date_of_birth": posted_date_parts(page.form, "date_of_birth"),
    }


def find_people(page: Page, criteria: dict) -> list[str]:
    """The ids of the people the search finds (the API's refusal shown at its field)."""
    try:
        return page.api.post("referrals", "/people/search", criteria)["people"]
    except Refused as refusal:
        if refusal.status != 422:
            raise
        page.refused(refusal)
        return []


def possible_matches(page: Page, person: dict) -> list[str]:
    """Who is registered already with the NHS number, or the name and date of birth, of someone
    about to be registered."""
    found: list[str] = []
    queries = []
    if person.get("nhs_number"):
        queries.append({"nhs_number": person["nhs_number"]})
    if person.get("full_name") and person.get("date_of_birth"):
        queries.append({"full_name": person["full_name"], "date_of_birth": person["date_of_birth"]})
    for query in queries:
        try:
            people = page.api.post("referrals", "/people/search", query)["people"]
        except Refused as refusal:
            if refusal.status != 422:
                raise
            continue
        found.extend(p for p in people if p not in found)
    return found


def describe(page: Page, person_ids: list[str]) -> list[dict]:
    """Each person with their identifiers (None where this person may not see them)."""
    return [{"person_id": p, "identifiers": identifiers_of(page, p)} for p in person_ids]


def identifiers_of(page: Page, person_id: str) -> dict | None:
    try:
        person = page.api.get("referrals", f"/people/{segment(person_id)}")
    except Refused as refusal:
        if refusal.status in (403, 404):
            return None
        raise
    return person.get("identifiers")
