"""The web app's calls to its node's services, made with the signed-in person's own access token:
every access rule, validation and audit stays in those services. Their refusals come back as
`Refused`, which pages turn into an error summary linked to the fields it names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

import requests

SERVICES = ("referrals", "sessions", "safeguarding")
TIMEOUT_SECONDS = 10
# a refusal of the person themselves (403) names its rule in its message: "... (rule Name)"
_RULE_IN_MESSAGE = re.compile(r"\(rule ([A-Z][A-Za-z0-9]+)\)")


class Unavailable(Exception):
    """A node service did not answer (down, or too slow)."""


@dataclass
class Refused(Exception):
    """A 4xx answer from a node service: what it said, and the fields it named."""

    status: int
    code: str
    message: str
    fields: dict = field(default_factory=dict)
    rule: str | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def field_errors(self) -> dict[str, str]:
        """Each named field (dotted for nested ones: content.goals, items.0) and its message."""
        found: dict[str, str] = {}

        def walk(value, prefix: str) -> None:
            if isinstance(value, dict):
                for name, inner in value.items():
                    walk(inner, f"{prefix}.{name}" if prefix else str(name))
            elif isinstance(value, list):
                texts = [str(item) for item in value if not isinstance(item, dict | list)]
                if texts:
                    found[prefix] = " ".join(texts)
                for item in value:
                    if isinstance(item, dict | list):
                        walk(item, prefix)
            else:
                found[prefix] = str(value)

        walk(self.fields or {}, "")
        return found


@dataclass(frozen=True)
class Endpoints:
    """Where the node's services answer (WebSettings)."""

    urls: dict[str, str]


class NodeApi:
    """One signed-in person's calls to the node's services."""

    def __init__(self, endpoints: Endpoints, http: requests.Session, token: str):
        self.endpoints = endpoints
        self.http = http
        self.token = token

    def get(self, service: str, path: str, **params):
        return self._call("GET", service, path, params=_clean(params))[0]

    def get_with_version(self, service: str, path: str, **params) -> tuple[dict, str | None]:
        """The record and its version (the ETag, to send back as If-Match)."""
        return self._call("GET", service, path, params=_clean(params))

    def post(self, service: str, path: str, body: dict | None = None, version: str | None = None):
        headers = {"If-Match": version} if version else {}
        return self._call("POST", service, path, json=body or {}, headers=headers)[0]

    def _call(self, method: str, service: str, path: str, headers=None, **kwargs):
        url = self.endpoints.urls[service] + path
        try:
            answer = self.http.request(
                method,
                url,
                headers={"Authorization": f"Bearer {self.token}", **(headers or {})},
                timeout=TIMEOUT_SECONDS,
                **kwargs,
            )
        except requests.RequestException as error:
            raise Unavailable(f"the {service} service did not answer") from error
        if answer.status_code >= 500:
            raise Unavailable(f"the {service} service answered {answer.status_code}")
        try:
            body = answer.json() if answer.content else {}
        except ValueError:
            body = {}
        if answer.status_code >= 400:
            message = str(body.get("message", answer.reason))
            # only there: a field's own message may name a rule that is not the whole answer's
            named = _RULE_IN_MESSAGE.search(message) if answer.status_code == 403 else None
            raise Refused(
                status=answer.status_code,
                code=str(body.get("error", "refused")),
                message=message,
                fields=body.get("fields") or {},
                rule=body.get("rule") or (named.group(1) if named else None),
            )
        return body, answer.headers.get("ETag")


def segment(value: str) -> str:
    """A value placed in a path, never able to change the path."""
    return quote(str(value), safe="")


def _clean(params: dict) -> dict:
    return {name: value for name, value in params.items() if value not in (None, "")}
