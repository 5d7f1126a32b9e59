"""The HTTP edge of every service: authentication, validation, error mapping, metrics and the
OpenAPI document, wrapped around nameko's `http` entrypoint once for all services."""

from __future__ import annotations

import functools
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate
from marshmallow.types import UnknownOption
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from shared import metrics
from shared.aggregate import ReferenceRefused, RuleBroken
from shared.auth import (
    HUB_PARTNER,
    Forbidden,
    Principal,
    Unauthenticated,
    principal_from_header,
)
from shared.db import DatabaseUnavailable, is_database_error, unit_of_work
from shared.events import Actor, Context, EnvelopeSchema, EventError, InvalidPayload
from shared.eventstore import ConcurrencyError, DuplicateEventId
from shared.fields import Text as Text  # free text in a body: where request schemas find it
from shared.webserver import http

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
# What a 503 asks a client to wait before trying again: a restarted database takes a few seconds
# to accept connections, and a pool reconnects on its next request.
RETRY_AFTER_SECONDS = 5


def context_of(principal: Principal, request) -> Context:
    """Who acts, for the events of this request; X-Correlation-Id ties a chain of requests."""
    correlation = request.headers.get("X-Correlation-Id")
    try:
        correlation_id = uuid.UUID(correlation) if correlation else uuid.uuid4()
    except ValueError:
        raise BadRequest("X-Correlation-Id", "must be a UUID") from None
    return Context(
        partner_id=principal.partner_id,
        actor=Actor(principal.user_id, principal.role),
        correlation_id=correlation_id,
    )


class NotFound(Exception):
    """No such record for this caller: also what another partner's record looks like."""


class TooLarge(Exception):
    """A body larger than MAX_BODY_BYTES: 413, read no further."""


class BadRequest(Exception):
    def __init__(self, field_name: str, rule: str):
        super().__init__(f"{field_name}: {rule}")
        self.field_name = field_name
        self.rule = rule


def expected_version(request, body: dict) -> int | None:
    """The version the client saw: an If-Match header ("3" or W/"3") or `expected_version`."""
    header = request.headers.get("If-Match")
    if header:
        value = header.strip().removeprefix("W/").strip('"')
        if not value.isdigit():
            raise BadRequest("If-Match", 'must be the record\'s version, e.g. "3"')
        return int(value)
    return body.get("expected_version")


def json_default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(status: int, body, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(body, default=json_default),
        status=status,
        mimetype="application/json",
        headers=headers or {},
    )


def _error(
    status: int, code: str, message: str, request_id: str, headers: dict | None = None, **extra
) -> Response:
    return json_response(
        status,
        {"error": code, "message": message, "request_id": request_id, **extra},
        headers={"X-Request-Id": request_id, **(headers or {})},
    )


def unavailable_response(request_id: str) -> Response:
    """503: the database is away (restarting, say); nothing is wrong with the request."""
    return _error(
        503,
        "unavailable",
        "the database is not answering just now; try again in a few seconds",
        request_id,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def error_response(error: Exception, request_id: str) -> Response:
    if isinstance(error, Unauthenticated):
        return _error(401, "unauthenticated", str(error), request_id)
    if isinstance(error, Forbidden):
        return _error(403, "forbidden", str(error), request_id)
    if isinstance(error, NotFound):
        return _error(404, "not_found", str(error) or "no such record", request_id)
    if isinstance(error, TooLarge):
        return _error(413, "too_large", str(error), request_id)
    if isinstance(error, ValidationError):
        messages = error.normalized_messages()
        return _error(422, "invalid", _describe(messages), request_id, fields=messages)
    if isinstance(error, InvalidPayload):
        return _error(422, "invalid", str(error), request_id, fields=error.messages)
    if isinstance(error, BadRequest):
        return _error(
            422, "invalid", str(error), request_id, fields={error.field_name: [error.rule]}
        )
    if isinstance(error, ReferenceRefused):
        return _error(
            422,
            "invalid",
            f"{error.field_name}: {error.message}",
            request_id,
            fields={error.field_name: [error.message]},
            rule=error.rule,
        )
    if isinstance(error, EventError):
        return _error(422, "invalid", str(error), request_id)
    if isinstance(error, ConcurrencyError):
        return _error(
            409,
            "conflict",
            str(error),
            request_id,
            expected_version=error.expected_version,
            actual_version=error.actual_version,
        )
    if isinstance(error, DuplicateEventId):
        return _error(409, "conflict", str(error), request_id)
    if isinstance(error, RuleBroken):
        # a rule may name what the caller needs to decide (e.g. the candidates to link to)
        details = getattr(error, "details", None) or {}
        return _error(409, "rule_broken", error.message, request_id, rule=error.rule, **details)
    if is_database_error(error):
        log.warning("request %s: the database is unavailable: %s", request_id, error)
        return unavailable_response(request_id)
    log.exception("request %s failed", request_id, exc_info=error)
    return _error(500, "internal", "something went wrong; quote the request id", request_id)


def _describe(messages: dict, prefix: str = "") -> str:
    parts = []
    for name, value in messages.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict):
            parts.append(_describe(value, f"{path}."))
        else:
            parts.append(f"{path}: {' '.join(str(v) for v in value)}")
    return "; ".join(parts)


