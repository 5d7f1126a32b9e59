"""docker-compose.yml and the Dockerfile checked offline: against the Compose specification (the
schema vendored in check-jsonschema), and against the code, the port map and the local stack."""

from __future__ import annotations

import importlib
import json
import re
from importlib import resources
from pathlib import Path
from urllib.parse import urlparse

import jsonschema
import pytest
import yaml

from shared.config import hub_ports, node_ports

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"

# Compose interpolation: $$ is a literal dollar; ${VAR}, ${VAR:-default}, ${VAR-default},
# ${VAR:?message}, ${VAR?message}, ${VAR:+alt} and $VAR take a value from the environment.
INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)[^}]*\}|\$(?P<bare>[A-Za-z_]\w*)"
)

# The compose service of each process of deploy/stack.py's process_table (partner 0 and the hub).
PROCESSES = {
    "referrals": "leeds-mind-referrals",
    "sessions": "leeds-mind-sessions",
    "safeguarding": "leeds-mind-safeguarding",
    "web": "leeds-mind-web",
    "node-worker": "leeds-mind-worker",
    "reporting": "hub-reporting",
    "hub-worker": "hub-worker",
}
# each tenant's own credentials, as compose secrets (the local stack gives the URLs directly)
SECRET_FILES = {
    "leeds-mind": {
        "PEERLINK_DATABASE_URL_FILE": "peerlink_leeds_mind_database_url",
        "PEERLINK_AMQP_URL_FILE": "peerlink_leeds_mind_amqp_url",
        "PEERLINK_TRANSFER_KEY_FILE": "peerlink_leeds_mind_transfer_key",
        "PEERLINK_HUB_PSEUDONYM_KEY_FILE": "peerlink_leeds_mind_hub_pseudonym_key",
        "PEERLINK_WEB_CLIENT_SECRET_FILE": "peerlink_leeds_mind_web_client_secret",
    },
    "alliance": {
        "PEERLINK_DATABASE_URL_FILE": "peerlink_hub_database_url",
        "PEERLINK_AMQP_URL_FILE": "peerlink_hub_amqp_url",
        "PEERLINK_OIDC_CLIENT_SECRET_FILE": "peerlink_hub_worker_client_secret",
        "PEERLINK_ROUNDING_KEY_FILE": "peerlink_hub_rounding_key",
    },
}


