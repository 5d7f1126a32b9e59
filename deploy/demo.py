"""Demo data for a local alliance, made through the HTTP API exactly as a user would."""

from __future__ import annotations

import json
import random
import time
from datetime import date, timedelta
from pathlib import Path

import requests

from deploy.signin import Tokens
from shared.config import PARTNERS

SOURCES = [
    "cmht",
    "gp",
    "clinical_step_down",
    "crisis_service",
    "partner_organisation",
    "self",
    "carer",
    "other",
]
NEEDS = [
    "low_mood",
    "anxiety",
    "isolation",
    "trauma",
    "housing",
    "money_and_benefits",
    "identity",
    "caring_role",
]
# how far along each demo referral goes, so every state is represented
JOURNEYS = [
    "received",
    "accepted",
    "declined",
    "allocated",
    "active",
    "active",
    "active",
    "on_hold",
    "discharged",
    "discharged",
    "closed_without_contact",
]
WORKERS = ["sam", "priya", "jo", "kwame"]
FIRST_NAMES = ["Ash", "Bea", "Cal", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jas", "Kai", "Lou"]
FAMILY_NAMES = ["Ahmed", "Brown", "Clarke", "Davies", "Evans", "Fisher", "Green", "Hughes"]


class Client:
    def __init__(self, base: str, token: str):
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params) -> dict:
        response = self.session.get(f"{self.base}{path}", params=params, timeout=15)
        if response.status_code >= 400:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text}")
        return response.json()

    def post(self, path: str, body: dict, retry_for: float = 0) -> dict:
        """`retry_for` seconds of retrying a 409: what a referral's new status needs to reach
        the sessions service."""
        deadline = time.monotonic() + retry_for
        while True:
            response = self.session.post(f"{self.base}{path}", json=body, timeout=15)
            if response.status_code == 409 and time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            if response.status_code >= 400:
                raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
            return response.json()


def _walk(client: Client, referral: dict, journey: str, rng: random.Random) -> None:
    rid = referral["referral_id"]
    received = date.fromisoformat(referral["received_on"])

    def on(days: int) -> str:
        return min(received + timedelta(days=days), date.today()).isoformat()

    if journey == "received":
        return
    if journey == "declined":
        client.post(
            f"/referrals/{rid}/decline",
            {
                "on": on(2),
                "reason": rng.choice(
                    ["outside_service_criteria", "needs_clinical_service", "person_declined"]
                ),
            },
        )
        return
    client.post(f"/referrals/{rid}/accept", {"on": on(1)})
    if journey == "accepted":
        return
    client.post(f"/referrals/{rid}/allocate", {"on": on(2), "worker_id": rng.choice(WORKERS)})
    if journey == "allocated":
        return
    if journey == "closed_without_contact":
        client.post(f"/referrals/{rid}/close", {"on": on(20), "reason": "unable_to_contact"})
        return
    client.post(f"/referrals/{rid}/first-contact", {"on": on(rng.randint(2, 12))})
    if journey == "on_hold":
        client.post(f"/referrals/{rid}/hold", {"on": on(20), "reason": "hospital_admission"})
    elif journey == "discharged":
        client.post(
            f"/referrals/{rid}/discharge",
            {
                "on": on(rng.randint(30, 90)),
                "reason": rng.choice(["goals_met", "goals_met", "disengaged", "moved_away"]),
            },
        )


def register_demo_workers(state: dict, tokens: Tokens, partner: str) -> None:
    """The partner's demo staff on its workforce, registered by its partner admin (rae), so that
    they can be named before they first sign in; those already registered stay as they are."""
    from deploy.idp import DEMO_USERS

    admin = Client(
        state["endpoints"]["partners"][partner]["referrals"],
        tokens.token("partner_admin", partner, "rae"),
    )
    for user in DEMO_USERS:
        if user.issuer != partner:
            continue
        response = admin.session.post(
            f"{admin.base}/workers",
            json={
                "worker_id": user.username,
                "display_name": user.display_name,
                "roles": list(user.roles),
            },
            timeout=15,
        )
        if response.status_code not in (201, 409):
            raise RuntimeError(f"POST /workers: {response.status_code} {response.text}")