# The verbs a route's summary starts with when it says what the route does, so a refusal reads
# "a <role> may not <summary>"; a summary naming what a GET route shows reads "may not read ...".
IMPERATIVES = frozenset(
    [
        "accept",
        "acknowledge",
        "add",
        "allocate",
        "book",
        "cancel",
        "change",
        "check",
        "close",
        "complete",
        "confirm",
        "correct",
        "count",
        "create",
        "decide",
        "decline",
        "discharge",
        "dismiss",
        "draft",
        "erase",
        "find",
        "finish",
        "flag",
        "list",
        "offer",
        "put",
        "raise",
        "read",
        "record",
        "register",
        "remove",
        "resume",
        "revise",
        "run",
        "seal",
        "sign",
        "start",
        "take",
        "void",
        "withdraw",
        "write",
    ]
)


def forbidden_phrase(spec: RouteSpec) -> str:
    """What a role may not do on this route, as the words after "may not"."""
    summary = spec.summary[0].lower() + spec.summary[1:]
    if summary.split()[0] in IMPERATIVES:
        return summary
    return f"read {summary}" if spec.method == "GET" else f"use this route ({summary})"


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    roles: tuple[str, ...]
    summary: str
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    response: type[Schema] | None = None
    status: int = 200
    public: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)
    # what a success answers when not JSON: text/html pages, text/plain metrics
    media: str = "application/json"


# JSON deeper than this is no record Peerlink keeps
MAX_DEPTH = 16
# what a PostgreSQL bigint holds: no number outside it reaches the database
BIGINT = 2**63 - 1
# PostgreSQL's timestamptz takes a UTC offset of less than 16 hours; Python's, of less than 24
MAX_UTC_OFFSET = timedelta(hours=16)


def read_body(request) -> bytes:
    """The body, refused (413) before it is read when it says it is too large, and never read
    past the limit when it does not say."""
    read = getattr(request, "peerlink_body", None)
    if read is not None:  # a request run again reads the body it was sent
        return read
    declared = request.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise TooLarge(f"a body is at most {MAX_BODY_BYTES} bytes")
    raw = request.stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise TooLarge(f"a body is at most {MAX_BODY_BYTES} bytes")
    request.peerlink_body = raw
    return raw


# What no text may hold: a NUL, or half of a surrogate pair (which JSON's \u escapes can carry).
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def check_values(value, where: str, depth: int = 0) -> None:
    """Refuses, naming the field, what no record should hold: nesting deeper than MAX_DEPTH,
    a NUL or an unpaired surrogate in text (in names too), an integer a bigint cannot hold, a
    moment whose UTC offset the database cannot hold."""
    if depth > MAX_DEPTH:
        raise BadRequest(where, f"must not be nested more than {MAX_DEPTH} deep")
    if isinstance(value, datetime):
        offset = value.utcoffset()
        if offset is not None and abs(offset) >= MAX_UTC_OFFSET:
            raise BadRequest(where, "must have a UTC offset between -15:59 and +15:59")
    elif isinstance(value, str):
        if _BAD_TEXT.search(value) is not None:
            if "\x00" in value:
                raise BadRequest(where, "must not contain a NUL character")
            raise BadRequest(where, "must be valid Unicode text (an unpaired surrogate)")
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not -BIGINT - 1 <= value <= BIGINT:
            raise BadRequest(where, f"must be between {-BIGINT - 1} and {BIGINT}")
    elif isinstance(value, dict):
        for name, inner in value.items():
            path = f"{where}.{name}" if where != "body" else str(name)
            check_values(name, path, depth + 1)
            check_values(inner, path, depth + 1)
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            check_values(inner, f"{where}.{index}" if where != "body" else str(index), depth + 1)


