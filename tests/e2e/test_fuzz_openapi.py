"""Property-based fuzzing of every service's OpenAPI document with schemathesis: requests drawn
from what each operation documents, valid and deliberately invalid (the coverage phase's
boundary and missing values, then the fuzzing phase's random ones), signed in as someone the
service serves. No answer may be a 5xx (not_a_server_error), and no request the document says
is invalid may be accepted (negative_data_rejection).

Each service has a time budget, PEERLINK_FUZZ_SECONDS (40 unless set), and each operation
PEERLINK_FUZZ_EXAMPLES random requests per mode (5 unless set), which keeps the module to a few
minutes. Generation is derandomized, so a run repeats the last one; set PEERLINK_FUZZ_SEED to
explore elsewhere.

schemathesis's own pytest plugin does not run under pytest 9 (its lazy schemas reach for a
pytest internal that is gone), so each service is fuzzed through schemathesis's engine, the
one its command line drives, and its failures are reported here."""

from __future__ import annotations

import os

import pytest
import requests
import schemathesis
from schemathesis.engine import Status, events, from_schema

pytestmark = pytest.mark.e2e

PARTNER = "leeds-mind"
SECONDS = int(os.environ.get("PEERLINK_FUZZ_SECONDS", "40"))
EXAMPLES = int(os.environ.get("PEERLINK_FUZZ_EXAMPLES", "5"))
SEED = os.environ.get("PEERLINK_FUZZ_SEED")
# each service as someone whose work it serves (a route for other roles answers 403 early)
SIGNED_IN = {
    "referrals": ("team_lead", PARTNER),
    "sessions": ("team_lead", PARTNER),
    "safeguarding": ("safeguarding_lead", PARTNER),
    "reporting": ("alliance_analyst", "alliance"),
}
REFUSALS = [400, 401, 403, 404, 405, 406, 409, 413, 414, 415, 422, 428, 429, "5XX"]
# the event feed and the metrics answer machine credentials only, the health check nobody's
NOT_FUZZED = r"^/(events|metrics|health)$"


def url_of(endpoints, service: str) -> str:
    if service == "reporting":
        return endpoints["hub"]["reporting"]
    return endpoints["partners"][PARTNER][service]


def config(base_url: str, headers: dict) -> schemathesis.Config:
    checks = {
        "enabled": False,
        "not_a_server_error": {"enabled": True},
        # refusals: schemathesis's own list, and a body or URL too long (413, 414)
        "negative_data_rejection": {"enabled": True, "expected-statuses": REFUSALS},
    }
    return schemathesis.Config.from_dict(
        {
            **({"seed": int(SEED)} if SEED else {}),
            **({"max-time": SECONDS} if SECONDS else {}),
            "suppress-health-check": ["all"],
            "base-url": base_url,
            "headers": headers,
            "workers": 1,
            "request-timeout": 30,
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES,
                "deterministic": SEED is None,
                "no-shrink": True,
            },
            "checks": checks,
            "phases": {
                "examples": {"enabled": False},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
        }
    )


def fuzz(schema) -> tuple[list[str], list[str], int]:
    """What the engine found: failed checks (each with a curl to reproduce it), errors, and
    how many requests it made."""
    failures, errors, requests_made = [], [], 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            requests_made += len(event.recorder.interactions)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        failures.append(
                            f"{event.label}: {failure.title}: {failure.message}\n"
                            f"    {check.failure_info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return sorted(set(failures)), errors, requests_made


@pytest.mark.parametrize("service", sorted(SIGNED_IN))
def test_no_request_drawn_from_the_openapi_document_gets_a_5xx_or_is_wrongly_accepted(
    service, endpoints, auth
):
    role, partner = SIGNED_IN[service]
    headers = auth(role, partner)
    base_url = url_of(endpoints, service)
    document = requests.get(f"{base_url}/openapi.json", timeout=30)
    document.raise_for_status()
    schema = schemathesis.openapi.from_dict(
        document.json(), config=config(base_url, headers)
    ).exclude(path_regex=NOT_FUZZED)

    failures, errors, requests_made = fuzz(schema)

    assert requests_made > 100, f"{service}: only {requests_made} requests were made"
    assert errors == [], "\n".join(errors)
    assert failures == [], "\n".join(failures)