def interpolated(text: str) -> str:
    """The file as compose sees it once every variable has a (dummy) value."""

    def value(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return f"dummy-{(match.group('braced') or match.group('bare')).lower()}"

    return INTERPOLATION.sub(value, text)


def load(text: str) -> dict:
    return yaml.safe_load(interpolated(text))


@pytest.fixture(scope="module")
def text() -> str:
    return COMPOSE.read_text()


@pytest.fixture(scope="module")
def compose(text) -> dict:
    return load(text)


@pytest.fixture(scope="module")
def validator():
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads(vendored.joinpath("compose-spec.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema_errors(validator, document: dict) -> list[str]:
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def is_one_shot(service: dict) -> bool:
    return service.get("restart") == "no"


# -- the specification -------------------------------------------------------------------------


def test_the_compose_file_follows_the_compose_specification(compose, validator):
    errors = schema_errors(validator, compose)
    assert errors == [], "\n".join(errors)


def test_every_variable_gets_a_value_before_validation(text):
    assert "${" not in interpolated(text)
    assert "dummy-peerlink_db_admin_password" in interpolated(text)


BREAKAGES = {
    "depends-on-a-number": ("    depends_on: *servers\n", "    depends_on: 7\n"),
    "unknown-service-key": ("  postgres:\n    image:", "  postgres:\n    imagex:"),
    "healthcheck-interval-a-list": ("      interval: 5s\n", "      interval: [5]\n"),
    "unknown-depends-on-condition": ("    condition: service_healthy\n", "    condition: ready\n"),
    "ports-a-mapping": ('    ports: ["8101:8101"]\n', "    ports: {referrals: 8101}\n"),
    "secret-without-a-source": (
        "  peerlink_leeds_mind_transfer_key:\n    file:",
        "  peerlink_leeds_mind_transfer_key:\n    filename:",
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES.values(), ids=BREAKAGES.keys())
def test_a_compose_file_that_breaks_the_specification_is_caught(text, validator, breakage):
    original, broken = breakage
    assert text.count(original) >= 1, f"the file no longer contains {original!r}"
    document = load(text.replace(original, broken, 1))
    assert schema_errors(validator, document) != []


# -- health and start order --------------------------------------------------------------------


def test_every_service_has_a_healthcheck(compose):
    services = compose["services"]
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        if check.get("disable"):
            # only a one-shot step may go without one: what needs it waits for it to finish
            assert is_one_shot(service), name
            for other in services.values():
                if name in other.get("depends_on", {}):
                    assert other["depends_on"][name]["condition"] == (
                        "service_completed_successfully"
                    ), name
        else:
            assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    assert services["postgres"]["healthcheck"]["test"][1].startswith("pg_isready")
    assert services["rabbitmq"]["healthcheck"]["test"][1:] == ["rabbitmq-diagnostics", "-q", "ping"]


def test_every_service_starts_once_what_it_needs_is_healthy(compose):
    services = compose["services"]
    for name, service in services.items():
        if "build" not in service:  # the servers and the monitoring, from their own images
            for rule in service.get("depends_on", {}).values():
                assert rule["condition"] == "service_healthy", name
            continue
        needs = service["depends_on"]
        assert {"postgres", "rabbitmq"} <= set(needs), name
        for other, rule in needs.items():
            expected = (
                "service_completed_successfully"
                if is_one_shot(services[other])
                else "service_healthy"
            )
            assert rule["condition"] == expected, (name, other)
    for name in PROCESSES:
        assert "setup" in services[name]["depends_on"], name


def test_the_broker_runs_federation_shovel_and_prometheus(compose):
    rabbitmq = compose["services"]["rabbitmq"]
    assert rabbitmq["image"] in ("rabbitmq:3.10", "rabbitmq:3.10-management")
    mount = next(v for v in rabbitmq["volumes"] if v.endswith(":/etc/rabbitmq/enabled_plugins:ro"))
    plugins = (ROOT / mount.split(":")[0]).read_text()
    assert plugins.strip().startswith("[") and plugins.strip().endswith("].")
    for plugin in ("rabbitmq_federation", "rabbitmq_shovel", "rabbitmq_prometheus"):
        assert plugin in plugins
    assert compose["services"]["postgres"]["image"] == "postgres:15"


# -- the code ----------------------------------------------------------------------------------


def test_commands_name_modules_that_exist_here(compose):
    from deploy.stack import SERVICE_CLASSES

    for name, service in compose["services"].items():
        command = service.get("command")
        if "build" not in service:  # another project's image, at a pinned version
            assert re.fullmatch(r"[\w./-]+:v?\d+(\.\d+)*(-management)?", service["image"]), name
            continue
        assert service["build"] == "." and service["image"] == "peerlink:latest", name
        if command[:3] == ["python", "-m", "shared.runner"]:
            assert command[3] == "--config", name
            assert (ROOT / command[4].removeprefix("/app/")).is_file(), name
            module, cls = command[5].split(":")
            assert hasattr(importlib.import_module(module), cls), name
            assert command[5] == SERVICE_CLASSES[name], name
        else:
            assert command[:2] == ["python", "-m"], name
            assert importlib.import_module(command[2]).main, name


def seconds(duration: str) -> float:
    """A compose duration such as 10s, 1m30s or 500ms."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


# the delivery workers, which stop as shared/worker.py stops them
WORKER_COMMAND = ["python", "-m", "services.node_worker"]
HUB_WORKER_COMMAND = ["python", "-m", "services.hub_worker"]


def test_each_process_is_given_longer_to_stop_than_it_takes(compose):
    from shared import runner, worker
    from shared.webserver import DRAIN_SECONDS

    assert DRAIN_SECONDS < runner.STOP_SECONDS
    checked = []
    for name, service in compose["services"].items():
        grace = seconds(service.get("stop_grace_period", "10s"))  # the runtime's default
        command = service.get("command") or []
        if command[:3] == ["python", "-m", "shared.runner"]:
            assert grace > runner.STOP_SECONDS, name
        elif command[:3] in (WORKER_COMMAND, HUB_WORKER_COMMAND):
            assert grace > worker.STOP_SECONDS, name
        elif name in ("postgres", "rabbitmq"):
            assert grace >= 30, name  # a checkpoint, queues written down
        else:
            continue
        checked.append(name)
    assert set(PROCESSES) | {"postgres", "rabbitmq"} <= set(checked)


def test_workers_run_in_the_role_of_their_side(compose):
    services = compose["services"]
    assert services["node-worker"]["command"][-2:] == ["-m", "services.node_worker"]
    assert services["node-worker"]["environment"]["PEERLINK_PARTNER"] == "leeds-mind"
    assert services["hub-worker"]["command"][-2:] == ["-m", "services.hub_worker"]
    assert services["hub-worker"]["environment"]["PEERLINK_PARTNER"] == "alliance"


def test_ports_and_health_urls_match_the_port_map(compose):
    node, hub = node_ports(0), hub_ports()
    expected = {
        "referrals": node["referrals"],
        "sessions": node["sessions"],
        "safeguarding": node["safeguarding"],
        "node-worker": node["worker"],
        "reporting": hub["reporting"],
        "hub-worker": hub["worker"],
    }
    for name, port in expected.items():
        service = compose["services"][name]
        assert service["ports"] == [f"{port}:{port}"], name
        assert service["environment"]["PEERLINK_HTTP_ADDRESS"] == f"0.0.0.0:{port}", name
        assert service["healthcheck"]["test"][-1] == f"http://127.0.0.1:{port}/health", name


def test_the_endpoints_file_names_the_compose_services(compose):
    env = compose["services"]["hub-worker"]["environment"]
    endpoints = json.loads(
        (ROOT / env["PEERLINK_ENDPOINTS_FILE"].removeprefix("/app/")).read_text()
    )
    urls = {
        "reporting": endpoints["hub"]["reporting"],
        "hub-worker": endpoints["hub"]["worker"],
        **{
            ("node-worker" if name == "worker" else name): url
            for name, url in endpoints["partners"]["leeds-mind"].items()
        },
    }
    assert set(urls) == set(PROCESSES)
    for name, url in urls.items():
        parts = urlparse(url)
        assert parts.hostname == name, url
        assert compose["services"][name]["ports"] == [f"{parts.port}:{parts.port}"], url


def test_each_process_gets_the_settings_the_local_stack_gives_it(compose, monkeypatch):
    from deploy import stack

    monkeypatch.setattr(stack, "secret", lambda *args, **kwargs: "dummy")
    table = {spec["name"]: spec["env"] for spec in stack.process_table(stack.STACKS["test"])}
    for name, process in PROCESSES.items():
        service = compose["services"][name]
        env = service["environment"]
        local = {key: value for key, value in table[process].items() if key.startswith("PEERLINK_")}
        del local["PEERLINK_STACK"]  # names a stack on one machine
        # a container reads its credentials from its own secrets, the local stack from its env
        for key in ("PEERLINK_DATABASE_URL", "PEERLINK_AMQP_URL"):
            local[f"{key}_FILE"] = local.pop(key)
        assert set(env) == set(local), (name, set(env) ^ set(local))
        for key in ("PEERLINK_PARTNER", "PEERLINK_SERVICE", "PEERLINK_OIDC_AUDIENCE"):
            assert env[key] == local[key], (name, key)
        tenant = SECRET_FILES[env["PEERLINK_PARTNER"]]
        for key, secret in tenant.items():
            if key in local:
                assert env[key] == f"/run/secrets/{secret}", (name, key)
                assert secret in service["secrets"], (name, secret)
        # only its own tenant's secrets: the hub holds no vault key, the node no hub login
        assert set(service["secrets"]) == {s for k, s in tenant.items() if k in local}, name
        # the vault's master key versions: a directory, read-only, where the env says
        if "PEERLINK_MASTER_KEY_DIR" in local:
            [mount] = service["volumes"]
            source, target, mode = mount.split(":")
            assert source == "dummy-peerlink_secrets_dir/leeds-mind/master-keys", name
            assert (target, mode) == (env["PEERLINK_MASTER_KEY_DIR"], "ro"), name
        else:
            assert not service.get("volumes"), name


# -- secrets and the image ---------------------------------------------------------------------


def test_no_secret_is_written_into_the_file(text, compose):
    for password in re.findall(r"://[^:/\s@]+:([^@\s]+)@", text):
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", password), password
    for key, value in re.findall(r"^\s+([A-Z_]*PASS[A-Z_]*): (.+)$", text, re.MULTILINE):
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", value), key
    for name, secret in compose["secrets"].items():
        assert secret["file"].startswith("dummy-peerlink_secrets_dir/"), name


def test_the_image_installs_the_project_and_runs_as_a_non_root_user():
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    stages = [line for line in lines if line.startswith("FROM ")]
    # the web app's front-end packages come from a node stage, exactly as their lockfile pins
    assert stages == ["FROM node:22-slim AS web-assets", "FROM python:3.11-slim"]
    assert "RUN npm ci --omit=dev --no-audit --no-fund" in lines
    assert "COPY --from=web-assets /assets/node_modules /app/web-assets/node_modules" in lines
    assert "ENV PEERLINK_WEB_ASSETS=/app/web-assets" in lines
    assert any(re.search(r"pip install .*\s\.$", line) for line in lines)
    assert any(line.startswith("COPY pyproject.toml") for line in lines)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert lines.index(f"USER {users[-1]}") > max(
        i for i, line in enumerate(lines) if line.startswith(("RUN", "COPY"))
    )


# -- monitoring --------------------------------------------------------------------------------


def test_prometheus_runs_the_compose_scrape_config_beside_its_rules_with_its_client_secrets(
    compose,
):
    prometheus = compose["services"]["prometheus"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in prometheus["volumes"]}
    assert mounts["/etc/prometheus/prometheus.yml"] == "./deploy/monitoring/prometheus.compose.yml"
    assert mounts["/etc/prometheus/alerts.yml"] == "./deploy/monitoring/alerts.yml"
    for source in (mounts["/etc/prometheus/prometheus.yml"], mounts["/etc/prometheus/alerts.yml"]):
        assert (ROOT / source).is_file(), source
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((ROOT / "deploy/monitoring/prometheus.compose.yml").read_text())
    # one client secret per provider: each job's, mounted where it reads it, and no other
    secrets = {}
    for job in config["scrape_configs"]:
        secret_file = job["oauth2"]["client_secret_file"]
        assert secret_file.startswith("/run/secrets/"), job["job_name"]
        (partner,) = {group["labels"]["partner"] for group in job["static_configs"]}
        secrets[secret_file.removeprefix("/run/secrets/")] = partner
    assert set(secrets.values()) == {"leeds-mind", "alliance"}
    assert sorted(prometheus["secrets"]) == sorted(secrets)
    for secret, partner in secrets.items():
        assert compose["secrets"][secret]["file"].endswith(f"/idp/{partner}.prometheus"), secret


def test_grafana_gets_the_settings_its_provisioning_files_name(compose):
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    assert (provisioning / "datasources" / "peerlink.yml").is_file()
    named = set()
    for path in provisioning.rglob("*.yml"):
        named |= set(re.findall(r"\$\{(PEERLINK_\w+)\}", path.read_text()))
    assert named == {"PEERLINK_PROMETHEUS_URL", "PEERLINK_GRAFANA_DASHBOARDS"}
    environment = grafana["environment"]
    assert environment["PEERLINK_PROMETHEUS_URL"] == "http://prometheus:9090"
    dashboards = environment["PEERLINK_GRAFANA_DASHBOARDS"]
    assert (ROOT / mounts[dashboards] / "peerlink.json").is_file()
    assert grafana["depends_on"] == {"prometheus": {"condition": "service_healthy"}}


def test_monitoring_listens_on_the_hosts_loopback_only(compose):
    for name in ("prometheus", "grafana"):
        (port,) = compose["services"][name]["ports"]
        assert port.startswith("127.0.0.1:"), name