@functools.cache
def instance_of(schema: type[Schema], unknown: UnknownOption | None = None) -> Schema:
    """The one instance of `schema` that every request shares. Making a schema copies each of
    its fields and those of the schemas nested in it, which costs more than most loads and
    dumps; an instance keeps nothing of a call (marshmallow 4 has no schema context).
    `unknown`: what a load does with fields the schema does not name (None: as its Meta says)."""
    return schema(unknown=unknown)


def _load_body(request, schema: type[Schema]) -> dict:
    raw = read_body(request)
    try:
        data = json.loads(raw or b"{}")
    except RecursionError:
        raise BadRequest("body", f"must not be nested more than {MAX_DEPTH} deep") from None
    except ValueError:
        raise BadRequest("body", "must be a JSON object") from None
    if not isinstance(data, dict):
        raise BadRequest("body", "must be a JSON object")
    check_values(data, "body")
    loaded = instance_of(schema, RAISE).load(data)
    check_values(loaded, "body")
    return loaded


def _load_query(request, schema: type[Schema]) -> dict:
    """A query's fields; a list field (e.g. `partner`) may be given more than once, any other
    field once (`?from=2026-04-01&from=2026-05-01` is refused, not read as its first)."""
    loader = instance_of(schema, RAISE)
    repeated = {
        field.data_key or name
        for name, field in loader.fields.items()
        if isinstance(field, fields.List)
    }
    args = request.args
    for name in args:
        if name not in repeated and len(args.getlist(name)) > 1:
            raise BadRequest(name, "may be given once")
    given = {name: args.getlist(name) if name in repeated else args[name] for name in args}
    for name, value in given.items():
        check_values(name, name)
        check_values(value, name)
    loaded = loader.load(given)
    for name, value in loaded.items():
        check_values(value, name.rstrip("_"))
    return loaded


def request_id_of(request) -> str:
    """The caller's X-Request-Id when it is a UUID (it is logged and stored), else a new one."""
    given = request.headers.get("X-Request-Id", "")
    try:
        return str(uuid.UUID(given)) if given else str(uuid.uuid4())
    except ValueError:
        return str(uuid.uuid4())


def route(
    method: str,
    path: str,
    *,
    roles: tuple[str, ...] = (),
    summary: str,
    body: type[Schema] | None = None,
    query: type[Schema] | None = None,
    response: type[Schema] | None = None,
    status: int = 200,
    public: bool = False,
    media: str = "application/json",
):
    """A nameko http entrypoint that authenticates, checks the role, validates the body and
    query, and maps domain errors to HTTP; the handler gets `(request, principal, **kw)` and
    returns a body (with `status`) or a werkzeug Response."""
    spec = RouteSpec(
        method, path, tuple(roles), summary, body, query, response, status, public, media=media
    )

    def decorate(fn: Callable):
        @functools.wraps(fn)
        def entry(self, request, **params):
            request_id = request_id_of(request)
            started = time.perf_counter()
            try:
                result = _call_once_more(self, fn, spec, request, request_id, params)
            except Exception as error:  # noqa: BLE001 - mapped to an HTTP answer
                # the people's web app answers an outage with a page of its own
                page = getattr(self, "unavailable_page", None)
                if page is not None and is_database_error(error):
                    log.warning("request %s: the database is unavailable: %s", request_id, error)
                    result = page(request, request_id)
                else:
                    result = error_response(error, request_id)
            if not isinstance(result, Response):
                result = json_response(spec.status, result)
            result.headers["X-Request-Id"] = request_id
            service = getattr(self, "name", "unknown")
            metrics.HTTP_REQUESTS.labels(service, path, str(result.status_code)).inc()
            metrics.HTTP_SECONDS.labels(service, path).observe(time.perf_counter() - started)
            return result

        entry.peerlink_route = spec  # type: ignore[attr-defined]
        return http(method, path)(entry)

    return decorate


