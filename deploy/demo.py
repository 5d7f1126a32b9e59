"""Demo data for a local alliance, made through the HTTP API exactly as a user would."""

from __future__ import annotations

import json
import random
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


def load_demo(state_file: Path, referrals_per_partner: int = 36, seed: int = 2026) -> None:
    state = json.loads(Path(state_file).read_text())
    secret = Path(state["jwt_secret_file"]).read_text().strip()
    rng = random.Random(seed)
    today = date.today()
    session = requests.Session()
    for partner in PARTNERS:
        base = state["endpoints"]["partners"][partner]["referrals"]
        token = issue_token(secret, f"demo-lead-{partner}", "team_lead", partner)
        headers = {"Authorization": f"Bearer {token}"}
        existing = session.get(
            f"{base}/events",
            params={"limit": 1},
            headers={"Authorization": "Bearer " + issue_token(secret, "demo", "service", partner)},
            timeout=10,
        )
        if existing.ok and existing.json()["events"]:
            print(f"[peerlink] demo data for {partner} already loaded")
            continue
        for _ in range(referrals_per_partner):
            body = {
                "person_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "source": rng.choice(SOURCES),
                "received_on": (today - timedelta(days=rng.randint(0, 180))).isoformat(),
                "urgency": rng.choice(["routine", "routine", "soon", "urgent"]),
            }
            response = session.post(f"{base}/referrals", json=body, headers=headers, timeout=10)
            response.raise_for_status()
        print(f"[peerlink] demo data for {partner}: {referrals_per_partner} referrals")
