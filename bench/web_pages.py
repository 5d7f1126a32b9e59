"""How long the people's pages take on a running stack with demo data: a demo peer worker (and
team lead) signs in at the web app as a browser would, then each page is asked for over and
over, one request at a time, and its p50/p95/p99 printed beside two floors measured in the same
run: the app's own stylesheet (the same process, no sign-in, no call to a service) and the
node-service call the page needs most (the diary, with the worker's own token).

    PEERLINK_STACK=dev .venv/bin/python bench/web_pages.py [--requests 200] [--partner leeds-mind]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urljoin

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy.signin import Tokens  # noqa: E402


def sign_in(web: str, username: str, password: str) -> requests.Session:
    """The web app's own sign-in (code + PKCE at the partner's provider), as a browser does it."""
    http = requests.Session()
    page = http.get(web + "/auth/login", timeout=10)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    if not action:
        raise SystemExit(f"no sign-in form at {page.url}: {page.status_code}")
    answer = http.post(
        urljoin(page.url, action.group(1)),
        data={"username": username, "password": password},
        timeout=10,
    )
    if not answer.url.startswith(web) or "My day" not in answer.text:
        raise SystemExit(f"sign-in did not reach My day: {answer.url} {answer.status_code}")
    return http


def timings(http: requests.Session, url: str, count: int, headers=None) -> list[float]:
    found = []
    for _ in range(count):
        began = time.perf_counter()
        answer = http.get(url, headers=headers or {}, timeout=10, allow_redirects=False)
        found.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{url} answered {answer.status_code}: {answer.text[:300]}")
    return found


def line(name: str, values: list[float]) -> str:
    ordered = sorted(values)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    return (
        f"  {name:<34} p50 {statistics.median(ordered):7.1f} ms   p95 {at(0.95):7.1f} ms"
        f"   p99 {at(0.99):7.1f} ms   (n={len(ordered)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--partner", default="leeds-mind")
    args = parser.parse_args()
    stack = os.environ.get("PEERLINK_STACK", "dev")
    state = json.loads((ROOT / "run" / stack / "stack.json").read_text())
    endpoints = json.loads((ROOT / "run" / stack / "endpoints.json").read_text())
    node = endpoints["partners"][args.partner]
    web = node["web"]
    tokens = Tokens(state)

    worker_user, worker_password = tokens.account("peer_worker", args.partner, "sam")
    lead_user, lead_password = tokens.account("team_lead", args.partner, "alex")
    worker = sign_in(web, worker_user, worker_password)
    lead = sign_in(web, lead_user, lead_password)
    api_headers = {"Authorization": f"Bearer {tokens.token('peer_worker', args.partner, 'sam')}"}

    caseload = requests.get(
        node["referrals"] + "/referrals",
        params={"worker_id": worker_user, "status": "active", "limit": 1},
        headers=api_headers,
        timeout=10,
    ).json()["items"]
    pages = [("My day (peer worker)", worker, "/"), ("My day (team lead)", lead, "/")]
    for name, who, path in (
        ("Referrals (team lead)", lead, "/referrals"),
        ("Record a session (peer worker)", worker, "/sessions/new"),
        ("Groups (peer worker)", worker, "/groups"),
    ):
        if who.get(web + path, timeout=10, allow_redirects=False).status_code == 200:
            pages.append((name, who, path))
    if caseload:
        pages.append(("A person (peer worker)", worker, f"/people/{caseload[0]['person_id']}"))

    count = args.requests
    print(f"web pages on {stack}, {args.partner}, {count} requests each, one at a time")
    print(f"  {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores")
    floor_static = timings(worker, web + "/static/web.css", count)
    floor_api = timings(requests.Session(), node["sessions"] + "/diary", count, api_headers)
    for name, who, path in pages:
        timings(who, web + path, 5)  # warm
        print(line(name, timings(who, web + path, count)))
    print("floors")
    print(line("web: a static file (same process)", floor_static))
    print(line("sessions: GET /diary (API, own token)", floor_api))


if __name__ == "__main__":
    main()
