"""Before and after in one run: `referrals_http.py` and `sessions_http.py` against the code of
two revisions, each in a checkout of its own (a git worktree under run/revisions/) with its own
local stack, brought up and down in turn, rounds alternating which goes first; with two floors
measured in the same run on the same machine: raw PostgreSQL (8 processes, each an INSERT of a
200-byte event and a COMMIT, against the stack's server) and a bare HTTP handler (8 clients
against a handler that answers 200 with a small JSON body, served as the services are served:
eventlet's WSGI server).

    .venv/bin/python bench/compare_revisions.py BEFORE [AFTER] [--rounds 3] [--stack alt]

AFTER is HEAD unless named. Both checkouts run with this checkout's .venv and node modules, and
are measured by this checkout's benchmarks.
Only one stack runs at a time, so nothing else of Peerlink competes for the machine; the stack
named must not be running when this starts. Prints every run's figures and, per revision, the
median and the range of commands/s and of p50 latency.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.referrals_http import percentile, run_clients  # noqa: E402
from bench.scratch import NOTE, scratch_database  # noqa: E402

PYTHON = ROOT / ".venv" / "bin" / "python"
BENCHES = ("referrals_http", "sessions_http")
# what a checkout needs besides its tracked files, lent from this one
LENT = (".venv", "deploy/idp/node_modules", "services/web/assets/node_modules")
FIGURES = re.compile(r"all commands:\s+([\d.]+) commands/s\s+p50\s+([\d.]+) ms\s+p99\s+([\d.]+) ms")


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def checkout(revision: str) -> tuple[str, Path]:
    sha = git("rev-parse", "--verify", f"{revision}^{{commit}}")
    tree = ROOT / "run" / "revisions" / sha[:12]
    if not tree.exists():
        tree.parent.mkdir(parents=True, exist_ok=True)
        git("worktree", "add", "--detach", str(tree), sha)
    for name in LENT:
        source, target = ROOT / name, tree / name
        if source.exists() and not target.exists():
            target.symlink_to(source.resolve())
    # both measured by this checkout's benchmarks, whatever the revision's own say
    for script in BENCHES:
        shutil.copyfile(ROOT / "bench" / f"{script}.py", tree / "bench" / f"{script}.py")
    return sha[:12], tree


def stack(tree: Path, verb: str, name: str) -> None:
    command = [str(PYTHON), "deploy/stack.py", verb, "--stack", name]
    if verb == "up":
        command.append("--no-demo")
    subprocess.run(
        command,
        cwd=tree,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(tree)},
    )


def settle(seconds: float) -> None:
    """Let what the last stack wrote reach the disk before the next figure: every command
    waits for its commit to be flushed, so a disk still writing back another run's pages
    slows whichever run comes second."""
    subprocess.run(["sync"], check=True)
    time.sleep(seconds)


def bench(tree: Path, script: str, name: str, seconds: float) -> tuple[float, float, float, str]:
    out = subprocess.run(
        [str(PYTHON), f"bench/{script}.py", "--seconds", str(seconds)],
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PEERLINK_STACK": name, "PYTHONPATH": str(tree)},
    ).stdout
    found = FIGURES.search(out)
    if not found:
        raise SystemExit(f"bench/{script}.py printed no figures:\n{out}")
    rate, p50, p99 = (float(value) for value in found.groups())
    return rate, p50, p99, out


# -- the floors --------------------------------------------------------------------------------


def _raw_writer(dsn: str, seconds: float, start) -> list[float]:
    conn = psycopg2.connect(dsn)
    body = json.dumps({"by": 1, "note": NOTE})
    latencies = []
    start.wait()
    deadline = time.monotonic() + seconds
    with conn.cursor() as cur:
        while time.monotonic() < deadline:
            began = time.perf_counter()
            cur.execute("INSERT INTO raw (payload) VALUES (%s)", (body,))
            conn.commit()
            latencies.append(time.perf_counter() - began)
    conn.close()
    return latencies


def _bare_server(port: int, ready) -> None:
    import warnings

    warnings.simplefilter("ignore")  # eventlet's notice that it is in maintenance
    import eventlet
    from eventlet import wsgi

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status": "ok"}']

    sock = eventlet.listen(("127.0.0.1", port))
    ready.set()
    wsgi.server(sock, app, log_output=False)


def _bare_client(url: str, seconds: float, start) -> list[float]:
    session = requests.Session()
    latencies = []
    start.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        began = time.perf_counter()
        session.get(url, timeout=10).raise_for_status()
        latencies.append(time.perf_counter() - began)
    return latencies


def _clients(target, args_of, clients: int, seconds: float) -> tuple[float, float]:
    latencies, elapsed = run_clients(target, lambda _: (*args_of, seconds), clients)
    return len(latencies) / elapsed, percentile(latencies, 50) * 1000


def raw_postgres(tree: Path, name: str, clients: int, seconds: float) -> tuple[float, float]:
    state = json.loads((tree / "run" / name / "stack.json").read_text())
    with scratch_database(state["admin_dsn"]) as dsn:
        conn = psycopg2.connect(dsn)
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE raw (payload jsonb NOT NULL)")
        conn.commit()
        conn.close()
        return _clients(_raw_writer, (dsn,), clients, seconds)


def bare_handler(clients: int, seconds: float, port: int) -> tuple[float, float]:
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=_bare_server, args=(port, ready), daemon=True)
    server.start()
    ready.wait(10)
    try:
        return _clients(_bare_client, (f"http://127.0.0.1:{port}/",), clients, seconds)
    finally:
        server.terminate()
        server.join()


# -- the run -----------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):7.1f}  range {min(values):.1f}-{max(values):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("before")
    parser.add_argument("after", nargs="?", default="HEAD")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--stack", default="alt")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--bare-port", type=int, default=18999)
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds to wait after sync before measuring"
    )
    args = parser.parse_args()

    revisions = [checkout(args.before), checkout(args.after)]
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {os.cpu_count()} cores  stack {args.stack}")
    print(f"before {revisions[0][0]}  after {revisions[1][0]}")
    figures: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    floors: dict[str, list[tuple[float, float]]] = {"raw PostgreSQL": [], "bare handler": []}
    for round_ in range(args.rounds):
        order = revisions if round_ % 2 == 0 else revisions[::-1]
        for sha, tree in order:
            stack(tree, "up", args.stack)
            try:
                settle(args.settle)
                for script in BENCHES:
                    settle(2)
                    rate, p50, p99, _ = bench(tree, script, args.stack, args.seconds)
                    figures.setdefault((sha, script), []).append((rate, p50, p99))
                    print(
                        f"round {round_ + 1}  {sha}  {script:<15} {rate:7.1f} commands/s"
                        f"  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms",
                        flush=True,
                    )
                if sha == order[-1][0]:
                    # last in the round, so its writes do not fall on a revision's run
                    settle(args.settle)
                    floors["raw PostgreSQL"].append(
                        raw_postgres(tree, args.stack, args.clients, args.seconds)
                    )
            finally:
                stack(tree, "down", args.stack)
        floors["bare handler"].append(bare_handler(args.clients, args.seconds, args.bare_port))
        for floor, values in floors.items():
            rate, p50 = values[-1]
            print(f"round {round_ + 1}  floor: {floor:<14} {rate:7.1f} /s  p50 {p50:6.1f} ms")
    print()
    for script in BENCHES:
        for (sha, _), label in zip(revisions, ("before", "after"), strict=True):
            values = figures[(sha, script)]
            print(
                f"{script:<15} {label:<6} {sha}  commands/s {spread([v[0] for v in values])}"
                f"   p50 ms {spread([v[1] for v in values])}"
            )
    for floor, values in floors.items():
        print(
            f"floor: {floor:<14}  per second {spread([v[0] for v in values])}"
            f"   p50 ms {spread([v[1] for v in values])}"
        )


if __name__ == "__main__":
    main()
