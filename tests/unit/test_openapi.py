"""Every service's and worker's OpenAPI document: each route declares its query parameters,
request body and answer, and the document holds together (references resolve, every schema is
a JSON schema, every parameter is named, typed and described)."""

from __future__ import annotations

import inspect
import re
import warnings

import jsonschema
import pytest

from shared.web import openapi_document, routes_of

pytestmark = pytest.mark.unit

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from services.referrals.service import ReferralsService
    from services.reporting.service import ReportingService
    from services.safeguarding.service import SafeguardingService
    from services.sessions.service import SessionsService
    from services.web.service import WebService
    from shared.worker import WorkerApi

APIS = {
    "referrals": ReferralsService,
    "sessions": SessionsService,
    "safeguarding": SafeguardingService,
    "reporting": ReportingService,
    "web": WebService,
    "worker": WorkerApi,
}

# Routes whose answer is not declared yet, each to be declared by its service: the list only
# shrinks (a route declared since fails the test until it is taken off).
ANSWER_NOT_YET_DECLARED: dict[str, set[str]] = {}
# Routes that read their query or form themselves, undeclared: likewise only shrinks.
INPUT_NOT_YET_DECLARED = {
    "web": {"GET /auth/login", "GET /auth/callback", "POST /auth/logout"},
}
SHARED_ROUTES = {"GET /health", "GET /metrics", "GET /openapi.json", "GET /events"}


def _key(route) -> str:
    return f"{route.method} {route.path}"


def _own_routes(name: str) -> list:
    return [r for r in routes_of(APIS[name]) if _key(r) not in SHARED_ROUTES]


def _not_yet(name: str, route, listing: dict) -> bool:
    waived = listing.get(name, set())
    return waived == "every route of its own" or _key(route) in waived


def _handler(cls, route):
    for attribute in dir(cls):
        member = getattr(cls, attribute)
        if getattr(member, "peerlink_route", None) == route:
            return inspect.unwrap(member)
    raise AssertionError(route)


@pytest.mark.parametrize("name", APIS)
def test_every_route_declares_what_it_answers(name):
    missing = []
    for route in routes_of(APIS[name]):
        declared = route.response is not None or route.media != "application/json"
        if not declared and not _not_yet(name, route, ANSWER_NOT_YET_DECLARED):
            missing.append(_key(route))
        if declared and _key(route) in ANSWER_NOT_YET_DECLARED.get(name, ()):
            missing.append(f"{_key(route)} is declared now: take it off the list")
    assert not missing, missing


@pytest.mark.parametrize("name", APIS)
def test_every_route_declares_the_query_and_body_it_reads(name):
    undeclared = []
    for route in routes_of(APIS[name]):
        source = inspect.getsource(_handler(APIS[name], route))
        reads_query = "request.args" in source
        reads_body = re.search(r"request\.(get_data|json|get_json|form|data)\b", source)
        if _not_yet(name, route, INPUT_NOT_YET_DECLARED):
            continue
        if reads_query and route.query is None:
            undeclared.append(f"{_key(route)}: query")
        if reads_body and route.body is None:
            undeclared.append(f"{_key(route)}: body")
    assert not undeclared, undeclared


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@pytest.mark.parametrize("name", APIS)
def test_the_document_holds_together(name):
    document = openapi_document(APIS[name], f"Peerlink {name}")
    assert document["openapi"] == "3.0.3"
    schemas = document["components"].get("schemas", {})
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    for schema_name, schema in schemas.items():
        jsonschema.Draft4Validator.check_schema(schema)
        assert schema["type"] == "object", schema_name
    for path, operations in document["paths"].items():
        named = set(re.findall(r"\{([a-z_]+)\}", path))
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation["summary"], where
            parameters = operation.get("parameters", [])
            assert {p["name"] for p in parameters if p["in"] == "path"} == named, where
            for parameter in parameters:
                assert parameter["in"] in ("path", "query"), where
                assert "type" in parameter["schema"], (where, parameter)
                jsonschema.Draft4Validator.check_schema(parameter["schema"])
            success = [code for code in operation["responses"] if code[0] in "23"]
            assert len(success) == 1, where
            for code, answer in operation["responses"].items():
                assert answer["description"], (where, code)
            if operation.get("security"):
                assert {"401", "403"} <= set(operation["responses"]), where
            if named:
                assert "404" in operation["responses"], where
            if "requestBody" in operation:
                assert {"413", "422"} <= set(operation["responses"]), where


@pytest.mark.parametrize("name", APIS)
def test_a_body_is_documented_as_required_exactly_when_a_field_of_it_is(name):
    # an empty body reads as {}, so a body with nothing required may be left out altogether
    document = openapi_document(APIS[name], f"Peerlink {name}")
    for route in routes_of(APIS[name]):
        if route.body is None:
            continue
        operation = document["paths"][re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.path)]
        body = operation[route.method.lower()]["requestBody"]
        has_required = any(field.required for field in route.body().fields.values())
        assert body["required"] is has_required, _key(route)


@pytest.mark.parametrize("name", ["safeguarding", "reporting", "worker"])
def test_every_query_parameter_is_described(name):
    document = openapi_document(APIS[name], f"Peerlink {name}")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and parameter["name"] not in (
                    "status",
                    "severity",
                    "overdue",
                    "raised_by",
                ):
                    assert parameter.get("description"), (method, path, parameter["name"])


