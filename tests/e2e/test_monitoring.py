"""The Grafana dashboard and the alert rules against the running alliance: every metric they
name is exported by a live process's /metrics, and carries samples once traffic has used it; and
Prometheus itself, with the scrape config made for this stack, scraping every process with the
tokens it gets from each side's provider."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from shared.config import hub_ports
from tests.conftest import wait_for
from tests.e2e.test_operations import post_referral
from tests.unit.test_monitoring import (
    MONITORING,
    PROMETHEUS_ONLY,
    SUFFIXES,
    dashboard_expressions,
    metric_names,
    recorded_names,
    rule_expressions,
)

pytestmark = pytest.mark.e2e

TIMEOUT = 10
# how long Prometheus may take to start, find its targets (it publishes them every 5 s), get
# its tokens and scrape each once
PROMETHEUS_SECONDS = 45
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


def every_process(endpoints) -> dict[str, tuple[str, str]]:
    """instance ("lslcs/worker") -> (whose process it is, its URL); the hub's are `alliance`'s."""
    processes = {f"alliance/{name}": ("alliance", url) for name, url in endpoints["hub"].items()}
    for partner, node in endpoints["partners"].items():
        processes |= {f"{partner}/{name}": (partner, url) for name, url in node.items()}
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
    # each side lets only its own provider's operators read its metrics
    hub_headers = auth("operator", "alliance")
    # a labelled series appears once used: send one referral through service, relay and hub
    before = applied_by_hub(endpoints, hub_headers)
    post_referral(endpoints, auth, "leeds-mind")
    wait_for(
        lambda: applied_by_hub(endpoints, hub_headers) > before,
        message="the hub to apply the referral's event",
    )

    declared, sampled = set(), set()
    processes = every_process(endpoints)
    assert len(processes) == 2 + 5 * len(endpoints["partners"])
    for owner, url in processes.values():
        process_declared, process_sampled = scrape(url, auth("operator", owner))
        declared |= process_declared
        sampled |= process_sampled

    named = set().union(*map(metric_names, dashboard_expressions() + rule_expressions()))
    exported = named - PROMETHEUS_ONLY - recorded_names()
    assert "peerlink_relay_lag_seconds" in exported
    assert exported - declared == set(), "named by a query, exported by no process"
    assert exported - RARE - sampled == set(), "named by a query, no samples after traffic"
    assert declared >= RARE


# -- Prometheus --------------------------------------------------------------------------------


def scrape_config_for(stack_state: dict) -> dict:
    """deploy/monitoring/prometheus.yml for this stack: its ports (the dev map + the stack's
    port base), its providers and its client secrets, scraping every 2 seconds."""
    endpoints = stack_state["endpoints"]
    base = urlsplit(endpoints["hub"]["reporting"]).port - hub_ports()["reporting"]
    processes = every_process(endpoints)
    issuers = stack_state["idp"]["issuers"]
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"] = {
        "scrape_interval": "2s",
        "scrape_timeout": "2s",
        "evaluation_interval": "2s",
    }
    for job in config["scrape_configs"]:
        (issuer,) = {group["labels"]["partner"] for group in job["static_configs"]}
        oauth2 = job["oauth2"]
        token_url = urlsplit(oauth2["token_url"])
        assert f"http://127.0.0.1:{token_url.port + base}" == issuers[issuer], job["job_name"]
        oauth2["token_url"] = f"{issuers[issuer]}{token_url.path}"
        assert Path(oauth2["client_secret_file"]).name == f"{issuer}.prometheus"
        oauth2["client_secret_file"] = stack_state["idp"]["client_secret_files"][issuer][
            "prometheus"
        ]
        for group in job["static_configs"]:
            (target,) = group["targets"]
            host, port = target.rsplit(":", 1)
            group["targets"] = [f"{host}:{int(port) + base}"]
            # the process the label names is the one this stack runs at that address
            _, url = processes[group["labels"]["instance"]]
            assert urlsplit(url).netloc == group["targets"][0], group["labels"]
    return config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_prometheus_scrapes_every_process_with_a_token_from_its_own_side(stack_state, tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: deploy/bootstrap installs it (Debian's prometheus)")
    config = scrape_config_for(stack_state)
    expected = {
        group["targets"][0]: group["labels"]
        for job in config["scrape_configs"]
        for group in job["static_configs"]
    }
    assert len(expected) == len(every_process(stack_state["endpoints"]))
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(MONITORING / "alerts.yml", tmp_path / "alerts.yml")
    address = f"127.0.0.1:{free_port()}"
    log = tmp_path / "prometheus.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address={address}",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        targets = scraped_targets(f"http://{address}", server, set(expected), log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    down = {
        target["scrapeUrl"]: target["lastError"] for target in targets if target["health"] != "up"
    }
    assert down == {}, "Prometheus could not scrape these"
    for target in targets:
        scraped = urlsplit(target["scrapeUrl"]).netloc
        assert target["labels"] == expected[scraped], scraped


def scraped_targets(url: str, server: subprocess.Popen, addresses: set[str], log: Path) -> list:
    """The active targets once every one is up, or as they stand when time is up."""
    deadline = time.monotonic() + PROMETHEUS_SECONDS
    targets = []
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"prometheus exited with {server.returncode}: {log.read_text()[-2000:]}")
        try:
            response = requests.get(f"{url}/api/v1/targets", timeout=2)
        except requests.ConnectionError:
            response = None  # not listening yet
        if response is not None and response.status_code == 200:
            targets = response.json()["data"]["activeTargets"]
            if len(targets) == len(addresses) and all(t["health"] == "up" for t in targets):
                break
        time.sleep(0.5)
    assert {urlsplit(target["scrapeUrl"]).netloc for target in targets} == addresses, targets
    return targets
