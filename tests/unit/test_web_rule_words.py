"""Every rule the node's services can refuse with reaches a page in plain words, or is listed as
one no page can meet, with why. The rules are read from the services' source: each subclass of
shared.aggregate.RuleBroken, each rule raised by its name as a string, and each rule a refusal
of the person themselves names."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import requests

from services.web.api import Endpoints, NodeApi, Refused
from services.web.app import conflict_words
from services.web.refusal_words import NO_PAGE_MEETS, REFUSED_YOURSELF, RULE_WORDS, refusal_words

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# the classes rules are made from, never raised as a rule of their own
BASES = {"RuleBroken", "Rule", "ReferenceRefused", "InputRule"}
RULE_IN_WORDS = re.compile(r"\(rule ([A-Z][A-Za-z0-9]+)\)")


def _sources():
    for top in ("services", "shared", "contracts"):
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT).parts
            if relative[:2] == ("services", "web") or "node_modules" in relative:
                continue
            yield ast.parse(path.read_text(), filename=str(path))


def _name(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def rules_the_services_raise() -> set[str]:
    """Each rule name a service can answer with."""
    trees = list(_sources())
    bases_of: dict[str, set[str]] = {}
    named: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases_of.setdefault(node.name, set()).update(
                    name for base in node.bases if (name := _name(base))
                )
                # a refusal of the person themselves naming its rule: `rule = "Name"`
                for statement in node.body:
                    if (
                        isinstance(statement, ast.Assign)
                        and [_name(t) for t in statement.targets] == ["rule"]
                        and isinstance(statement.value, ast.Constant)
                        and isinstance(statement.value.value, str)
                    ):
                        named.add(statement.value.value)
            elif (
                isinstance(node, ast.Call)
                and _name(node.func) == "RuleBroken"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                named.add(node.args[0].value)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                named.update(RULE_IN_WORDS.findall(node.value))
    rules = {"RuleBroken"}
    while grown := {c for c, bases in bases_of.items() if bases & rules and c not in rules}:
        rules |= grown
    return (rules - BASES) | named


RULES = rules_the_services_raise()


def test_the_rules_are_read_from_every_kind_of_source():
    # a rule class, a subclass of another rule, one raised by name, one a 403 names
    assert {
        "ConsentIsWithdrawnOnce",
        "DischargeCannotPrecedeASessionHeld",
        "NoSupportForAnErasedPerson",
        "PeerWorkerSeesOnlyTheMembersOfGroupsTheyFacilitate",
    } <= RULES
    assert not RULES & BASES
    assert len(RULES) > 120


def test_every_rule_a_service_raises_has_plain_words_or_is_one_no_page_meets():
    unsaid = sorted(RULES - set(RULE_WORDS) - set(NO_PAGE_MEETS))
    assert unsaid == [], f"rules with neither plain words nor a reason no page meets them: {unsaid}"
    assert not set(RULE_WORDS) & set(NO_PAGE_MEETS)
    # no words for a rule that is no longer there
    assert sorted((set(RULE_WORDS) | set(NO_PAGE_MEETS) | set(REFUSED_YOURSELF)) - RULES) == []
    assert all(reason.strip() for reason in NO_PAGE_MEETS.values())


MESSAGES = (
    "2026-03-02 is before 2026-01-05, the earliest",
    "the person consented: there is no reason for acting without consent to record",
    "this is the group's only facilitator; add another before removing them",
    "no such group",
)


@pytest.mark.parametrize("rule", sorted(RULE_WORDS))
def test_each_rules_words_are_a_sentence_without_a_field_name_or_a_code(rule):
    for message in MESSAGES:
        words = refusal_words(rule, message)
        assert words is not None and words[0].isupper() and words.endswith("."), words
        assert "_" not in words and not re.search(r"\d{4}-\d{2}-\d{2}", words), words
        assert not re.search(r"\b[a-z]+[A-Z]\w*", words), words  # no camelCase names
        assert "PEERLINK" not in words and "(rule" not in words, words


def test_a_date_a_refusal_names_is_said_as_people_write_it():
    timeline = "allocated_on 2026-01-02 is before accepted_on 2026-01-05: a referral is ..."
    assert refusal_words("ReferralTimelineRunsForward", timeline) == (
        "The date is before an earlier step of this referral (5 January 2026). Check the date, "
        "or correct the earlier step."
    )
    signposted = "the person was signposted on 2026-02-10; the outcome cannot be dated before"
    assert refusal_words("OutcomeCannotPrecedeTheSignposting", signposted) == (
        "The outcome cannot be dated before the day they were signposted (10 February 2026)."
    )


class FakeHttp:
    """A node service answering every call with one refusal."""

    def __init__(self, status: int, body: dict):
        self.status = status
        self.body = body

    def request(self, method, url, **kwargs):
        answer = requests.Response()
        answer.status_code = self.status
        answer._content = json.dumps(self.body).encode()
        return answer


def refusal_from(status: int, body: dict) -> Refused:
    api = NodeApi(Endpoints({"sessions": "http://sessions"}), FakeHttp(status, body), "token")
    with pytest.raises(Refused) as refused:
        api.post("sessions", "/sessions/s1/attendance", {})
    return refused.value


def test_a_refusal_of_the_person_themselves_is_said_in_plain_words_by_the_rule_it_names():
    caseload = refusal_from(
        403,
        {
            "error": "forbidden",
            "message": "a peer worker records attendance ... only for people already on their "
            "caseload (rule PeerWorkerRecordsOnlyTheirCaseload)",
        },
    )
    assert caseload.rule == "PeerWorkerRecordsOnlyTheirCaseload"
    assert conflict_words(caseload).startswith("You can record this only for people on your own")
    # a worker who has left, refused for themselves, is told so: not to choose someone else
    left = refusal_from(
        403,
        {
            "error": "forbidden",
            "message": "sam has left leeds-mind's workforce: ask a partner admin to register "
            "them again (rule WorkerMustNotHaveLeft)",
        },
    )
    assert conflict_words(left).startswith("Your organisation has recorded that you left")
    named = refusal_from(
        422,
        {
            "error": "invalid",
            "message": "worker_id: 'jo' has left this partner",
            "fields": {"worker_id": ["'jo' has left this partner"]},
            "rule": "WorkerMustNotHaveLeft",
        },
    )
    assert conflict_words(named).startswith("This worker has left your organisation")
    # a field's own message naming a rule does not make it the rule of the whole answer
    fields = {"name": ["must not be blank (rule TextMustHaveContent)"], "capacity": ["too many"]}
    message = "name: must not be blank (rule TextMustHaveContent); capacity: too many"
    invalid = refusal_from(422, {"error": "invalid", "message": message, "fields": fields})
    assert invalid.rule is None
    # a refusal naming no rule is shown in the service's words
    plain = refusal_from(403, {"error": "forbidden", "message": "a peer worker may not do this"})
    assert plain.rule is None and conflict_words(plain) == "A peer worker may not do this."
