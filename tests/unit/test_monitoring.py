"""deploy/monitoring checked offline: the scrape config, rules and alert tests through promtool,
and every PromQL expression of the rules and the Grafana dashboard against the metrics that
shared/metrics.py defines."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from shared import metrics
from shared.auth import HUB_PARTNER as HUB
from shared.config import HUB_AUDIENCE, PARTNERS, hub_ports, node_audience, node_ports

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "peerlink.json"
PROMETHEUS_ONLY = {"up"}  # written by Prometheus for each scrape, not by a service

# the series a collector of each type exports (prometheus-client adds _total to a counter)
SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}
# PromQL words that look like names; function calls are told apart by their parenthesis
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
KEYWORDS |= {"and", "or", "unless", "atan2", "inf", "nan", "Inf", "NaN"}
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
NAME = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(\s*\()?")


def defined_series() -> set[str]:
    """Every series name shared/metrics.py makes a process export."""
    names = set()
    for collector in vars(metrics).values():
        if isinstance(collector, MetricWrapperBase):
            for family in collector.describe():
                names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
    return names


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression (or Grafana's label_values(...)) selects."""
    text = STRING.sub('""', expression)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = GROUPING.sub(" ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    text = re.sub(r"label_values\s*\((.*),\s*\w+\s*\)", r"\1", text)
    return {
        match.group(1)
        for match in NAME.finditer(text)
        if match.group(2) is None and match.group(1) not in KEYWORDS
    }


def rule_expressions() -> list[str]:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def recorded_names() -> set[str]:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    return {
        rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule
    }


def dashboard_expressions(path: Path = DASHBOARD) -> list[str]:
    """Every panel query and every variable query of a provisioned dashboard."""
    dashboard = json.loads(path.read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            expressions.append(query["query"] if isinstance(query, dict) else query)
    return expressions


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: deploy/bootstrap installs it (Debian's prometheus)")
    return subprocess.run([binary, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def load(name: str) -> dict:
    return yaml.safe_load((MONITORING / name).read_text())


# -- promtool ----------------------------------------------------------------------------------


def laid_out(tmp_path: Path) -> Path:
    """prometheus.yml with its rules in the same tree elsewhere, and the client secrets it names
    relative to itself where the dev stack keeps them; returns the config's path."""
    here = tmp_path / "deploy" / "monitoring"
    here.mkdir(parents=True)
    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(MONITORING / name, here / name)
    secrets = tmp_path / "run" / "dev" / "secrets" / "idp"
    secrets.mkdir(parents=True)
    for issuer in (*PARTNERS, HUB):
        (secrets / f"{issuer}.prometheus").write_text("a-client-secret\n")
    return here / "prometheus.yml"


def discovered(config: Path) -> dict[str, dict[str, str]]:
    """Each target's labels once Prometheus has made them (promtool's service discovery and
    relabelling, as the server does), by target address."""
    jobs = [job["job_name"] for job in yaml.safe_load(config.read_text())["scrape_configs"]]
    # static targets are there at once; promtool waits out its timeout for more, in parallel
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = pool.map(
            lambda job: promtool("check", "service-discovery", "--timeout=1s", str(config), job),
            jobs,
        )
    targets = {}
    for result in results:
        assert result.returncode == 0, result.stdout + result.stderr
        for target in json.loads(result.stdout):
            labels = target["labels"]
            targets[labels["__address__"]] = {
                name: value for name, value in labels.items() if not name.startswith("__")
            }
    return targets


def test_promtool_accepts_the_scrape_config_with_its_client_secrets_where_it_says(tmp_path):
    config = laid_out(tmp_path)
    result = promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    # promtool does not look for an oauth2 secret file: each is where the dev stack keeps it
    for job in load("prometheus.yml")["scrape_configs"]:
        secret = (config.parent / job["oauth2"]["client_secret_file"]).resolve()
        assert secret.is_file(), job["job_name"]
        assert secret.parent == (tmp_path / "run" / "dev" / "secrets" / "idp").resolve()


def test_each_target_keeps_its_own_job_label_and_not_its_job_name(tmp_path):
    targets = discovered(laid_out(tmp_path))
    for job in load("prometheus.yml")["scrape_configs"]:
        for group in job["static_configs"]:
            (target,) = group["targets"]
            assert targets[target] == group["labels"], target
    # the values the alerts and the dashboard select `up` by, and no other
    assert {labels["job"] for labels in targets.values()} == watched_jobs("PeerlinkProcessDown")
    assert {
        labels["job"] for labels in targets.values() if labels["partner"] != HUB
    } == watched_jobs("PeerlinkNodeUnreachable")
    for expression in dashboard_expressions():
        for jobs in re.findall(r'up\{job=~"([^"]+)"', expression):
            assert set(jobs.split("|")) == watched_jobs("PeerlinkProcessDown"), expression


def watched_jobs(alert: str) -> set[str]:
    (rule,) = [
        rule
        for group in load("alerts.yml")["groups"]
        for rule in group["rules"]
        if rule.get("alert") == alert
    ]
    (jobs,) = re.findall(r'up\{job=~"([^"]+)"\}', rule["expr"])
    return set(jobs.split("|"))


def test_promtool_accepts_the_compose_scrape_config_with_its_client_secrets_where_it_says(
    tmp_path,
):
    config = (MONITORING / "prometheus.compose.yml").read_text()
    named = set(re.findall(r"/run/secrets/(\w+)", config))
    assert named == {"peerlink_prometheus_leeds_mind", "peerlink_prometheus_alliance"}
    for secret in named:
        (tmp_path / secret).write_text("a-client-secret\n")
        config = config.replace(f"/run/secrets/{secret}", str(tmp_path / secret))
    (tmp_path / "prometheus.yml").write_text(config)
    shutil.copy(MONITORING / "alerts.yml", tmp_path / "alerts.yml")
    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    targets = discovered(tmp_path / "prometheus.yml")
    assert {labels["job"] for labels in targets.values()} <= watched_jobs("PeerlinkProcessDown")


def compose_services() -> set[str]:
    return set(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"])


def test_the_compose_scrape_config_scrapes_the_compose_processes_as_the_local_one_does():
    # every process of the node and the hub that the compose file runs (a compose service is
    # named as its job label), with the same labels and credentials as the local config
    services = compose_services()
    local = {
        (job["job_name"], tuple(sorted(group["labels"].items())))
        for job in load("prometheus.yml")["scrape_configs"]
        for group in job["static_configs"]
        if group["labels"]["partner"] in ("leeds-mind", HUB) and group["labels"]["job"] in services
    }
    config = load("prometheus.compose.yml")
    assert config["rule_files"] == ["alerts.yml"]
    assert config["global"] == load("prometheus.yml")["global"]
    local_oauth2 = {
        job["job_name"]: job["oauth2"] for job in load("prometheus.yml")["scrape_configs"]
    }
    composed, targets, token_urls = set(), {}, set()
    for job in config["scrape_configs"]:
        oauth2, expected = job["oauth2"], local_oauth2[job["job_name"]]
        assert oauth2["client_id"] == expected["client_id"], job["job_name"]
        assert oauth2["endpoint_params"] == expected["endpoint_params"], job["job_name"]
        # the deployment's own provider of that side: one token endpoint each
        token_url = urlsplit(oauth2["token_url"])
        assert token_url.scheme == "https" and token_url.netloc, job["job_name"]
        token_urls.add(oauth2["token_url"])
        assert oauth2["client_secret_file"].startswith("/run/secrets/"), job["job_name"]
        assert "client_secret" not in oauth2, "a secret is never written here"
        for group in job["static_configs"]:
            (target,) = group["targets"]
            composed.add((job["job_name"], tuple(sorted(group["labels"].items()))))
            targets[group["labels"]["job"]] = target
    assert composed == local
    assert len(token_urls) == len(config["scrape_configs"]) == 2
    node, hub = node_ports(0), hub_ports()
    expected = {
        "referrals": f"referrals:{node['referrals']}",
        "sessions": f"sessions:{node['sessions']}",
        "safeguarding": f"safeguarding:{node['safeguarding']}",
        "web": f"web:{node['web']}",
        "node-worker": f"node-worker:{node['worker']}",
        "reporting": f"reporting:{hub['reporting']}",
        "hub-worker": f"hub-worker:{hub['worker']}",
    }
    assert targets == {job: target for job, target in expected.items() if job in services}
    assert set(expected) - {"web"} <= set(targets), "the compose file runs these"


def test_promtool_accepts_the_rules():
    result = promtool("check", "rules", str(MONITORING / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_unit_tests_pass():
    result = promtool("test", "rules", "alerts_test.yml", cwd=MONITORING)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_unit_tests_fail_when_an_alert_is_broken(tmp_path):
    rules = (MONITORING / "alerts.yml").read_text()
    broken = rules.replace("peerlink_relay_lag_seconds) > 60", "peerlink_relay_lag_seconds) > 600")
    assert broken != rules
    (tmp_path / "alerts.yml").write_text(broken)
    shutil.copy(MONITORING / "alerts_test.yml", tmp_path / "alerts_test.yml")
    result = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "PeerlinkRelayLagging" in result.stdout + result.stderr


def test_every_dashboard_query_is_valid_promql(tmp_path):
    # promtool parses rule expressions: give it each query, with Grafana's variables filled in
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{index}", "expr": expression}
                    for index, expression in enumerate(
                        grafana_filled(expr) for expr in dashboard_expressions()
                    )
                ],
            }
        ]
    }
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(rules))
    result = promtool("check", "rules", str(tmp_path / "dashboard.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(rules["groups"][0]["rules"]) >= 15


def grafana_filled(expression: str) -> str:
    expression = expression.replace("$__rate_interval", "1m").replace("$__range", "1h")
    # a variable's label_values(selector, label) is Grafana's; its selector is PromQL
    expression = re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", expression)
    return re.sub(r"\$\{?\w+\}?", ".*", expression)


# -- metric names ------------------------------------------------------------------------------


def test_every_rule_and_dashboard_query_names_only_metrics_peerlink_defines():
    known = defined_series() | recorded_names() | PROMETHEUS_ONLY
    expressions = rule_expressions() + dashboard_expressions()
    unknown = {
        (name, expression)
        for expression in expressions
        for name in metric_names(expression)
        if name not in known
    }
    assert unknown == set()
    named = set().union(*(metric_names(expression) for expression in expressions))
    assert {"peerlink_relay_lag_seconds", "peerlink_dead_letters_total", "up"} <= named


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ('sum by (service) (rate(peerlink_events_appended_total{partner=~"$p"}[5m]))', None),
        (
            "histogram_quantile(0.99, sum by (le) (rate(x_seconds_bucket[1m])))",
            {"x_seconds_bucket"},
        ),
        ('max by (source) (a) > 60 and on (source) b{route="/x{y}"} offset 5m', {"a", "b"}),
        ("label_values(up, partner)", {"up"}),
        ("1e3 * rate(c_total[$__rate_interval]) > bool 2", {"c_total"}),
    ],
)
def test_metric_names_are_read_from_expressions(expression, names):
    expected = {"peerlink_events_appended_total"} if names is None else names
    assert metric_names(expression) == expected


def test_a_name_peerlink_does_not_export_is_caught():
    known = defined_series()
    assert "peerlink_events_appended_total" in known
    assert "peerlink_event_append_duration_seconds_bucket" in known
    assert "peerlink_relay_lag_seconds" in known
    # a counter is exported with _total, a histogram only as its series
    assert "peerlink_events_appended" not in known
    assert "peerlink_event_append_duration_seconds" not in known
    assert "peerlink_relay_lag_seconds_total" not in known


# -- what the files cover ----------------------------------------------------------------------


def test_the_scrape_config_reaches_every_process_of_the_port_map_with_named_labels():
    config = load("prometheus.yml")
    assert config["rule_files"] == ["alerts.yml"]
    scraped, credentials = {}, {}
    for job in config["scrape_configs"]:
        assert "authorization" not in job, "a token is never written here, nor kept in a file"
        for group in job["static_configs"]:
            (target,) = group["targets"]
            labels = group["labels"]
            assert "service" not in labels, "it would rename the services' own service label"
            process = labels["instance"].removeprefix(labels["partner"] + "/")
            scraped[target] = (labels["job"], labels["partner"], process)
            credentials[target] = job["oauth2"]
    names = [job["job_name"] for job in config["scrape_configs"]]
    assert len(names) == len(set(names))
    expected, wanted = {}, {}
    for index, partner in enumerate(PARTNERS):
        ports = node_ports(index)
        for process, port in ports.items():
            if process == "idp":  # the identity provider: no Peerlink process, no /metrics
                continue
            job = "node-worker" if process == "worker" else process
            expected[f"127.0.0.1:{port}"] = (job, partner, process)
            wanted[f"127.0.0.1:{port}"] = (partner, ports["idp"], node_audience(partner))
    ports = hub_ports()
    for process, port in ports.items():
        if process == "idp":
            continue
        job = "hub-worker" if process == "worker" else process
        expected[f"127.0.0.1:{port}"] = (job, HUB, process)
        wanted[f"127.0.0.1:{port}"] = (HUB, ports["idp"], HUB_AUDIENCE)
    assert scraped == expected
    assert {process for _, _, process in scraped.values()} >= {"web", "worker", "reporting"}
    # each target with an operator token from its own side's provider, for its own audience
    for target, (issuer, idp_port, audience) in wanted.items():
        oauth2 = credentials[target]
        assert oauth2["client_id"] == "prometheus", target
        assert oauth2["token_url"] == f"http://127.0.0.1:{idp_port}/token", target
        assert oauth2["endpoint_params"] == {"resource": audience}, target
        assert oauth2["client_secret_file"] == (f"../../run/dev/secrets/idp/{issuer}.prometheus"), (
            target
        )
        assert set(oauth2) == {"client_id", "client_secret_file", "token_url", "endpoint_params"}
    text = (MONITORING / "prometheus.yml").read_text()
    assert "client_secret:" not in text and "credentials:" not in text


def test_every_alert_has_a_test_that_fires_it_and_one_that_does_not():
    alerts = {
        rule.get("alert") for group in load("alerts.yml")["groups"] for rule in group["rules"]
    } - {None}
    fired, quiet = set(), set()
    for case in load("alerts_test.yml")["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    assert alerts == fired == quiet
    assert {
        "PeerlinkRelayLagging",
        "PeerlinkConsumerLagging",
        "PeerlinkDeadLetters",
        "PeerlinkSafeguardingDeadlineMissed",
        "PeerlinkProcessDown",
        "PeerlinkNodeUnreachable",
    } <= alerts


def test_the_dashboard_shows_what_operators_watch():
    dashboard = json.loads(DASHBOARD.read_text())
    named = set().union(*(metric_names(expression) for expression in dashboard_expressions()))
    assert {
        "peerlink_events_appended_total",
        "peerlink_event_append_duration_seconds_bucket",
        "peerlink_relay_lag_seconds",
        "peerlink_relay_lag_events",
        "peerlink_consumer_lag_events",
        "peerlink_consumer_lag_seconds",
        "peerlink_dead_letters_total",
        "peerlink_http_requests_total",
        "peerlink_http_request_duration_seconds_bucket",
        "peerlink_break_glass_total",
    } <= named
    datasource = load("grafana/provisioning/datasources/peerlink.yml")["datasources"][0]
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        assert panel["targets"], panel["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    provider = load("grafana/provisioning/dashboards/peerlink.yml")["providers"][0]
    assert provider["type"] == "file"
