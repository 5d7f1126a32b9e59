"""Every Prometheus metric Peerlink exports, named `peerlink_<what>_<unit>`; labels never carry a
person or record id."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

EVENTS_APPENDED = Counter(
    "peerlink_events_appended_total", "Events appended to an event store", ["service"]
)
APPEND_SECONDS = Histogram(
    "peerlink_event_append_duration_seconds",
    "Time to append one batch of events, commit included",
    ["service"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
RELAY_PUBLISHED = Counter(
    "peerlink_relay_published_total", "Events published and confirmed by the broker", ["source"]
)
RELAY_LAG_EVENTS = Gauge(
    "peerlink_relay_lag_events", "Committed events not yet confirmed by the broker", ["source"]
)
RELAY_LAG_SECONDS = Gauge(
    "peerlink_relay_lag_seconds",
    "Age of the oldest committed event not yet confirmed by the broker",
    ["source"],
)
RELAY_FAILURES = Counter(
    "peerlink_relay_failures_total", "Publish attempts that failed and will be retried", ["source"]
)
CONSUMER_APPLIED = Counter(
    "peerlink_consumer_applied_total", "Events applied by a consumer", ["consumer"]
)
CONSUMER_DUPLICATES = Counter(
    "peerlink_consumer_duplicates_total", "Redelivered events dropped", ["consumer"]
)
CONSUMER_GAPS = Counter(
    "peerlink_consumer_gaps_total",
    "Missing events detected and read from the source's feed",
    ["consumer"],
)
CONSUMER_LAG_EVENTS = Gauge(
    "peerlink_consumer_lag_events",
    "Events a consumer has seen announced but not yet applied, per source",
    ["consumer", "source"],
)
CONSUMER_LAG_SECONDS = Gauge(
    "peerlink_consumer_lag_seconds",
    "Time from an event's commit to its application by the consumer (last event)",
    ["consumer"],
)
DEAD_LETTERS = Counter(
    "peerlink_dead_letters_total",
    "Events that failed repeatedly and were dead-lettered",
    ["consumer"],
)
REFUSED = Counter(
    "peerlink_consumer_refused_total",
    "Messages refused before they were applied (also counted as dead letters): sent by another"
    " broker user than the partner they name (sender), from a source not that partner's"
    " (source), or at a position the source's feed does not hold (position)",
    ["consumer", "reason"],
)
BREAK_GLASS = Counter(
    "peerlink_break_glass_total",
    "Records opened outside the normal scope by a safeguarding lead giving a reason",
    ["service"],
)
HTTP_REQUESTS = Counter(
    "peerlink_http_requests_total", "HTTP requests answered", ["service", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "peerlink_http_request_duration_seconds", "HTTP request duration", ["service", "route"]
)

NOTIFICATIONS = Counter(
    "peerlink_notifications_total",
    "Notification attempts by outcome (sent, failed, given_up, not_needed)",
    ["service", "kind", "outcome"],
)
NOTIFICATION_DELAY_SECONDS = Histogram(
    "peerlink_notification_delay_seconds",
    "Time from the event calling for a notification (a deadline passing) to the SMTP server"
    " accepting it",
    ["service", "kind"],
    buckets=(0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0),
)
ESCALATIONS = Counter(
    "peerlink_escalations_total",
    "Deadlines missed (step 0) and escalations recorded by the deadline timer",
    ["service", "deadline"],
)


DATABASE_UP = Gauge(
    "peerlink_database_up",
    "1 while a long-running part of a process (relay, consumer, timer) reaches its database,"
    " 0 during an outage",
    ["component"],
)
DATABASE_OUTAGES = Counter(
    "peerlink_database_outages_total",
    "Outages a long-running part of a process waited through (it lost its database)",
    ["component"],
)
DB_CONNECTIONS_DISCARDED = Counter(
    "peerlink_db_connections_discarded_total",
    "Pooled database connections found broken (or closed under their user) and dropped",
    ["pool"],
)
DATABASE_RETRIES = Counter(
    "peerlink_http_database_retries_total",
    "Requests run again on a fresh connection after theirs broke before anything was committed",
    ["service"],
)


def exposition() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
