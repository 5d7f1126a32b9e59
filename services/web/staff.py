"""Members of staff in words: each by their name where the node knows it, by their sign-in id
only where it knows none. A name comes from the workforce (the display name a partner admin
gave, read through the API by those who may read the workforce) or else from the person's own
sign-in here (the name their provider gave, kept by the session store)."""

from __future__ import annotations

from shared.policy import MAY_READ_WORKERS

# the most workers the workforce list answers at once (its `limit`)
MOST_WORKERS = 500


def staff_names(api, role: str, signed_in: dict[str, str]) -> dict[str, str]:
    """Sign-in id -> name, for everyone the node has a name for."""
    names = dict(signed_in)
    if role in MAY_READ_WORKERS:
        workers = api.get("referrals", "/workers", status="any", limit=MOST_WORKERS)["items"]
        names.update({w["worker_id"]: w["display_name"] for w in workers if w.get("display_name")})
    return names


def with_id(name: str | None, user_id: str) -> str:
    """A name with the sign-in id after it, where both are wanted (choosing among workers)."""
    return f"{name} ({user_id})" if name and name != user_id else user_id
