"""The people's pages as HTML: Jinja2 templates (every value escaped), the headers every page
carries, and a role in the words people use."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from werkzeug.utils import redirect
from werkzeug.wrappers import Response

HERE = Path(__file__).resolve().parent

TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

ROLE_WORDS = {
    "peer_worker": "peer worker",
    "team_lead": "team lead",
    "safeguarding_lead": "safeguarding lead",
    "partner_admin": "partner administrator",
    "operator": "operator",
}


def role_in_words(role: str) -> str:
    return ROLE_WORDS.get(role, role.replace("_", " "))


def security_headers(issuer: str) -> dict[str, str]:
    """Nothing but the app's own files, never in a frame, forms only to itself and (through the
    redirects of signing in and out) to the provider; nothing kept in a cache or a referrer."""
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; frame-ancestors 'none'; form-action 'self' {issuer}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def render(name: str, **context) -> str:
    context.setdefault("session", None)
    return TEMPLATES.get_template(name).render(**context)


def html(body: str, issuer: str, status: int = 200) -> Response:
    return Response(
        body,
        status=status,
        content_type="text/html; charset=utf-8",
        headers=security_headers(issuer),
    )


def see_other(location: str, issuer: str) -> Response:
    response = redirect(location, code=303)
    response.headers.update(security_headers(issuer))
    return response


def problem(
    issuer: str,
    status: int,
    title: str,
    message: str,
    retry: str | None = "/auth/login",
    retry_words: str = "Sign in again",
    request_id: str | None = None,
) -> Response:
    """A page saying what went wrong in words, with a way to try again (never a trace)."""
    body = render(
        "problem.html",
        title=title,
        message=message,
        retry=retry,
        retry_words=retry_words,
        request_id=request_id,
    )
    return html(body, issuer, status)
