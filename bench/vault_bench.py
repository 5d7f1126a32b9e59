"""People vault figures over 10,000 registered people: the cost of opening one person's
identifiers (with a cold and a warm key cache), a full read, and NHS-number lookup p50/p99.

    PEERLINK_BENCH_DSN=postgresql://... .venv/bin/python bench/vault_bench.py [--people 10000]

Works in a schema of its own (vault_bench_<random>) in that database and drops it at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.vault import (  # noqa: E402
    MasterKeys,
    Sealed,
    Vault,
    generate_master_key,
    validate_nhs_number,
    vault_ddl,
)

BATCH = 500
FIRST = ["Amira", "José", "Siobhán", "Kwame", "Zoë", "Tomasz", "Priya", "Callum", "Aisha", "Li"]
LAST = ["Khan", "Smith", "O'Neill", "Mensah", "Brontë", "Nowak", "Patel", "Reid", "Begum", "Wu"]


def nhs_numbers(count: int, rng: random.Random) -> list[str]:
    found: list[str] = []
    while len(found) < count:
        prefix = f"{rng.randrange(400_000_000, 999_999_999):09d}"
        for last in "0123456789":
            try:
                found.append(validate_nhs_number(prefix + last))
                break
            except ValueError:
                continue
    return found


def person(nhs_number: str, rng: random.Random) -> dict[str, str]:
    return {
        "full_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "date_of_birth": f"{rng.randrange(1940, 2006)}-{rng.randrange(1, 13):02d}-"
        f"{rng.randrange(1, 29):02d}",
        "nhs_number": nhs_number,
        "address": f"{rng.randrange(1, 200)} Cardigan Road, Leeds",
        "postcode": f"LS{rng.randrange(1, 29)} {rng.randrange(1, 10)}AG",
        "phone": f"07700 9{rng.randrange(0, 100_000):05d}",
        "email": f"person{rng.randrange(10**6)}@example.org",
    }


def percentile(samples: list[float], p: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


def micros(seconds: float) -> str:
    return f"{seconds * 1e6:8.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=2_000, help="reads and lookups timed")
    args = parser.parse_args()
    dsn = os.environ.get("PEERLINK_BENCH_DSN")
    if not dsn:
        sys.exit("set PEERLINK_BENCH_DSN to a PostgreSQL database the bench may write to")

    rng = random.Random(20240307)
    schema = f"vault_bench_{uuid.uuid4().hex[:8]}"
    keys = MasterKeys.from_text(generate_master_key(), "leeds-mind")
    conn = psycopg2.connect(dsn, application_name="vault_bench")
    try:
        with conn, conn.cursor() as cur:
            cur.execute(vault_ddl(schema))

        people = [(uuid.uuid4(), person(nhs, rng)) for nhs in nhs_numbers(args.people, rng)]
        writer = Vault(schema, keys)
        started = time.perf_counter()
        for start in range(0, len(people), BATCH):
            with conn, conn.cursor() as cur:
                for person_id, identifiers in people[start : start + BATCH]:
                    writer.register(cur, person_id, identifiers)
        elapsed = time.perf_counter() - started
        print(f"registered {len(people)} people in {elapsed:.1f} s ({len(people) / elapsed:.0f}/s)")
        with conn, conn.cursor() as cur:
            cur.execute("ANALYZE")

        sample = rng.sample(people, min(args.samples, len(people)))
        ids = [person_id for person_id, _ in sample]
        with conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT k.person_id, k.wrapped_key, i.version, i.nonce, i.ciphertext "
                f"FROM {schema}.person_keys k JOIN {schema}.person_identifiers i USING (person_id) "
                "WHERE k.person_id = ANY(%s)",
                (ids,),
            )
            rows = [(pid, bytes(w), v, Sealed(bytes(n), bytes(c))) for pid, w, v, n, c in cur]

        # cold: unwrap the person key, then open; warm: the key is already unwrapped
        started = time.perf_counter()
        opened = [(keys.unwrap(pid, w), v, s) for pid, w, v, s in rows]
        for key, version, sealed in opened:
            key.open_identifiers(version, sealed)
        cold = (time.perf_counter() - started) / len(rows)
        started = time.perf_counter()
        for key, version, sealed in opened:
            key.open_identifiers(version, sealed)
        warm = (time.perf_counter() - started) / len(rows)
        print(f"decrypt per person, key unwrapped too {micros(cold)}")
        print(f"decrypt per person, key cached       {micros(warm)}")

        reader = Vault(schema, keys)
        with conn, conn.cursor() as cur:
            for person_id in ids:
                reader.read(cur, person_id)
            reads = []
            for person_id in ids:
                started = time.perf_counter()
                reader.read(cur, person_id)
                reads.append(time.perf_counter() - started)
            print(
                f"read (query + decrypt, warm cache)   {micros(statistics.mean(reads))} mean, "
                f"p50 {micros(percentile(reads, 50))}, p99 {micros(percentile(reads, 99))}"
            )

            lookups = []
            for _, identifiers in sample:
                spaced = identifiers["nhs_number"]
                spaced = f"{spaced[:3]} {spaced[3:6]} {spaced[6:]}"
                started = time.perf_counter()
                found = reader.find_by_nhs_number(cur, spaced)
                lookups.append(time.perf_counter() - started)
                assert found, "every registered NHS number must be found"
            print(
                f"NHS-number lookup over {len(people)} people: "
                f"p50 {micros(percentile(lookups, 50))}, p99 {micros(percentile(lookups, 99))}"
            )
    finally:
        conn.rollback()
        with conn, conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.close()


if __name__ == "__main__":
    main()
