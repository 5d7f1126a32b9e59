"""The delivery worker of the hub, `python -m services.hub_worker`: applies every partner's
events to the hub's facts, checking that each came from the partner it names, and reads each
partner's event feed to heal gaps. This is where the hub's parts are put together.
"""

from __future__ import annotations

from services.reporting.freshness import SourceReads
from services.reporting.projections import CONSUMER_NAME, PROJECTIONS, QUEUE, SCHEMA
from shared.auth import MachineCredential, feed_tokens
from shared.config import Settings, broker_user, feed_urls
from shared.consumer import Consumer, HttpFeed, SenderCheck, run_catch_up, run_queue
from shared.worker import HUB_MAX_AHEAD, Worker, run


class HubWorker(Worker):
    def __init__(self, settings: Settings):
        super().__init__("hub", settings)

    def start(self) -> None:

        urls = feed_urls(self.settings.endpoints())
        feed = HttpFeed(urls, feed_tokens(MachineCredential.from_environment()))
        # a message counts only if the partner it names sent it, from one of its own sources,
        # at a position its feed holds (checked against the feed when far ahead)
        consumer = Consumer(
            CONSUMER_NAME,
            self.db,
            SCHEMA,
            PROJECTIONS,
            feed,
            sender_check=SenderCheck(urls, broker_user),
            max_ahead=HUB_MAX_AHEAD,
        )
        self.consumers.append(consumer)
        self._thread(
            "hub-consumer",
            run_queue,
            consumer,
            self.settings.amqp_url,
            QUEUE,
            self.stop,
            watch=consumer.database,
        )
        self._thread(
            "hub-catch-up",
            run_catch_up,
            consumer,
            sorted(urls),
            self.stop,
            5.0,
            # when each source was last read to its end: what "complete up to" is told from
            SourceReads(self.db).read_to_end,
            watch=consumer.database,
        )


def main() -> None:
    run(HubWorker(Settings.from_environment("worker")))
