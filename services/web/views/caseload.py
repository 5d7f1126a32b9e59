"""The signed-in worker's caseload and groups as the session, group and plan pages offer them,
and the names of the people those pages show, each read through the node's services with the
worker's own token (so every name read is theirs to read, and audited there)."""

from __future__ import annotations

from services.web.api import Refused, segment
from services.web.app import Page

# a one-to-one or carer support is recorded only for a referral in active support
SUPPORTED = ("active",)
OPEN_STATES = ("received", "accepted", "allocated", "active", "on_hold")
LIMIT = 200


def caseload(page: Page, states=OPEN_STATES) -> list[dict]:
    """The referrals allocated to the signed-in worker, with each person's name, by name."""
    found = page.api.get(
        "referrals", "/referrals", worker_id=page.user_id, names="true", limit=LIMIT
    )
    items = [r for r in found["items"] if r["status"] in states]
    return sorted(items, key=lambda r: ((r.get("full_name") or "").lower(), r["referral_id"]))


def people_of(referrals: list[dict]) -> list[tuple[str, str]]:
    """Each person once, as (person_id, name) choices."""
    seen: dict[str, str] = {}
    for referral in referrals:
        seen.setdefault(str(referral["person_id"]), referral.get("full_name") or "Name not known")
    return sorted(seen.items(), key=lambda item: (item[1].lower(), item[0]))


def my_groups(page: Page, status: str | None = "open") -> list[dict]:
    """The groups the signed-in worker facilitates."""
    found = page.api.get(
        "sessions", "/groups", facilitator_id=page.user_id, status=status, limit=LIMIT
    )
    return found["items"]


def names_of(page: Page, person_ids, known: dict[str, str] | None = None) -> dict[str, str]:
    """Each person's name: from what the page already holds (`known`), else read from the
    referrals service (an audited read); a person this worker may not see is left unnamed."""
    names = dict(known or {})
    for person_id in person_ids:
        person_id = str(person_id)
        if person_id in names:
            continue
        try:
            person = page.api.get("referrals", f"/people/{segment(person_id)}")
        except Refused:
            names[person_id] = "Name not shown"
            continue
        identifiers = person.get("identifiers")
        if person.get("status") == "erased" or not isinstance(identifiers, dict):
            names[person_id] = "Name erased"
        else:
            names[person_id] = identifiers.get("full_name") or "Name not known"
    return names


def quoted(version) -> str | None:
    """A version posted back by a form, as the If-Match header the services take."""
    text = str(version or "").strip().strip('"')
    return f'"{text}"' if text.isdigit() else None
