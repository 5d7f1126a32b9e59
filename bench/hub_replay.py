"""The hub: how fast its projections replay, and how soon a command on a partner node shows in
them.

    PEERLINK_STACK=dev .venv/bin/python bench/hub_replay.py [--events 1000000] [--skip-live]

1. Replay. A scratch database gets a partner store of generated events shaped like real ones
   (referrals received, sessions held, attendance, SWEMWBS, signposting, in those proportions),
   made inside PostgreSQL (timed, not measured), and the hub's tables; then the hub's
   projections are rebuilt from that store through read_after, as a rebuild from a feed does,
   and the events/s printed beside a raw read of the same pages.
2. Delay. Against the running alliance: referrals posted to leeds-mind at a steady 50 per
   second; for each, the time from its 201 to its fact at the hub (found by leeds-mind's
   pseudonym for it, polled every 20 ms), p50/p99.
"""

from __future__ import annotations

import io
import queue
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg2
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.referrals_http import percentile  # noqa: E402
from bench.scratch import ROOT, admin_dsn, arguments, scratch_database, stack_state  # noqa: E402
from contracts.hub import Pseudonyms  # noqa: E402
from contracts.referrals.events import registry as referrals  # noqa: E402
from contracts.safeguarding.events import registry as safeguarding  # noqa: E402
from contracts.sessions.events import registry as sessions  # noqa: E402
from deploy.migrations import migrate_hub  # noqa: E402
from deploy.signin import Tokens  # noqa: E402
from services.reporting.rebuild import rebuild  # noqa: E402
from shared.consumer import StoreFeed  # noqa: E402
from shared.db import Database  # noqa: E402
from shared.eventstore import _COLUMNS, PostgresEventStore  # noqa: E402

SCHEMA = "partner"

# one in ten events a referral, two a session held, five attendance, one a measure, one a
# signposting; streams and people cycle so the tables look like a partner's
GENERATE = f"""
INSERT INTO {SCHEMA}.events (
    position, xid, event_id, stream_type, stream_id, version, event_type, schema_version,
    partner_id, occurred_at, recorded_at, actor_id, actor_role, correlation_id, causation_id,
    payload)
SELECT g, pg_current_xact_id(), gen_random_uuid(),
    (ARRAY['referral','session','session','session','session','session','session',
           'person_measures','signposting','session'])[g %% 10 + 1],
    'stream-' || g, 1,
    (ARRAY['ReferralReceived','SessionRecorded','SessionRecorded','AttendanceRecorded',
           'AttendanceRecorded','AttendanceRecorded','AttendanceRecorded','MeasureRecorded',
           'SignpostingRecorded','AttendanceRecorded'])[g %% 10 + 1],
    1, 'bench-partner', now(), now(), 'bench', 'peer_worker', gen_random_uuid(), NULL,
    CASE g %% 10
      WHEN 0 THEN jsonb_build_object('person_id', md5((g / 10)::text)::uuid, 'source', 'gp',
        'source_group', 'primary_care', 'received_on', (current_date - (g %% 365))::text,
        'urgency', 'routine', 'needs', jsonb_build_array('isolation'),
        'risk_level', 'low', 'is_carer_referral', false)
      WHEN 1 THEN jsonb_build_object('kind', 'one_to_one', 'mode', 'phone',
        'medium_code', '02', 'location', 'remote', 'group_id', NULL,
        'referral_id', 'r-' || (g / 10), 'person_id', md5((g / 10)::text)::uuid,
        'actual_start_at', (now() - ((g %% 365) || ' days')::interval)::text,
        'duration_minutes', 45, 'worker_ids', jsonb_build_array('w1'))
      WHEN 2 THEN jsonb_build_object('kind', 'group', 'mode', 'community_venue',
        'medium_code', '01', 'location', 'community_venue', 'group_id', 'g-' || (g %% 50),
        'referral_id', NULL, 'person_id', NULL,
        'actual_start_at', (now() - ((g %% 365) || ' days')::interval)::text,
        'duration_minutes', 120, 'worker_ids', jsonb_build_array('w2'))
      WHEN 7 THEN jsonb_build_object('person_id', md5((g / 10)::text)::uuid,
        'measure', 'swemwbs', 'snomed_ct', '718466001', 'timepoint', 'review',
        'taken_on', (current_date - (g %% 365))::text, 'raw_score', 21,
        'metric_score', 19.25, 'referral_id', NULL, 'answers', '{{}}'::jsonb)
      WHEN 8 THEN jsonb_build_object('person_id', md5((g / 10)::text)::uuid,
        'destination', 'housing', 'signposted_on', (current_date - (g %% 365))::text,
        'referral_id', NULL, 'session_id', NULL)
      ELSE jsonb_build_object('person_id', md5((g / 10)::text)::uuid,
        'status', CASE WHEN g %% 7 = 0 THEN 'did_not_attend' ELSE 'attended' END,
        'attendance_code', CASE WHEN g %% 7 = 0 THEN '3' ELSE '5' END)
    END
FROM generate_series(%(first)s, %(last)s) AS g
"""


