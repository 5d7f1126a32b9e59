"""HTTP commands/s and latency for recording sessions with attendance on one node: each of 8
concurrent clients records, over and over, a group session with ten people's attendance (one
request, eleven events) and a drop-in with two known people and an anonymous count (one
request, four events), against the running alliance.

    PEERLINK_STACK=dev .venv/bin/python bench/sessions_http.py [--clients 8] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.referrals_http import percentile, run_clients  # noqa: E402
from deploy.signin import Tokens  # noqa: E402

FACILITATOR = "bench-facilitator"


def post(session: requests.Session, url: str, body: dict) -> dict:
    response = session.post(url, json=body, timeout=15)
    if response.status_code >= 400:
        raise RuntimeError(f"POST {url}: {response.status_code} {response.text}")
    return response.json()


def set_up(state: dict, tokens: Tokens, partner: str) -> tuple[str, list[str]]:
    """Ten registered people in a group the bench's worker facilitates."""
    node = state["endpoints"]["partners"][partner]
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + tokens.token("team_lead", partner, "bench-lead")
    people = [
        post(
            session,
            node["referrals"] + "/people",
            {"full_name": f"Bench Person {n}", "date_of_birth": "1980-01-01"},
        )["person_id"]
        for n in range(10)
    ]
    admin = {"Authorization": "Bearer " + tokens.token("partner_admin", partner)}
    registered = requests.post(
        node["referrals"] + "/workers", json={"worker_id": FACILITATOR}, headers=admin, timeout=15
    )
    if registered.status_code not in (201, 409):  # 409: on the workforce already
        raise RuntimeError(f"POST /workers: {registered.status_code} {registered.text}")
    group = post(
        session,
        node["sessions"] + "/groups",
        {
            "name": "Bench peer group",
            "kind": "weekly_peer_group",
            "capacity": 10,
            "facilitator_ids": [FACILITATOR],
        },
    )
    for person in people:
        post(session, node["sessions"] + f"/groups/{group['group_id']}/join", {"person_id": person})
    return group["group_id"], people


def _client(index, base, token, group_id, people, seconds, start) -> list[tuple[str, float]]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    latencies: list[tuple[str, float]] = []
    start.wait()
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        # a start of each client's own: the group holds one session at a start
        minutes = index * 1000 + n % 1000
        began_at = (datetime.now(UTC) - timedelta(hours=3, minutes=minutes)).isoformat()
        group_session = {
            "kind": "group",
            "group_id": group_id,
            "mode": "community_venue",
            "location": "community_venue",
            "worker_ids": [FACILITATOR],
            "actual_start_at": began_at,
            "duration_minutes": 90,
            "attendance": [
                {"person_id": p, "status": "attended" if (i + n) % 5 else "did_not_attend"}
                for i, p in enumerate(people)
            ],
        }
        drop_in = {
            "kind": "drop_in",
            "mode": "face_to_face_base",
            "location": "peer_support_base",
            "worker_ids": [FACILITATOR],
            "actual_start_at": began_at,
            "duration_minutes": 120,
            "attendance": [{"person_id": p, "status": "attended"} for p in people[:2]],
            "anonymous_attendees": n % 7,
        }
        for name, body in (("group_with_10", group_session), ("drop_in", drop_in)):
            began = time.perf_counter()
            response = session.post(base + "/sessions/held", json=body, timeout=15)
            latencies.append((name, time.perf_counter() - began))
            if response.status_code >= 400:
                raise RuntimeError(f"{name}: {response.status_code} {response.text}")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--partner", default="leeds-mind")
    args = parser.parse_args()
    run = ROOT / "run" / os.environ.get("PEERLINK_STACK", "test")
    state = json.loads((run / "stack.json").read_text())
    tokens = Tokens(state)
    group_id, people = set_up(state, tokens, args.partner)
    base = state["endpoints"]["partners"][args.partner]["sessions"]
    token = tokens.token("peer_worker", args.partner, FACILITATOR)
    latencies, elapsed = run_clients(
        _client,
        lambda index: (index, base, token, group_id, people, args.seconds),
        args.clients,
    )
    events = sum(11 if name == "group_with_10" else 4 for name, _ in latencies)
    print(f"{args.clients} clients, {elapsed:.1f} s against {base}")
    print(
        f"all commands: {len(latencies) / elapsed:7.1f} commands/s   "
        f"p50 {percentile([s for _, s in latencies], 50) * 1000:6.1f} ms   "
        f"p99 {percentile([s for _, s in latencies], 99) * 1000:6.1f} ms   "
        f"{events / elapsed:7.1f} events/s"
    )
    for name in ("group_with_10", "drop_in"):
        values = [s for n, s in latencies if n == name]
        print(
            f"  {name:<14} {len(values) / elapsed:7.1f}/s   p50 "
            f"{percentile(values, 50) * 1000:6.1f} ms   p99 {percentile(values, 99) * 1000:6.1f} ms"
        )


if __name__ == "__main__":
    main()