def demo_person(rng: random.Random, index: int) -> dict:
    """A made-up person to register with their referral."""
    return {
        "full_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(FAMILY_NAMES)} {index + 1}",
        "date_of_birth": (date(1950, 1, 1) + timedelta(days=rng.randint(0, 20000))).isoformat(),
        "gender": rng.choice(["woman", "man", "non_binary", "not_known"]),
        "ethnicity": rng.choice(["white", "mixed", "asian", "black", "other"]),
    }


def load_demo(state_file: Path, referrals_per_partner: int = 36, seed: int = 2026) -> None:
    state = json.loads(Path(state_file).read_text())
    tokens = Tokens(state)
    rng = random.Random(seed)
    today = date.today()
    loaded: list[str] = []
    for partner in PARTNERS:
        base = state["endpoints"]["partners"][partner]["referrals"]
        feed = requests.get(
            f"{base}/events",
            params={"limit": 1},
            timeout=10,
            headers={"Authorization": "Bearer " + tokens.token("service", partner, "demo")},
        )
        if feed.ok and feed.json()["events"]:
            print(f"[peerlink] demo data for {partner} already loaded")
        else:
            loaded.append(partner)
    for partner in PARTNERS:
        register_demo_workers(state, tokens, partner)
    for partner in loaded:
        base = state["endpoints"]["partners"][partner]["referrals"]
        client = Client(base, tokens.token("team_lead", partner, "alex"))
        for index in range(referrals_per_partner):
            received = today - timedelta(days=rng.randint(0, 180))
            referral = client.post(
                "/referrals",
                {
                    "person": demo_person(rng, index),
                    "source": rng.choice(SOURCES),
                    "received_on": received.isoformat(),
                    "urgency": rng.choice(["routine", "routine", "soon", "urgent"]),
                    "needs": rng.sample(NEEDS, rng.randint(1, 3)),
                    "risk_level": rng.choice(["none_known", "low", "low", "medium", "high"]),
                    "preferred_contact_mode": rng.choice(["phone", "face_to_face", "video"]),
                    "consent": {
                        "to_share": rng.random() < 0.8,
                        "to_contact": True,
                        "contact_methods": ["phone"],
                        "recorded_on": received.isoformat(),
                    },
                },
            )
            _walk(client, referral, JOURNEYS[index % len(JOURNEYS)], rng)
        print(f"[peerlink] demo data for {partner}: {referrals_per_partner} referrals")
    from deploy.demo_sessions import load_sessions_demo

    for index, partner in enumerate(PARTNERS):
        load_sessions_demo(state, tokens, partner, seed + index)
    if {"leeds-mind", "mesmac"} <= set(loaded):
        _demo_transfer(state, tokens)
    from deploy.demo_safeguarding import load_safeguarding_demo

    load_safeguarding_demo(state, tokens)


def _demo_transfer(state: dict, tokens: Tokens) -> None:
    """One referral offered from Leeds Mind to MESMAC and accepted there."""
    leeds = Client(
        state["endpoints"]["partners"]["leeds-mind"]["referrals"],
        tokens.token("team_lead", "leeds-mind", "alex"),
    )
    mesmac = Client(
        state["endpoints"]["partners"]["mesmac"]["referrals"],
        tokens.token("team_lead", "mesmac", "alex"),
    )
    received = date.today() - timedelta(days=3)
    referral = leeds.post(
        "/referrals",
        {
            "person": demo_person(random.Random(), 0),
            "source": "self",
            "received_on": received.isoformat(),
            "needs": ["identity", "isolation"],
            "consent": {"to_share": True, "to_contact": True, "recorded_on": received.isoformat()},
        },
    )
    leeds.post(f"/referrals/{referral['referral_id']}/offer", {"to_partner": "mesmac"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        offers = mesmac.session.get(
            f"{mesmac.base}/offers", params={"status": "received"}, timeout=10
        ).json()["items"]
        # accepted once the person's record sealed for MESMAC has arrived with the offer
        mine = [
            o
            for o in offers
            if o["referral_id"] == referral["referral_id"] and o["person_record"] == "arrived"
        ]
        if mine:
            mesmac.post(f"/offers/{mine[0]['offer_id']}/accept", {})
            print("[peerlink] demo transfer: a Leeds Mind referral accepted by MESMAC")
            return
        time.sleep(0.2)
    print("[peerlink] demo transfer: the offer did not reach MESMAC in 30 s")
