"""Demo data for a local alliance, made through the HTTP API exactly as a user would."""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import requests

from shared.auth import issue_token
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


def load_demo(state_file: Path, referrals_per_partner: int = 36, seed: int = 2026) -> None:
    state = json.loads(Path(state_file).read_text())
    secret = Path(state["jwt_secret_file"]).read_text().strip()
    rng = random.Random(seed)
    today = date.today()
    loaded: list[str] = []
    for partner in PARTNERS:
        base = state["endpoints"]["partners"][partner]["referrals"]
        feed = requests.get(
            f"{base}/events",
            params={"limit": 1},
            timeout=10,
            headers={"Authorization": "Bearer " + issue_token(secret, "demo", "service", partner)},
        )
        if feed.ok and feed.json()["events"]:
            print(f"[peerlink] demo data for {partner} already loaded")
            continue
        loaded.append(partner)
        client = Client(base, issue_token(secret, f"demo-lead-{partner}", "team_lead", partner))
        for index in range(referrals_per_partner):
            received = today - timedelta(days=rng.randint(0, 180))
            referral = client.post(
                "/referrals",
                {
                    "person_id": str(uuid.UUID(int=rng.getrandbits(128))),
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
        load_sessions_demo(state, secret, partner, seed + index)
    if {"leeds-mind", "mesmac"} <= set(loaded):
        _demo_transfer(state, secret)
    from deploy.demo_safeguarding import load_safeguarding_demo

    load_safeguarding_demo(state, secret)


def _demo_transfer(state: dict, secret: str) -> None:
    """One referral offered from Leeds Mind to MESMAC and accepted there."""
    leeds = Client(
        state["endpoints"]["partners"]["leeds-mind"]["referrals"],
        issue_token(secret, "demo-lead-leeds-mind", "team_lead", "leeds-mind"),
    )
    mesmac = Client(
        state["endpoints"]["partners"]["mesmac"]["referrals"],
        issue_token(secret, "demo-lead-mesmac", "team_lead", "mesmac"),
    )
    received = date.today() - timedelta(days=3)
    referral = leeds.post(
        "/referrals",
        {
            "person_id": str(uuid.uuid4()),
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
        mine = [o for o in offers if o["referral_id"] == referral["referral_id"]]
        if mine:
            mesmac.post(f"/offers/{mine[0]['offer_id']}/accept", {})
            print("[peerlink] demo transfer: a Leeds Mind referral accepted by MESMAC")
            return
        time.sleep(0.2)
    print("[peerlink] demo transfer: the offer did not reach MESMAC in 30 s")
