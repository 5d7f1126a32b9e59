"""The shape of the code that docs/architecture.md describes: modules small enough to read
whole, and each service's parts where a newcomer looks for them. (Imports across boundaries are
checked by `lint-imports`, types by `mypy`, both in the test command.)"""

import ast
import re
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


# -- reads of another service's tables ----------------------------------------------------------

# The node services' schemas in the node's one database (contracts/<service>/__init__.py).
NODE_SCHEMAS = ("referrals", "sessions", "safeguarding")
TABLE = re.compile(r"\b(" + "|".join(NODE_SCHEMAS) + r")\.([a-z_][a-z0-9_]*)\b")

# Services read each other through contracts/ and events (docs/decisions/0007); these reads
# of another service's tables by SQL are the known departures from that, each listed so that no
# other joins them unnoticed. A new one fails the test below, naming its file and table.
CROSS_SCHEMA_READS = {
    # a person's last contact, for the retention review (LAST_CONTACTS), and the first and last
    # session held for a referral, at discharge (sessions_held): the sessions a person attended
    # are kept only in the sessions service's read model, read in the same transaction as the
    # referral list they are compared with; the first measure taken for a referral, when its
    # first contact is corrected (measures_taken), from the person's timeline
    "services/referrals/queries.py": {
        "sessions.attendance",
        "sessions.session_list",
        "sessions.timeline",
    },
    # the repeated did-not-attend signal: a person's latest attendance at held sessions and
    # whether they have an open crisis plan, as the sessions service's projector committed them
    # with the attendance event the signal reacts to
    "services/safeguarding/signals.py": {
        "sessions.attendance",
        "sessions.plan_list",
        "sessions.session_list",
    },
    # a migration's one-off backfill: referrals the sessions service learnt of before it kept
    # their dates take them from the referrals store's events (deploy/migrations.py)
    "services/sessions/tables.py": {"referrals.events"},
}
# Not listed, by design: the subject access export (services/referrals/people.py) reads
# `{schema}.events` for each of queries.NODE_SCHEMAS. Subject access must answer with
# everything the node holds about a person in one document; it reads each service's event log
# (the shared event store's table, the same shape in every schema), never a read model, and the
# schema is not named in its SQL, so it is not a dependency on another service's tables.


def _module_file(module: str) -> Path:
    path = ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _constant(module: str, name: str) -> str | None:
    """The text a module-level name stands for (`SCHEMA = "sessions"`), followed through
    `from ... import SCHEMA as SESSIONS_SCHEMA`; None when it is not a string constant."""
    path = _module_file(module)
    if not path.is_file():
        return None
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            value = node.value
            return value.value if isinstance(value, ast.Constant) else None
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return _constant(node.module, alias.name)
    return None


def _strings(path: Path) -> list[str]:
    """A module's string literals, f-strings with the constants they name filled in, and
    docstrings left out (they are prose, not SQL)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    tree = ast.parse(path.read_text())
    skipped = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = []
            for part in node.values:
                skipped.add(id(part))
                if isinstance(part, ast.Constant):
                    text.append(str(part.value))
                elif isinstance(part, ast.FormattedValue) and isinstance(part.value, ast.Name):
                    value = _constant(module, part.value.id)
                    text.append(value if isinstance(value, str) else "{}")
                else:
                    text.append("{}")
            found.append("".join(text))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skipped
        ):
            found.append(node.value)
    return found


def cross_schema_reads() -> dict[str, set[str]]:
    """Each module under services/ that names another node service's tables: which."""
    reads: dict[str, set[str]] = {}
    for path in sorted((ROOT / "services").rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        service = path.relative_to(ROOT / "services").parts[0]
        tables = {
            f"{schema}.{table}"
            for text in _strings(path)
            for schema, table in TABLE.findall(text)
            if schema != service
        }
        if tables:
            reads[str(path.relative_to(ROOT))] = tables
    return reads


def test_no_service_reads_another_services_tables_beyond_those_listed():
    found = cross_schema_reads()
    unlisted = sorted(
        f"{module} reads {table}"
        for module, tables in found.items()
        for table in sorted(tables - CROSS_SCHEMA_READS.get(module, set()))
    )
    assert unlisted == [], "read it through contracts/ or an event, or list it with why"
    gone = sorted(
        f"{module} no longer reads {table}"
        for module, tables in CROSS_SCHEMA_READS.items()
        for table in sorted(tables - found.get(module, set()))
    )
    assert gone == [], "take it out of CROSS_SCHEMA_READS"


def test_a_table_named_through_a_constant_is_found_and_a_docstring_is_not_read_as_sql():
    tables = cross_schema_reads()
    # sessions/tables.py names the referrals store as contracts.referrals.SCHEMA, not by text
    assert "referrals.events" in tables["services/sessions/tables.py"]
    # services/web/service.py's docstring names its module sessions.py
    assert not any(module.startswith("services/web/") for module in tables)
