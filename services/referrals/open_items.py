"""What is still open for a person when their referral ends: future sessions booked and plans
not closed, read from the node's sessions service over its HTTP API with the caller's own
token, so the sessions service's access rules decide what the caller may see."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import requests
from nameko.extensions import DependencyProvider

from services.referrals.settings import ReferralSettings
from shared.settings import settings_of

log = logging.getLogger(__name__)

# a discharge waits at most this long for the sessions service before warning instead
TIMEOUT_SECONDS = 3.0


class SessionsReader:
    """Open items of a person, as {kind, id, summary, to_close, referral_id}, and warnings for
    what could not be read."""

    def __init__(self, base_url: str | None, http=None):
        self.base_url = base_url.rstrip("/") if base_url else None
        self.http = http or requests.Session()

    def of(self, request, person_id: str) -> tuple[list[dict], list[str]]:
        if not self.base_url:
            return [], [
                "future sessions and open plans were not checked (PEERLINK_SESSIONS_URL is "
                "not set); check them in the sessions service before closing"
            ]
        headers = {"Authorization": request.headers.get("Authorization", "")}
        today = datetime.now(UTC).date().isoformat()
        try:
            sessions = self._items(
                "/sessions",
                {"person_id": person_id, "status": "booked", "from": today, "limit": 500},
                headers,
            )
            plans = self._items(
                "/plans", {"person_id": person_id, "status": "open", "limit": 500}, headers
            )
        except (requests.RequestException, ValueError) as error:
            log.warning("open items of a person could not be read: %s", error)
            return [], [
                "future sessions and open plans could not be read from the sessions service; "
                "check them there before closing"
            ]
        items = [
            {
                "kind": "session",
                "id": s["session_id"],
                "summary": f"{s['kind'].replace('_', ' ')} session booked for {s['starts_at']}",
                "to_close": f"POST /sessions/{s['session_id']}/cancel on the sessions service",
                "referral_id": s.get("referral_id"),
            }
            for s in sessions
        ] + [
            {
                "kind": "plan",
                "id": p["plan_id"],
                "summary": f"{p['kind'].replace('_', ' ')} plan open",
                "to_close": f"POST /plans/{p['plan_id']}/close on the sessions service",
                "referral_id": p.get("referral_id"),
            }
            for p in plans
        ]
        return items, []

    def _items(self, path: str, params: dict, headers: dict) -> list[dict]:
        response = self.http.get(
            self.base_url + path, params=params, headers=headers, timeout=TIMEOUT_SECONDS
        )
        if response.status_code == 403:
            return []  # nothing the caller may see
        response.raise_for_status()
        return response.json()["items"]


class OpenItems(DependencyProvider):
    """The reader of a person's open items, at the sessions service the settings name."""

    def setup(self):
        self.reader = SessionsReader(settings_of(ReferralSettings).sessions_url)

    def get_dependency(self, worker_ctx):
        return self.reader
