"""Rebuild the hub's projections from nothing, from every partner's event feed, with a progress
bar and the events/s it reaches.

    PEERLINK_DATABASE_URL=... PEERLINK_ENDPOINTS_FILE=run/dev/endpoints.json \\
        python -m services.reporting.rebuild

Stop the hub worker first (`deploy/stack.py rebuild-hub` does: stop, rebuild, start), so that
nothing applies events to the tables while they are emptied and refilled. The published cut-offs
stay: each fact is counted again in the first cut-off at or after the moment it was recorded.
"""

from __future__ import annotations

import sys
import time

from services.reporting.facts import HubFacts
from services.reporting.projections import CONSUMER_NAME, PROJECTIONS, SCHEMA
from shared.auth import MachineCredential, feed_tokens
from shared.config import Settings, feed_urls
from shared.consumer import Consumer, HttpFeed
from shared.db import Database


class ProgressBar:
    def __init__(self, out=sys.stderr, width: int = 30):
        self.out = out
        self.width = width
        self.started = time.perf_counter()
        self.done = 0

    def __call__(self, source: str, total: int) -> None:
        self.done = total
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        spin = "#" * (total // 5000 % self.width + 1)
        self.out.write(
            f"\r{source:<26} [{spin:<{self.width}}] {total:>10,} events {total / elapsed:>9,.0f}/s"
        )
        self.out.flush()

    def finish(self) -> float:
        elapsed = time.perf_counter() - self.started
        rate = self.done / elapsed if elapsed else 0.0
        self.out.write(f"\nrebuilt from {self.done:,} events in {elapsed:.1f} s: {rate:,.0f}/s\n")
        self.out.flush()
        return rate


def rebuild(db: Database, feed, sources: list[str], out=sys.stderr, page_size: int = 5000):
    """Empty every hub projection and its checkpoints, replay every source; returns events/s."""
    consumer = Consumer(CONSUMER_NAME, db, SCHEMA, PROJECTIONS, feed, page_size=page_size)
    with db.transaction() as cur:
        # emptied first, outside the timing: TRUNCATE waits for any reader still holding them
        for projection in PROJECTIONS:
            projection.reset(cur)
    bar = ProgressBar(out)
    facts = [p for p in PROJECTIONS if isinstance(p, HubFacts)]
    for projection in facts:
        projection.restoring = True
    try:
        consumer.rebuild(sources, progress=bar)
    finally:
        for projection in facts:
            projection.restoring = False
    return bar.finish()


def main() -> None:
    settings = Settings.from_environment("reporting")
    urls = feed_urls(settings.endpoints())
    if not urls:
        raise SystemExit("no partner feeds known: set PEERLINK_ENDPOINTS_FILE")
    feed = HttpFeed(urls, feed_tokens(MachineCredential.from_environment()))
    db = Database(settings.database_url, maxconn=2, application_name="hub-rebuild")
    try:
        rebuild(db, feed, sorted(urls))
    finally:
        db.close()


if __name__ == "__main__":
    main()