def _call_once_more(service, fn, spec: RouteSpec, request, request_id: str, params: dict):
    """The request, run once more on a fresh connection when its connection broke before any
    of its writes could have been committed (a connection that died with a restarted server);
    otherwise DatabaseUnavailable reaches the caller (a 503)."""
    with unit_of_work() as unit:
        try:
            return _call(service, fn, spec, request, request_id, params)
        except DatabaseUnavailable as error:
            if error.may_have_committed or unit.committed:
                raise
            log.info("request %s: running it again on a fresh connection: %s", request_id, error)
    metrics.DATABASE_RETRIES.labels(getattr(service, "name", "unknown")).inc()
    with unit_of_work():
        return _call(service, fn, spec, request, request_id, params)


def _call(service, fn, spec: RouteSpec, request, request_id: str, params: dict):
    principal = None
    if not spec.public:
        principal = principal_from_header(service.verifier, request.headers.get("Authorization"))
        if principal.role not in spec.roles:
            article = "an" if principal.role[:1] in "aeiou" else "a"
            raise Forbidden(f"{article} {principal.role} may not {forbidden_phrase(spec)}")
        _require_own_node(service, principal, has_record=bool(params))
        # a member of staff is on their partner's workforce from the first time they act: their
        # provider vouched for them, so others may name them from then on
        workforce = getattr(service, "workforce", None)
        if workforce is not None:
            workforce.sign_in(principal)
    kwargs = dict(params)
    if spec.body is not None:
        kwargs["body"] = _load_body(request, spec.body)
    if spec.query is not None:
        kwargs["query"] = _load_query(request, spec.query)
    request.peerlink_request_id = request_id
    return fn(service, request, principal, **kwargs)


def _require_own_node(service, principal: Principal, has_record: bool) -> None:
    """A partner's node serves its own partner's people and the hub's machine credential; the
    verifier trusts no other issuer, so this only guards against a process set up wrongly."""
    settings = getattr(service, "settings", None)
    node_partner = getattr(settings, "partner_id", None)
    if node_partner is None or principal.partner_id == node_partner:
        return
    if principal.partner_id == HUB_PARTNER and principal.role == "service":
        return
    if has_record:
        raise NotFound("no such record")
    raise Forbidden(f"this node serves {node_partner}; a {principal.partner_id} token may not")


def routes_of(service_cls) -> list[RouteSpec]:
    found = []
    for name in dir(service_cls):
        spec = getattr(getattr(service_cls, name), "peerlink_route", None)
        if spec is not None:
            found.append(spec)
    return sorted(found, key=lambda r: (r.path, r.method))


_PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


class Problem(Schema):
    """Every refusal and failure: what went wrong, the field or rule, and the request's id."""

    error = fields.String(
        required=True,
        validate=validate.OneOf(
            (
                "unauthenticated",
                "forbidden",
                "not_found",
                "conflict",
                "rule_broken",
                "invalid",
                "too_large",
                "unavailable",
                "internal",
            )
        ),
    )
    message = fields.String(required=True)
    request_id = fields.String(required=True)
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        metadata={"description": "422: each field refused, with why"},
    )
    rule = fields.String(metadata={"description": "409 or 422: the named rule refused"})
    expected_version = fields.Integer(allow_none=True, metadata={"description": "409: yours"})
    actual_version = fields.Integer(metadata={"description": "409: the record's"})
    candidates = fields.List(
        fields.String(),
        metadata={
            "description": "409 TransferredPersonMayBeRegisteredHere: the people of this node"
            " who may be the person transferred (link to one, or register them as new)"
        },
    )


# what each status means on every route (README: "What a status code means")
_PROBLEMS = {
    "401": "no token, or one this service does not trust",
    "403": "the role may not do this",
    "404": "no such record, or one of another partner",
    "409": "a named rule refuses it in the record's state, or the version is stale",
    "413": "the body is larger than the service takes",
    "422": "invalid input, naming each field and rule",
    "503": "a database or broker it needs is down (Retry-After says when to try again)",
}


def _documented(converter, field, **kwargs) -> dict:
    """A field's own OpenAPI words (metadata "openapi"), e.g. a plan's content per kind."""
    return dict(field.metadata.get("openapi", {}))


def _problem(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": "Problem"}},
    }


def _success(route_spec: RouteSpec) -> dict:
    ok: dict = {"description": "success"}
    if route_spec.response is not None:
        ok["content"] = {"application/json": {"schema": route_spec.response}}
    elif route_spec.media != "application/json":
        ok["content"] = {route_spec.media: {"schema": {"type": "string"}}}
    query_fields = route_spec.query().fields if route_spec.query is not None else {}
    formats = query_fields.get("format")
    if formats is not None and "csv" in getattr(formats.validate, "choices", ()):
        ok.setdefault("content", {})["text/csv"] = {"schema": {"type": "string"}}
    return ok


