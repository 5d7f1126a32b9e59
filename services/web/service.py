"""The people's web app of a partner node: signing in at the partner's OpenID provider and the
home page. Sessions are kept server-side (sessions.py); later pages call the node's services
with the signed-in person's access token, so every access rule stays in those services."""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from datetime import UTC, datetime

import jwt
import requests
from nameko.extensions import DependencyProvider
from psycogreen.eventlet import patch_psycopg
from werkzeug.wrappers import Response

from services.web import pages
from services.web.api import Endpoints
from services.web.app import safe_next, signed_in
from services.web.assets import AssetFiles
from services.web.sessions import PendingLogin, SessionStore
from services.web.settings import WebSettings
from services.web.signin import RelyingParty, SignInFailed, is_same_state, pkce_pair
from services.web.views.admin import AdminPages
from services.web.views.concerns import RaisingConcerns
from services.web.views.day import my_day
from services.web.views.groups import GroupPages
from services.web.views.outcomes import OutcomePages
from services.web.views.people import PeoplePages
from services.web.views.plans import PlanPages
from services.web.views.referrals import ReferralPages
from services.web.views.safeguarding import SafeguardingPages
from services.web.views.sessions import SessionPages
from services.web.views.team import TeamPages
from shared.auth import Forbidden, Unauthenticated
from shared.config import Settings
from shared.db import Database, is_database_error
from shared.service import Described, NodeSettings
from shared.settings import settings_of
from shared.web import RETRY_AFTER_SECONDS, Health, Verifier, json_response, route
from shared.webserver import http as plain_http

patch_psycopg()

log = logging.getLogger(__name__)

SESSION_COOKIE = "peerlink_session"
LOGIN_COOKIE = "peerlink_login"


def now() -> datetime:
    return datetime.now(UTC)


class Sessions(DependencyProvider):
    """The node's session store (schema `web` of its database)."""

    def setup(self):
        settings = Settings.from_environment(self.container.service_name)
        self.db = Database(settings.database_url, maxconn=8, application_name="web")
        self.store = SessionStore(self.db)

    def stop(self):
        self.db.close()

    def get_dependency(self, worker_ctx):
        return self.store


class NodeEndpoints(DependencyProvider):
    """Where the node's services answer, from the web app's settings."""

    def setup(self):
        config = settings_of(WebSettings)
        self.endpoints = Endpoints(
            {
                "referrals": config.referrals_url,
                "sessions": config.sessions_url,
                "safeguarding": config.safeguarding_url,
            }
        )

    def get_dependency(self, worker_ctx):
        return self.endpoints


class HttpClient(DependencyProvider):
    """One pool of connections to the node's services, shared by every page."""

    def setup(self):
        self.http = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)

    def stop(self):
        self.http.close()

    def get_dependency(self, worker_ctx):
        return self.http


class SignIn(DependencyProvider):
    """The web app as a client of the partner's provider, from PEERLINK_OIDC_ISSUER and
    PEERLINK_WEB_*; read once at start."""

    def setup(self):
        self.relying_party = RelyingParty.from_environment()

    def get_dependency(self, worker_ctx):
        return self.relying_party


def cookie_name(base: str, is_secure: bool) -> str:
    # over https the browser keeps a __Host- cookie to this host and path, sent only securely
    return f"__Host-{base}" if is_secure else base


def page(fn):
    """A page's failures as pages: what went wrong in words and a way on, never a trace."""

    @functools.wraps(fn)
    def wrapper(self, request, principal, **kwargs):
        issuer = self.signin.issuer
        try:
            return fn(self, request, principal, **kwargs)
        except SignInFailed as failure:
            return pages.problem(issuer, failure.status, failure.title, failure.message)
        except Exception as error:  # noqa: BLE001 - the person gets a page, the log the trace
            if is_database_error(error):
                raise  # the app's own database is away: tried again, then an outage page
            request_id = getattr(request, "peerlink_request_id", None)
            log.exception("page %s failed (request %s)", request.path, request_id)
            return pages.problem(
                issuer,
                500,
                "Sorry, there is a problem with Peerlink",
                "Try again later.",
                retry="/",
                retry_words="Try again",
                request_id=request_id,
            )

    return wrapper


