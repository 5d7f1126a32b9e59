"""The shape of the code that docs/architecture.md describes: modules small enough to read
whole, and each service's parts where a newcomer looks for them. (Imports across boundaries are
checked by `lint-imports`, types by `mypy`, both in the test command.)"""

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LONGEST = 600


def test_no_module_under_services_passes_600_lines():
    long = {
        str(path.relative_to(ROOT)): lines
        for path in (ROOT / "services").rglob("*.py")
        if "node_modules" not in path.parts
        and (lines := len(path.read_text().splitlines())) > LONGEST
    }
    assert long == {}


@pytest.mark.parametrize("service", ["referrals", "sessions", "safeguarding"])
def test_each_node_service_keeps_its_rules_its_bodies_and_its_contract_apart(service):
    assert (ROOT / "services" / service / "domain" / "__init__.py").is_file()
    assert (ROOT / "services" / service / "api.py").is_file()
    assert (ROOT / "contracts" / service / "events.py").is_file()
    assert (ROOT / "contracts" / service / "codes.py").is_file()
    assert not (ROOT / "services" / service / "schemas.py").exists()


def test_the_library_holds_no_composition_root():
    worker = (ROOT / "shared" / "worker.py").read_text()
    assert "services." not in worker.replace("services.node_worker", "").replace(
        "services.hub_worker", ""
    )
    assert (ROOT / "services" / "node_worker" / "__main__.py").is_file()
    assert (ROOT / "services" / "hub_worker" / "__main__.py").is_file()


def test_the_decisions_the_code_cites_are_in_the_repository():
    cited = set()
    for path in [
        *ROOT.glob("shared/**/*.py"),
        *ROOT.glob("services/**/*.py"),
        *ROOT.glob("contracts/**/*.py"),
    ]:
        if "node_modules" in path.parts:
            continue
        text = path.read_text()
        for word in text.replace("(", " ").replace(")", " ").replace(",", " ").split():
            if word.startswith("docs/") and word.rstrip(".:;'\"`").endswith(".md"):
                cited.add(word.rstrip(".:;'\"`"))
    assert cited, "the code cites its docs"
    missing = sorted(doc for doc in cited if not (ROOT / doc).is_file())
    assert missing == []
