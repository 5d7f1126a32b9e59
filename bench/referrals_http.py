"""HTTP commands/s and latency on one node: each of 8 concurrent clients creates a referral,
accepts it and allocates it, over and over, against the running alliance.

    PEERLINK_STACK=dev .venv/bin/python bench/referrals_http.py [--clients 8] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.auth import issue_token  # noqa: E402


def client(base: str, token: str, seconds: float, start, results) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    latencies: list[tuple[str, float]] = []
    start.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        steps = [
            (
                "create",
                "/referrals",
                {
                    "person_id": str(uuid.uuid4()),
                    "source": "gp",
                    "received_on": date.today().isoformat(),
                },
            ),
        ]
        for name, path, body in steps:
            began = time.perf_counter()
            response = session.post(base + path, json=body, timeout=10)
            latencies.append((name, time.perf_counter() - began))
            response.raise_for_status()
        rid = response.json()["referral_id"]
        for name, path, body in (
            ("accept", f"/referrals/{rid}/accept", {}),
            ("allocate", f"/referrals/{rid}/allocate", {"worker_id": "bench-worker"}),
        ):
            began = time.perf_counter()
            response = session.post(base + path, json=body, timeout=10)
            latencies.append((name, time.perf_counter() - began))
            response.raise_for_status()
    results.put(latencies)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--partner", default="leeds-mind")
    args = parser.parse_args()
    run = ROOT / "run" / os.environ.get("PEERLINK_STACK", "test")
    state = json.loads((run / "stack.json").read_text())
    secret = Path(state["jwt_secret_file"]).read_text().strip()
    base = state["endpoints"]["partners"][args.partner]["referrals"]
    token = issue_token(secret, "bench-lead", "team_lead", args.partner)
    start, results = multiprocessing.Event(), multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=client, args=(base, token, args.seconds, start, results))
        for _ in range(args.clients)
    ]
    for proc in procs:
        proc.start()
    time.sleep(0.5)
    began = time.monotonic()
    start.set()
    latencies = [item for _ in procs for item in results.get()]
    elapsed = time.monotonic() - began
    for proc in procs:
        proc.join()
    print(f"{args.clients} clients, {elapsed:.1f} s against {base}")
    print(
        f"all commands: {len(latencies) / elapsed:7.1f} commands/s   "
        f"p50 {percentile([s for _, s in latencies], 50) * 1000:6.1f} ms   "
        f"p99 {percentile([s for _, s in latencies], 99) * 1000:6.1f} ms"
    )
    for name in ("create", "accept", "allocate"):
        values = [s for n, s in latencies if n == name]
        print(
            f"  {name:<9} {len(values) / elapsed:7.1f}/s   p50 {percentile(values, 50) * 1000:6.1f}"
            f" ms   p99 {percentile(values, 99) * 1000:6.1f} ms"
        )


if __name__ == "__main__":
    main()