class WebService(
    RaisingConcerns,
    SafeguardingPages,
    SessionPages,
    GroupPages,
    PlanPages,
    OutcomePages,
    ReferralPages,
    PeoplePages,
    TeamPages,
    AdminPages,
    Described,
):
    """The people's pages of a partner node: sign-in with the partner's OpenID provider
    (authorization code with PKCE), server-side sessions, and the pages of a day's work, each
    calling the node's services with the signed-in person's token."""

    name = "web"
    settings = NodeSettings()
    verifier = Verifier()
    sessions = Sessions()
    signin = SignIn()
    assets = AssetFiles()
    endpoints = NodeEndpoints()
    http = HttpClient()

    # -- pages -------------------------------------------------------------------------------

    @route(
        "GET",
        "/",
        public=True,
        media="text/html",
        summary="The home page: sign in, or who is signed in",
    )
    @page
    def home(self, request, principal):
        secret = request.cookies.get(self._cookie(SESSION_COOKIE))
        session = self.sessions.find(secret, now())
        if session is not None:
            return self.my_day(request, principal)
        body = pages.render("home.html", title="Sign in", session=None)
        response = pages.html(body, self.signin.issuer)
        if secret:
            self._forget(response, SESSION_COOKIE)
        return response

    @signed_in()
    def my_day(self, page):
        return page.render("day/my_day.html", title="My day", day=my_day(page))

    @route(
        "GET",
        "/static/<string:name>",
        public=True,
        media="text/css",
        summary="The pages' stylesheets and scripts (the NHS.UK frontend, served here)",
    )
    def static(self, request, principal, name):
        return self.assets.response(name)

    @route(
        "GET",
        "/assets/images/<string:name>",
        public=True,
        media="image/svg+xml",
        summary="The NHS.UK frontend's icons",
    )
    def images(self, request, principal, name):
        return self.assets.image(name)

    @route(
        "GET",
        "/session/keep-alive",
        public=True,
        status=204,
        media="text/plain",
        summary="Keep a signed-in session from ending while the person is still working",
    )
    def keep_alive(self, request, principal):
        session = self.sessions.find(request.cookies.get(self._cookie(SESSION_COOKIE)), now())
        return Response(
            status=204 if session is not None else 401, headers={"Cache-Control": "no-store"}
        )

    # any other address: a page saying there is no such page, with a way home (not part of
    # the documented interface, so a plain entrypoint rather than a documented route)
    @plain_http("GET", "/<path:anything>")
    def not_found(self, request, anything):
        return pages.problem(
            self.signin.issuer,
            404,
            "Page not found",
            "If you typed the web address, check it is correct. If you followed a link, the "
            "record may have moved or may not be one you can see.",
            retry="/",
            retry_words="Go to My day",
        )

    # -- signing in and out ------------------------------------------------------------------

    @route(
        "GET",
        "/auth/login",
        public=True,
        status=303,
        media="text/html",
        summary="Start signing in at the provider",
    )
    @page
    def login(self, request, principal):
        verifier, challenge = pkce_pair()
        pending = PendingLogin(
            state=_random(),
            nonce=_random(),
            code_verifier=verifier,
            created_at=now(),
            next_path=safe_next(request.args.get("next")),
        )
        # after "Sign in with another account" the provider asks for a password again
        prompt = "login" if request.args.get("prompt") == "login" else None
        location = self.signin.authorization_url(pending.state, pending.nonce, challenge, prompt)
        secret = self.sessions.begin_login(pending)
        response = pages.see_other(location, self.signin.issuer)
        self._set(response, LOGIN_COOKIE, secret, max_age=600)
        return response

    @route(
        "GET",
        "/auth/callback",
        public=True,
        status=303,
        media="text/html",
        summary="Finish signing in with the provider's answer",
    )
    @page
    def callback(self, request, principal):
        issuer = self.signin.issuer
        pending = self.sessions.take_login(request.cookies.get(self._cookie(LOGIN_COOKIE)), now())
        if request.args.get("error"):
            return self._refused(
                pages.problem(
                    issuer,
                    400,
                    "You are not signed in",
                    "Signing in did not finish at your organisation's sign-in service.",
                )
            )
        if pending is None:
            return self._refused(
                pages.problem(
                    issuer,
                    400,
                    "Your sign-in has expired",
                    "Signing in took longer than 10 minutes or was started in another browser "
                    "window. Sign in again.",
                )
            )
        code = request.args.get("code")
        if not is_same_state(pending.state, request.args.get("state")) or not code:
            return self._refused(
                pages.problem(
                    issuer,
                    400,
                    "Your sign-in could not be checked",
                    "The answer from the sign-in service does not belong to this browser's "
                    "sign-in. Sign in again.",
                )
            )
        tokens = self.signin.exchange(code, pending.code_verifier)
        try:
            identity = self.signin.check_id_token(tokens.id_token, pending.nonce)
            person = self.verifier.verify(tokens.access_token)
        except Forbidden as refusal:
            return self._refused(
                pages.problem(
                    issuer,
                    403,
                    "You cannot use Peerlink with this account",
                    str(refusal),
                    retry="/auth/login?prompt=login",
                    retry_words="Sign in with another account",
                )
            )
        except Unauthenticated as error:
            log.warning("sign-in refused: %s", error)
            return self._refused(
                pages.problem(
                    issuer,
                    502,
                    "Your sign-in could not be checked",
                    "The sign-in service answered with something Peerlink cannot accept. "
                    "Sign in again; if it keeps happening, tell your organisation's Peerlink "
                    "administrator.",
                )
            )
        # the token verified above: its claims are read as they are
        claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
        if person.partner_id != self.settings.partner_id or claims.get("sub") != identity["sub"]:
            log.warning("sign-in refused: the access token is not the ID token's person's")
            return self._refused(
                pages.problem(
                    issuer,
                    403,
                    "You cannot use Peerlink with this account",
                    "The sign-in service vouched for someone else than who signed in.",
                )
            )
        self.sessions.end(request.cookies.get(self._cookie(SESSION_COOKIE)))
        secret, _ = self.sessions.start(
            now(),
            user_id=person.user_id,
            name=str(claims.get("name") or identity.get("name") or person.user_id),
            role=person.role,
            access_token=tokens.access_token,
            access_token_expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            id_token=tokens.id_token,
        )
        log.info("signed in %s as %s", person.user_id, person.role)
        response = pages.see_other(safe_next(pending.next_path), issuer)
        self._forget(response, LOGIN_COOKIE)
        self._set(response, SESSION_COOKIE, secret)
        return response

    @route(
        "POST",
        "/auth/logout",
        public=True,
        status=303,
        media="text/html",
        summary="Sign out here and at the provider",
    )
    @page
    def logout(self, request, principal):
        issuer = self.signin.issuer
        secret = request.cookies.get(self._cookie(SESSION_COOKIE))
        session = self.sessions.find(secret, now())
        if session is None:
            response = pages.see_other("/", issuer)
            self._forget(response, SESSION_COOKIE)
            return response
        given = request.form.get("csrf_token", "")
        if not hmac.compare_digest(given.encode(), session.csrf_token.encode()):
            return pages.problem(
                issuer,
                403,
                "You have not been signed out",
                "The sign-out button was not one of this page's. Go to the home page and press "
                "Sign out there.",
                retry=None,
            )
        self.sessions.end(secret)
        log.info("signed out %s", session.user_id)
        try:
            location = self.signin.end_session_url(session.id_token) or "/"
        except SignInFailed:
            response = pages.problem(
                issuer,
                200,
                "You have signed out of Peerlink",
                "Your organisation's sign-in service could not be reached, so you may still be "
                "signed in there. Close the browser to be sure.",
                retry=None,
            )
        else:
            response = pages.see_other(location, issuer)
        self._forget(response, SESSION_COOKIE)
        return response

    # -- operations --------------------------------------------------------------------------

    def unavailable_page(self, request, request_id: str) -> Response:
        """What a page answers while the app's own database is away (the HTTP edge asks)."""
        response = pages.problem(
            self.signin.issuer,
            503,
            "Sorry, Peerlink is not working right now",
            "Peerlink could not reach its records, so what you sent may not have been saved. In "
            "a minute, look at the record again before trying once more.",
            retry=request.full_path.rstrip("?") if request.method == "GET" else "/",
            retry_words="Try again",
            request_id=request_id,
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @route(
        "GET",
        "/health",
        public=True,
        response=Health,
        summary="Check the database and the sign-in provider",
    )
    def health(self, request, principal):
        checks = {}
        try:
            self.sessions.db.ping()
            checks["database"] = "ok"
        except Exception as error:  # noqa: BLE001 - reported, not raised
            checks["database"] = f"unavailable: {type(error).__name__}"
        checks["provider"] = "ok" if self.signin.is_answering() else "unavailable"
        healthy = all(value == "ok" for value in checks.values())
        return json_response(
            200 if healthy else 503,
            {"status": "ok" if healthy else "unhealthy", "checks": checks},
        )

    # -- cookies -----------------------------------------------------------------------------

    def _cookie(self, base: str) -> str:
        return cookie_name(base, self.signin.is_secure)

    def _set(self, response: Response, base: str, value: str, max_age: int | None = None):
        response.set_cookie(
            self._cookie(base),
            value,
            max_age=max_age,
            path="/",
            secure=self.signin.is_secure,
            httponly=True,
            samesite="Lax",
        )

    def _forget(self, response: Response, base: str) -> None:
        response.delete_cookie(
            self._cookie(base),
            path="/",
            secure=self.signin.is_secure,
            httponly=True,
            samesite="Lax",
        )

    def _refused(self, response: Response) -> Response:
        self._forget(response, LOGIN_COOKIE)
        return response


def _random() -> str:
    return secrets.token_urlsafe(32)