def test_the_hub_declares_each_report_query_parameter_with_its_code_list():
    document = openapi_document(ReportingService, "Peerlink reporting")
    operation = document["paths"]["/reports/{name}"]["get"]
    query = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert set(query) == {"partner", "from", "to", "as_at", "format"}
    assert query["partner"]["schema"]["items"]["enum"] == ["leeds-mind", "lslcs", "mesmac"]
    assert query["partner"]["explode"] is True
    assert query["format"]["schema"] == {
        "type": "string",
        "default": "json",
        "enum": ["json", "csv"],
    }
    assert "published cut-off" in query["as_at"]["description"]
    assert "financial year" in query["from"]["description"]
    answers = operation["responses"]["200"]["content"]
    assert answers["application/json"]["schema"] == {"$ref": "#/components/schemas/ReportOut"}
    assert "text/csv" in answers
    dashboard = document["paths"]["/dashboard"]["get"]
    assert {p["name"] for p in dashboard["parameters"]} == {"partner", "year", "as_at"}
    cutoffs = document["paths"]["/reports/cutoffs"]
    assert set(cutoffs) == {"get", "post"}


def test_the_safeguarding_document_shows_the_concern_read_and_the_revision_reason():
    document = openapi_document(SafeguardingService, "Peerlink safeguarding")
    read = document["paths"]["/concerns/{concern_id}"]["get"]
    assert read["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ConcernRead"
    }
    decide = document["components"]["schemas"]["DecideConcernBody"]["properties"]
    assert "revision_reason" in decide
    events = document["components"]["schemas"]["TimelineStep"]["properties"]["event_type"]
    assert "ConcernDecisionRevised" in events["enum"]


def test_the_worker_documents_its_own_port():
    document = openapi_document(WorkerApi, "Peerlink node worker")
    assert set(document["paths"]) == {"/health", "/metrics", "/openapi.json"}
    assert document["paths"]["/metrics"]["get"]["security"] == [{"bearer": []}]
    assert "503" in document["paths"]["/health"]["get"]["responses"]


def _sessions_schemas() -> dict:
    return openapi_document(SessionsService, "Peerlink sessions")["components"]["schemas"]


def test_the_sessions_document_shows_a_plans_content_for_each_kind():
    # given the sessions document
    schemas = _sessions_schemas()
    # when a plan is read, drafted or revised
    for name in ("PlanOut", "DraftPlanBody", "RevisePlanBody"):
        content = schemas[name]["properties"]["content"]
        # then its content shows the shape of each kind, with its code lists
        shapes = {shape["title"]: shape for shape in content["anyOf"]}
        assert set(shapes) == {"recovery_wellbeing", "crisis_safety", "carer_crisis"}, name
        goal = shapes["recovery_wellbeing"]["properties"]["goals"]["items"]
        assert "housing" in goal["properties"]["life_area"]["enum"]
        assert "replacement_care" in shapes["carer_crisis"]["properties"]
        assert "replacement_care" not in shapes["crisis_safety"]["properties"]


def test_the_sessions_document_lists_each_measures_items():
    from contracts.sessions.measures import SWEMWBS

    # given the sessions document, when a measure is recorded
    answers = _sessions_schemas()["RecordMeasureBody"]["properties"]["answers"]
    shapes = {shape["title"]: shape for shape in answers["anyOf"]}
    # then SWEMWBS's seven items are named, each answered 1 to 5
    swemwbs = shapes["swemwbs"]
    assert swemwbs["required"] == list(SWEMWBS.items)
    assert {(p["minimum"], p["maximum"]) for p in swemwbs["properties"].values()} == {(1, 5)}
    jsonschema.validate({item: 3 for item in SWEMWBS.items}, swemwbs)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({item: 3 for item in SWEMWBS.items[1:]}, swemwbs)


def test_the_sessions_answers_carry_their_code_lists():
    schemas = _sessions_schemas()
    assert schemas["SessionOut"]["properties"]["status"]["enum"] == [
        "booked",
        "held",
        "cancelled",
        "voided",
    ]
    attendance = schemas["AttendanceOut"]["properties"]
    assert "did_not_attend" in attendance["status"]["enum"]
    assert "unknown" in schemas["SignpostingOut"]["properties"]["outcome"]["enum"]
    assert (
        "swemwbs" in schemas["PersonMeasuresOut"]["properties"]["measures_known"]["items"]["enum"]
    )


def _answer_fields(schema_cls) -> set[str]:
    return {field.data_key or name for name, field in schema_cls().fields.items()}


def test_each_record_answer_names_exactly_what_the_record_holds():
    from services.sessions import api_answers as answers
    from services.sessions import domain
    from services.sessions import outcomes as sessions

    # given each record as a handler answers it
    records = {
        answers.SessionOut: domain.Session("s").as_dict(),
        answers.GroupOut: domain.Group("g").as_dict(),
        answers.PlanOut: domain.Plan("p").as_dict(),
        answers.SignpostingOut: domain.Signposting("x").as_dict(),
        answers.PersonMeasuresOut: sessions.measures_body(
            domain.PersonMeasures("00000000-0000-0000-0000-000000000001")
        ),
    }
    # then its declared answer has the same fields, no more, no fewer
    for schema_cls, body in records.items():
        assert _answer_fields(schema_cls) == set(body), schema_cls.__name__