def _problems(route_spec: RouteSpec) -> dict:
    codes = []
    if not route_spec.public:
        codes += ["401", "403"]
    if _PARAM.search(route_spec.path):
        codes.append("404")
    if route_spec.method != "GET" and not route_spec.public:
        codes.append("409")
    if route_spec.body is not None:
        codes.append("413")
    if route_spec.body is not None or route_spec.query is not None or route_spec.method != "GET":
        codes.append("422")
    if route_spec.path not in ("/openapi.json", "/metrics"):
        codes.append("503")
    problems = {code: _problem(_PROBLEMS[code]) for code in codes}
    if route_spec.path == "/health":
        problems["503"] = {**_success(route_spec), "description": _PROBLEMS["503"]}
    return problems


def openapi_document(service_cls, title: str, version: str = "1.0.0") -> dict:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title=title,
        version=version,
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": (service_cls.__doc__ or "").strip()},
    )
    assert plugin.converter is not None  # set when the plugin is given to the spec
    plugin.converter.add_attribute_function(_documented)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", schema=Problem)
    for route_spec in routes_of(service_cls):
        path = _PARAM.sub(r"{\1}", route_spec.path)
        operation: dict = {"summary": route_spec.summary, "responses": {}}
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer"}
                if f"<int:{name}>" in route_spec.path
                else {"type": "string"},
            }
            for name in _PARAM.findall(route_spec.path)
        ]
        if route_spec.query is not None:
            # one parameter per field, with its type, code list, default and description
            parameters.append({"in": "query", "schema": route_spec.query})
        if parameters:
            operation["parameters"] = parameters
        if route_spec.body is not None:
            operation["requestBody"] = {
                # an empty body is read as {}: it is enough when no field is required
                "required": any(f.required for f in route_spec.body().fields.values()),
                "content": {"application/json": {"schema": route_spec.body}},
            }
        operation["responses"][str(route_spec.status)] = _success(route_spec)
        if not route_spec.public:
            operation["security"] = [{"bearer": []}]
            operation["description"] = "Roles: " + ", ".join(route_spec.roles)
        operation["responses"].update(_problems(route_spec))
        spec.path(path=path, operations={route_spec.method.lower(): operation})
    return spec.to_dict()


class PageQuery(Schema):
    """Pagination shared by every list endpoint."""

    class Meta:
        unknown = EXCLUDE

    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=500),
        metadata={"description": "At most this many items"},
    )
    offset = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0),
        metadata={"description": "Skip this many items first"},
    )


class EventFeedQuery(Schema):
    after = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0),
        metadata={"description": "Events after this position in the store"},
    )
    limit = fields.Integer(
        load_default=500,
        validate=validate.Range(min=1, max=5000),
        metadata={"description": "At most this many events"},
    )


class Health(Schema):
    status = fields.String(validate=validate.OneOf(("ok", "unhealthy")))
    checks = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": 'Each dependency (database, broker, ...): "ok" or why not'},
    )


class OpenApiDocument(Schema):
    """This document: OpenAPI 3.0."""

    class Meta:
        unknown = "include"

    openapi = fields.String()
    info = fields.Dict()
    paths = fields.Dict()
    components = fields.Dict()


class EventFeed(Schema):
    source = fields.String(metadata={"description": "partner/service"})
    events = fields.List(fields.Nested(EnvelopeSchema))
    next_after = fields.Integer(metadata={"description": "Ask with after= this for the next page"})


class History(Schema):
    """A record's events, oldest first: who did what, when, as the events record it."""

    events = fields.List(fields.Nested(EnvelopeSchema(exclude=("partner_id", "stream_type"))))


class Verifier(DependencyProvider):
    """Checks bearer tokens against the providers this process trusts; built once per
    container from PEERLINK_OIDC_* (see shared/auth.py)."""

    def setup(self):
        from shared.auth import verifier_from_environment
        from shared.config import Settings

        self.verifier = verifier_from_environment(Settings.from_environment().partner_id)

    def get_dependency(self, worker_ctx):
        return self.verifier


def require_partner(principal: Principal | None, partner_id: str) -> None:
    """Another partner's records do not exist for this caller."""
    if principal is not None and principal.partner_id != partner_id:
        raise NotFound("no such record")