def generate(dsn: str, events: int, chunk: int = 100_000) -> float:
    started = time.perf_counter()
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute(PostgresEventStore.ddl(SCHEMA))
        for first in range(1, events + 1, chunk):
            cur.execute(GENERATE, {"first": first, "last": min(first + chunk - 1, events)})
            conn.commit()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"VACUUM (ANALYZE) {SCHEMA}.events")
    conn.close()
    return time.perf_counter() - started


def raw_read(dsn: str, page: int) -> float:
    conn = psycopg2.connect(dsn)
    started, after = time.perf_counter(), 0
    with conn.cursor() as cur:
        while True:
            cur.execute(
                f"SELECT {_COLUMNS} FROM {SCHEMA}.events WHERE position > %s"
                " ORDER BY position LIMIT %s",
                (after, page),
            )
            rows = cur.fetchall()
            if not rows:
                break
            after = rows[-1][0]
    conn.close()
    return time.perf_counter() - started


def replay(args) -> None:
    with scratch_database(admin_dsn(args)) as dsn:
        took = generate(dsn, args.events)
        print(f"generated {args.events:,} partner events in {took:.1f} s (not measured)")
        migrate_hub(dsn, app_role="PUBLIC")
        raw = raw_read(dsn, args.page)
        print(f"raw read of the same pages      {args.events / raw:>10,.0f} events/s")
        db = Database(dsn, maxconn=2)
        store = PostgresEventStore(db, SCHEMA, referrals.merged(sessions, safeguarding))
        try:
            rate = rebuild(
                db,
                StoreFeed({"bench/partner": store}),
                ["bench/partner"],
                out=io.StringIO(),
                page_size=args.page,
            )
            with db.transaction() as cur:
                cur.execute("SELECT count(*) FROM reporting.facts")
                facts = cur.fetchone()[0]
        finally:
            db.close()
        print(f"hub projections rebuilt         {rate:>10,.0f} events/s  ({facts:,} facts kept)")


def live_delay(args) -> None:
    state = stack_state()
    tokens = Tokens(state)
    base = state["endpoints"]["partners"]["leeds-mind"]["referrals"]
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + tokens.token(
        "team_lead", "leeds-mind", "bench-lead"
    )
    person = session.post(
        base + "/people",
        json={"full_name": f"Bench Person {uuid.uuid4().hex[:8]}", "date_of_birth": "1980-01-01"},
        timeout=10,
    )
    person.raise_for_status()
    # the hub holds no moment of an event: each referral is found there by leeds-mind's
    # pseudonym for it, polled while they are sent
    key = ROOT / "run" / state["stack"] / "secrets" / "hub-pseudonyms.leeds-mind.key"
    pseudonyms = Pseudonyms(key.read_text().strip().encode())
    answered: queue.Queue = queue.Queue()
    delays: list[float] = []
    sending = threading.Event()
    sending.set()
    poller = threading.Thread(
        target=_poll_hub, args=(state, answered, delays, sending), daemon=True
    )
    poller.start()
    interval = 1 / args.rate
    started = time.perf_counter()
    count = int(args.rate * args.seconds)
    for n in range(count):
        due = started + n * interval
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        response = session.post(
            base + "/referrals",
            json={
                "person_id": person.json()["person_id"],
                "source": "self",
                "received_on": time.strftime("%Y-%m-%d"),
            },
            timeout=10,
        )
        response.raise_for_status()
        answered.put(
            (pseudonyms.stream("referral", response.json()["referral_id"]), time.perf_counter())
        )
    sent = time.perf_counter() - started
    sending.clear()
    poller.join(timeout=90)
    print(
        f"{count} referrals at {count / sent:.1f}/s: {len(delays)} reached the hub;"
        f" delay p50 {percentile(delays, 50) * 1000:.0f} ms, p99"
        f" {percentile(delays, 99) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms"
    )


def _poll_hub(state, answered: queue.Queue, delays: list, sending: threading.Event) -> None:
    """Until every referral answered is at the hub (or 60 s after the last was sent)."""
    conn = psycopg2.connect(state["owner_dsn"]["peerlink_hub"])
    conn.autocommit = True
    deadline = None
    pending: dict[str, float] = {}
    try:
        with conn.cursor() as cur:
            while True:
                while not answered.empty():
                    found, at = answered.get()
                    pending[found] = at
                if pending:
                    cur.execute(
                        "SELECT stream_id FROM reporting.facts WHERE partner_id = 'leeds-mind'"
                        " AND stream_type = 'referral' AND version = 1 AND stream_id = ANY(%s)",
                        (list(pending),),
                    )
                    now = time.perf_counter()
                    for (found,) in cur.fetchall():
                        delays.append(now - pending.pop(found))
                if not sending.is_set() and answered.empty():
                    deadline = deadline or time.monotonic() + 60
                    if not pending or time.monotonic() > deadline:
                        return
                time.sleep(0.02)
    finally:
        conn.close()


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--skip-replay", action="store_true")
    args = parser.parse_args()
    if not args.skip_replay:
        replay(args)
    if not args.skip_live:
        live_delay(args)


if __name__ == "__main__":
    main()
