"""docker-compose.yml checked offline against the Compose specification and against the code."""

import importlib
import json
import re
from pathlib import Path

import check_jsonschema
import jsonschema
import pytest
import yaml

from shared.config import hub_ports, node_ports

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = Path(check_jsonschema.__file__).parent / "builtin_schemas/vendor/compose-spec.json"
ONE_SHOT = {"setup"}


def interpolated(text: str) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?message} with a value, as compose would."""
    return re.sub(r"\$\{([A-Z_]+)(?:(:?[-?])([^}]*))?\}", "dummy", text)


def load(text: str) -> dict:
    return yaml.safe_load(interpolated(text))


@pytest.fixture(scope="module")
def compose() -> dict:
    return load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def test_the_compose_file_follows_the_compose_specification(compose, validator):
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]


@pytest.mark.parametrize(
    "breakage",
    [
        ("    depends_on: *servers\n", "    depends_on: 7\n"),
        ("  postgres:\n    image:", "  postgres:\n    imagex:"),
        ("      interval: 5s\n", "      interval: [5]\n"),
    ],
    ids=["depends-on-type", "unknown-key", "healthcheck-type"],
)
def test_a_broken_compose_file_is_caught(validator, breakage):
    text = (ROOT / "docker-compose.yml").read_text()
    assert breakage[0] in text
    broken = load(text.replace(breakage[0], breakage[1], 1))
    assert list(validator.iter_errors(broken))


def test_every_long_running_service_has_a_healthcheck_and_waits_for_its_servers(compose):
    for name, service in compose["services"].items():
        if name in ONE_SHOT:
            continue
        assert "healthcheck" in service, name
        if name not in ("postgres", "rabbitmq"):
            assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
            assert service["depends_on"]["setup"]["condition"] == (
                "service_completed_successfully"
            ), name


def test_commands_name_modules_and_classes_that_exist(compose):
    for name, service in compose["services"].items():
        command = service.get("command")
        if not command:
            continue
        if command[0] == "nameko":
            module, cls = command[-1].split(":")
            assert hasattr(importlib.import_module(module), cls), name
            assert (ROOT / command[command.index("--config") + 1].removeprefix("/app/")).exists()
        else:
            assert command[:2] == ["python", "-m"], name
            importlib.import_module(command[2])


def test_ports_and_health_urls_match_the_port_map(compose):
    node = node_ports(0)
    hub = hub_ports()
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


def test_secrets_are_never_written_into_the_file():
    text = (ROOT / "docker-compose.yml").read_text()
    for variable in re.findall(r"PASSWORD: (.+)", text):
        assert variable.startswith("${") and ":?" in variable, variable
