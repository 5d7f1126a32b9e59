"""The Grafana dashboard and the alert rules against the running alliance: every metric they
name is exported by a live process's /metrics, and carries samples once traffic has used it."""

from __future__ import annotations

import re

import pytest
import requests

from tests.conftest import wait_for
from tests.e2e.test_operations import post_referral
from tests.unit.test_monitoring import (
    PROMETHEUS_ONLY,
    SUFFIXES,
    dashboard_expressions,
    metric_names,
    recorded_names,
    rule_expressions,
)

pytestmark = pytest.mark.e2e

TIMEOUT = 10
TYPE_LINE = re.compile(r"^# TYPE (\S+) (\w+)$", re.MULTILINE)
SAMPLE_LINE = re.compile(r"^([A-Za-z_:][\w:]*)[{ ]", re.MULTILINE)
# counted only when something goes wrong or a rare thing happens (a dead letter, a break-glass
# opening, a safeguarding deadline missed and its e-mail, a failed publish, a healed gap, a
# redelivery): a running process declares them, with no samples until then
RARE = {
    "peerlink_dead_letters_total",
    "peerlink_break_glass_total",
    "peerlink_escalations_total",
    "peerlink_notifications_total",
    "peerlink_relay_failures_total",
    "peerlink_consumer_gaps_total",
    "peerlink_consumer_duplicates_total",
    # set only when a consumer applies an event one at a time (a redelivery, a gap, a failing
    # batch); the batch path that carries ordinary traffic leaves it unset
    "peerlink_consumer_lag_events",
}


def every_process(endpoints) -> dict[str, str]:
    processes = {f"alliance/{name}": url for name, url in endpoints["hub"].items()}
    for partner, node in endpoints["partners"].items():
        processes |= {f"{partner}/{name}": url for name, url in node.items()}
    return processes


def scrape(url: str, headers: dict) -> tuple[set[str], set[str]]:
    """(series names the process declares, series names it has samples for)."""
    response = requests.get(f"{url}/metrics", headers=headers, timeout=TIMEOUT)
    assert response.status_code == 200, (url, response.status_code)
    declared = set()
    for family, kind in TYPE_LINE.findall(response.text):
        # the text format names a counter's family with its _total already
        family = family.removesuffix("_total") if kind == "counter" else family
        declared |= {family + suffix for suffix in SUFFIXES.get(kind, ("",))}
    sampled = set(SAMPLE_LINE.findall(response.text))
    return declared, sampled


def applied_by_hub(endpoints, headers) -> float:
    response = requests.get(f"{endpoints['hub']['worker']}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return sum(
        float(value)
        for value in re.findall(
            r"^peerlink_consumer_applied_total\{[^}]*\} (\S+)$", response.text, re.M
        )
    )


def test_every_metric_the_dashboard_and_rules_name_is_exported_by_the_running_alliance(
    endpoints, auth
):
    headers = auth("operator", "alliance")
    # a labelled series appears once used: send one referral through service, relay and hub
    before = applied_by_hub(endpoints, headers)
    post_referral(endpoints, auth, "leeds-mind")
    wait_for(
        lambda: applied_by_hub(endpoints, headers) > before,
        message="the hub to apply the referral's event",
    )

    declared, sampled = set(), set()
    processes = every_process(endpoints)
    assert len(processes) == 2 + 4 * len(endpoints["partners"])
    for url in processes.values():
        process_declared, process_sampled = scrape(url, headers)
        declared |= process_declared
        sampled |= process_sampled

    named = set().union(*map(metric_names, dashboard_expressions() + rule_expressions()))
    exported = named - PROMETHEUS_ONLY - recorded_names()
    assert "peerlink_relay_lag_seconds" in exported
    assert exported - declared == set(), "named by a query, exported by no process"
    assert exported - RARE - sampled == set(), "named by a query, no samples after traffic"
    assert declared >= RARE
