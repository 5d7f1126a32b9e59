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
from collections.abc import Callable
from datetime import date
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy.signin import Tokens  # noqa: E402


def run_clients(target: Callable[..., list], args_of: Callable[[int], tuple], clients: int):
    """Runs `clients` processes at once, the i-th calling `target(*args_of(i), start)`: each
    waits for `start`, measures, and returns its latencies. Answers every client's latencies
    and the seconds from the start to the last answer; the first client that fails stops the
    run with its error (rather than leaving this waiting for figures that will not come)."""
    start, results = multiprocessing.Event(), multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=_reporting, args=(results, target, *args_of(i), start))
        for i in range(clients)
    ]
    for proc in procs:
        proc.start()
    time.sleep(0.5)
    began = time.monotonic()
    start.set()
    latencies = []
    for _ in procs:
        got = results.get()
        if isinstance(got, Exception):
            for proc in procs:
                proc.terminate()
            raise SystemExit(f"a client failed: {got}")
        latencies.extend(got)
    elapsed = time.monotonic() - began
    for proc in procs:
        proc.join()
    return latencies, elapsed


def _reporting(results, target, *args) -> None:
    try:
        results.put(target(*args))
    except Exception as error:  # noqa: BLE001 - told to the parent, which stops the run
        results.put(error)
        raise


def _client(base: str, token: str, person_id: str, seconds: float, start) -> list:
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
                    "person_id": person_id,
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
    return latencies


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
    tokens = Tokens(state)
    base = state["endpoints"]["partners"][args.partner]["referrals"]
    token = tokens.token("team_lead", args.partner, "bench-lead")
    # a person to refer and a worker to allocate to, registered before the clock starts
    admin = {"Authorization": "Bearer " + tokens.token("partner_admin", args.partner)}
    registered = requests.post(
        base + "/workers", json={"worker_id": "bench-worker"}, headers=admin, timeout=10
    )
    assert registered.status_code in (201, 409), registered.text
    person = requests.post(
        base + "/people",
        json={"full_name": f"Bench Person {uuid.uuid4().hex[:8]}", "date_of_birth": "1980-01-01"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    person.raise_for_status()
    person_id = person.json()["person_id"]
    latencies, elapsed = run_clients(
        _client, lambda _: (base, token, person_id, args.seconds), args.clients
    )
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
