"""What every signed-in page shares: the person's session, their calls to the node's services,
the form key (CSRF) on every post, the one-time key of a form that makes or changes a record,
staff by name, the menu for their role, and refusals shown as pages.

A page is a method of the web service decorated with `signed_in(...)`; it is given a `Page`:

    @route("GET", "/referrals", public=True, media="text/html", summary="...")
    @signed_in("peer_worker", "team_lead")
    def referrals(self, page: Page):
        data = page.api.get("referrals", "/referrals", state="received")
        return page.render("referrals/list.html", title="Referrals", referrals=data["items"])
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from werkzeug.wrappers import Response

from services.web import pages
from services.web.api import NodeApi, Refused, Unavailable
from services.web.form_keys import is_form_key, new_form_key
from services.web.refusal_words import refusal_words
from services.web.sessions import IDLE_SECONDS, Session, SessionStore
from services.web.staff import staff_names
from shared.db import is_database_error

log = logging.getLogger(__name__)

LONDON = ZoneInfo("Europe/London")
# a page asked for with less than this left on the access token gets a fresh one first
TOKEN_MARGIN = timedelta(minutes=2)

ALL_ROLES = ("peer_worker", "team_lead", "safeguarding_lead", "partner_admin")
CASEWORK = ("peer_worker", "team_lead")

# The menu: (words, address, roles that see it). Every page is at most two clicks from home.
MENU = (
    ("My day", "/", ALL_ROLES),
    ("Referrals", "/referrals", CASEWORK + ("partner_admin",)),
    ("People", "/people", ALL_ROLES),
    ("Record a session", "/sessions/new", CASEWORK),
    ("Groups", "/groups", CASEWORK),
    ("Plans", "/plans", CASEWORK),
    ("Caseloads", "/team", ("team_lead",)),
    ("Safeguarding", "/safeguarding", ALL_ROLES),
    ("Administration", "/admin", ("partner_admin",)),
)

# What a page says after a change, by the key a redirect carries (never text from a URL).
NOTICES = {
    "referral-recorded": "The referral has been recorded.",
    "referral-updated": "The referral has been updated.",
    "person-registered": "The person has been registered.",
    "person-updated": "The person's details have been changed.",
    "session-recorded": "The session has been recorded.",
    "session-booked": "The session has been booked.",
    "session-updated": "The session has been updated.",
    "notes-saved": "The notes have been saved.",
    "measure-recorded": "The measure has been recorded.",
    "signposting-recorded": "The signposting has been recorded.",
    "plan-saved": "The plan has been saved.",
    "plan-reviewed": "The plan's review has been recorded.",
    "group-created": "The group has been created.",
    "group-updated": "The group has been updated.",
    "concern-raised": (
        "The concern has been raised. Your safeguarding lead has been told and will act on it."
    ),
    "concern-updated": "The concern has been updated.",
    "concern-acknowledged": "The concern has been acknowledged.",
    "concern-decided": "The decision has been recorded.",
    "concern-action-added": "The action has been added.",
    "concern-action-completed": "The action has been completed.",
    "concern-note-added": "The note has been added.",
    "concern-closed": "The concern has been closed.",
    "concern-person-recorded": "The person at risk has been recorded on the concern.",
    "person-erased": "The person's identifiers have been erased.",
    "retention-reviewed": "The retention review has run.",
    "worker-updated": "The worker's record has been updated.",
}


class PageRefused(Exception):
    """A page that cannot be shown to this person, with what to tell them."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


@dataclass
class Page:
    """One request of a signed-in person."""

    request: object
    session: Session
    api: NodeApi
    partner_id: str
    issuer: str
    # the web app's own records: form keys, the names people's sign-ins gave
    records: SessionStore
    errors: dict[str, str] = field(default_factory=dict)
    _form_key: str | None = None
    _made_at: str | None = None
    _staff_names: dict[str, str] | None = None

    @property
    def role(self) -> str:
        return self.session.role

    @property
    def user_id(self) -> str:
        return self.session.user_id

    def is_role(self, *roles: str) -> bool:
        return self.session.role in roles

    def require(self, *roles: str) -> None:
        if self.session.role not in roles:
            raise PageRefused(
                403,
                "You cannot use this page",
                f"This page is for {_words_of(roles)}. You are signed in as a "
                f"{pages.role_in_words(self.session.role)}.",
            )

    @property
    def form(self):
        return self.request.form

    @property
    def args(self):
        return self.request.args

    @property
    def form_key(self) -> str:
        """The one-time key of a form that makes a record: the one posted when the form is shown
        again (its errors to correct), otherwise a new one."""
        if self._form_key is None:
            posted = self.request.form.get("form_key", "") if self.request.method == "POST" else ""
            self._form_key = posted if is_form_key(posted) else new_form_key()
        return self._form_key

    def once(self, make: Callable[[], Response]) -> Response:
        """Runs `make` (which sends the form's record or change and answers with where it leads)
        once for the form's key. The same form sent again goes where the first one led, with
        the same notice, and changes nothing more: never a second record, nor a refusal because
        the first moved the record's version on. While the first is still being saved it is
        waited for. A form answered with itself again (its errors) or refused by a service
        saved nothing, so its key may be sent again."""
        key = self.request.form.get("form_key", "")
        if not is_form_key(key):
            raise PageRefused(
                400,
                "Nothing was saved",
                "The form you sent is from an older version of Peerlink. Go back, reload the "
                "page and enter it once more.",
            )
        claim = self.records.form_keys.claim(self.user_id, key, datetime.now(UTC))
        if not claim.is_first:
            if claim.location:
                return pages.see_other(claim.location, self.issuer)
            raise PageRefused(
                409,
                "This form was sent already",
                "The same form was sent twice, and the first is still being saved or did not "
                "finish. Look at the record before entering it again: if what you sent is not "
                "there, open the form afresh and enter it once more.",
            )
        try:
            response = make()
        except (Refused, PageRefused):
            if self._made_at is None:
                self.records.form_keys.give_back(self.user_id, key)
            else:
                self.records.form_keys.made(self.user_id, key, self._made_at)
            raise
        # anything else raised: the record may have been made, so the key is kept
        if self._made_at is None and 300 <= response.status_code < 400 and response.location:
            self._made_at = response.location
        if self._made_at is not None:
            self.records.form_keys.made(self.user_id, key, self._made_at)
        else:
            self.records.form_keys.give_back(self.user_id, key)
        return response

    def staff_names(self) -> dict[str, str]:
        """Sign-in id -> name of every member of staff the node has a name for."""
        if self._staff_names is None:
            self._staff_names = staff_names(self.api, self.role, self.records.staff_names())
        return self._staff_names

    def name_of(self, user_id: str | None) -> str:
        """A member of staff by name, or by their sign-in id where no name is known."""
        if not user_id:
            return ""
        if user_id == self.user_id and self.session.name and self.session.name != user_id:
            return self.session.name
        return self.staff_names().get(user_id, user_id)

    def names_of(self, user_ids) -> str:
        """Members of staff by name, one after another."""
        return ", ".join(self.name_of(user_id) for user_id in user_ids or ())

    def made_at(self, location: str) -> None:
        """The form's record was made, and is at `location`, though the page answers with
        something else (a later part of it refused): the same form sent again goes there."""
        self._made_at = location

    def render(self, template: str, status: int = 200, **context) -> Response:
        context.setdefault("errors", self.errors)
        context.setdefault("back", None)
        notice = NOTICES.get(self.request.args.get("done", ""))
        context.setdefault("notice", notice)
        body = pages.render(
            template,
            session=self.session,
            session_role_words=pages.role_in_words(self.session.role),
            navigation=self.menu(),
            partner_name=self.partner_id,
            idle_seconds=IDLE_SECONDS,
            today=today(),
            page=self,
            **context,
        )
        return pages.html(body, self.issuer, status=status)

    def invalid(self, template: str, **context) -> Response:
        """The form again, with its errors (422 so nothing mistakes it for a success)."""
        return self.render(template, status=422, **context)

    def redirect(self, location: str, done: str | None = None) -> Response:
        if done:
            assert done in NOTICES, done
            location += ("&" if "?" in location else "?") + urlencode({"done": done})
        return pages.see_other(location, self.issuer)

    def menu(self) -> list[dict]:
        path = self.request.path
        items = []
        for words, href, roles in MENU:
            if self.session.role not in roles:
                continue
            current = path == href if href == "/" else path.startswith(href)
            items.append({"text": words, "href": href, "current": current})
        return items

    def refused(self, refusal: Refused, names: dict[str, str] | None = None) -> dict[str, str]:
        """A service's refusal as this page's errors: each field it names (renamed to the form's
        field id where `names` says so), or the message alone when it names none; its rule in
        plain words (refusal_words), a refusal without a rule in the service's words."""
        names = names or {}
        errors = {}
        for api_field, message in refusal.field_errors().items():
            form_field = names.get(api_field)
            if form_field is None:
                # a nested field is shown at the first form field whose name it starts with
                form_field = next(
                    (names[k] for k in names if api_field.startswith(k + ".")), api_field
                )
            plain = refusal_words(refusal.rule, message, refusal.status)
            errors.setdefault(form_field.replace(".", "-"), plain or _sentence(message, api_field))
        if not errors:
            errors["_summary"] = conflict_words(refusal)
        self.errors.update(errors)
        return errors


def conflict_words(refusal: Refused) -> str:
    """What a refusal without fields tells the person, and what to do."""
    plain = refusal_words(refusal.rule, refusal.message, refusal.status)
    if plain is not None:
        return plain
    if refusal.status == 409 and refusal.code == "conflict":
        return (
            "Someone else changed this record while you were working on it. Your change was not "
            "saved: look at the record again and make your change once more."
        )
    message = refusal.message.rstrip(".")
    return message[:1].upper() + message[1:] + "."


def _sentence(message: str, api_field: str) -> str:
    text = message.strip().rstrip(".")
    return f"{api_field.replace('_', ' ').capitalize()}: {text}."


def _words_of(roles) -> str:
    words = [pages.role_in_words(role) + "s" for role in roles]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def today() -> date:
    return datetime.now(LONDON).date()


def uk_date(value) -> str:
    """27 March 2026, the way people write it."""
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date() if value.tzinfo else value.date()
    return f"{value.day} {value:%B %Y}"


def _local(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LONDON)


def uk_time(value) -> str:
    """2:30pm, in London time."""
    if not value:
        return ""
    local = _local(value)
    hour = local.hour % 12 or 12
    minute = "" if local.minute == 0 else f":{local.minute:02d}"
    return f"{hour}{minute}{'am' if local.hour < 12 else 'pm'}"


def uk_datetime(value) -> str:
    """27 March 2026 at 2:30pm, in London time."""
    if not value:
        return ""
    return f"{uk_date(_local(value).date())} at {uk_time(value)}"


def words(code) -> str:
    """A code as words: `one_to_one` -> `One to one`."""
    if code in (None, ""):
        return ""
    text = str(code).replace("_", " ").replace("-", " ")
    return text[:1].upper() + text[1:]


pages.TEMPLATES.filters.update(
    uk_date=uk_date, uk_datetime=uk_datetime, uk_time=uk_time, words=words
)
# a form that changes a record takes a key of its own each time it is shown (macros.change_key):
# the page's own key (Page.form_key) is the posted one when a page is shown again after a post
pages.TEMPLATES.globals.update(new_form_key=new_form_key)


def signed_in(*roles: str):
    """A page for signed-in people (of these roles, when given). Without a session the person
    is sent to sign in and brought back; a post must carry the session's form key; the services'
    refusals and outages become pages, never a trace."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(self, request, principal, **kwargs):
            issuer = self.signin.issuer
            now = datetime.now(UTC)
            secret = request.cookies.get(self._cookie("peerlink_session"))
            session = self.sessions.find(secret, now)
            if session is None or session.access_token_expires_at <= now + TOKEN_MARGIN:
                if request.method != "GET":
                    return pages.problem(
                        issuer,
                        401,
                        "You need to sign in again",
                        "You were signed out (after 30 minutes without a new page, or at the end "
                        "of the day) or your sign-in needed renewing. What you sent was not "
                        "saved. Sign in again and enter it once more.",
                        retry="/auth/login?" + urlencode({"next": request.path}),
                    )
                target = request.full_path.rstrip("?")
                return pages.see_other("/auth/login?" + urlencode({"next": target}), issuer)
            if roles and session.role not in roles:
                return pages.problem(
                    issuer,
                    403,
                    "You cannot use this page",
                    f"This page is for {_words_of(roles)}. You are signed in as a "
                    f"{pages.role_in_words(session.role)}.",
                    retry="/",
                    retry_words="Go to My day",
                )
            if request.method == "POST":
                given = request.form.get("csrf_token", "")
                if not hmac.compare_digest(given.encode(), session.csrf_token.encode()):
                    return pages.problem(
                        issuer,
                        403,
                        "Nothing was saved",
                        "The form you sent was not one this app gave you, or it is from before "
                        "you last signed in. Go back, reload the page and try again.",
                        retry="/",
                        retry_words="Go to My day",
                    )
            page = Page(
                request=request,
                session=session,
                api=NodeApi(self.endpoints, self.http, session.access_token),
                partner_id=self.settings.partner_id,
                issuer=issuer,
                records=self.sessions,
            )
            try:
                return fn(self, page, **kwargs)
            except PageRefused as refusal:
                return pages.problem(
                    issuer,
                    refusal.status,
                    refusal.title,
                    refusal.message,
                    retry="/",
                    retry_words="Go to My day",
                )
            except Refused as refusal:
                if refusal.status == 404:
                    return pages.problem(
                        issuer,
                        404,
                        "Page not found",
                        "There is no such record, or it is not one you can see.",
                        retry="/",
                        retry_words="Go to My day",
                    )
                if refusal.status in (401, 403):
                    return pages.problem(
                        issuer,
                        403,
                        "You cannot do this",
                        conflict_words(refusal),
                        retry="/",
                        retry_words="Go to My day",
                    )
                return pages.problem(
                    issuer,
                    refusal.status,
                    "This was not saved",
                    conflict_words(refusal),
                    retry=request.referrer if _is_own(request.referrer, request) else "/",
                    retry_words="Go back",
                )
            except Unavailable as outage:
                log.warning("page %s: %s", request.path, outage)
                return pages.problem(
                    issuer,
                    503,
                    "Sorry, Peerlink is not working right now",
                    "Part of Peerlink did not answer, so what you sent may not have been saved. "
                    "In a few minutes, look at the record again before trying once more.",
                    retry=request.full_path.rstrip("?") if request.method == "GET" else "/",
                    retry_words="Try again",
                )
            except Exception as error:  # noqa: BLE001 - the person gets a page, the log the trace
                if is_database_error(error):
                    raise  # the app's own database is away: tried again, then an outage page
                request_id = getattr(request, "peerlink_request_id", None)
                log.exception("page %s failed (request %s)", request.path, request_id)
                return pages.problem(
                    issuer,
                    500,
                    "Sorry, there is a problem with Peerlink",
                    "Try again later. If it keeps happening, tell your Peerlink administrator.",
                    retry="/",
                    retry_words="Go to My day",
                    request_id=request_id,
                )

        return wrapper

    return decorate


def made_once(fn):
    """A signed-in page whose post makes or changes a record: done once per form key
    (Page.once)."""

    @functools.wraps(fn)
    def wrapper(self, page: Page, **kwargs):
        return page.once(lambda: fn(self, page, **kwargs))

    # functools.wraps carries it up through the decorators above, so the routes that save once
    # can be told from the outside (tests/unit/test_web_pages.py)
    wrapper.peerlink_once = True
    return wrapper


# a form that changes a record is sent once per key as one that makes a record is
changed_once = made_once


def _is_own(referrer: str | None, request) -> bool:
    return bool(referrer) and referrer.startswith(request.host_url)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this app only (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def path_with(path: str, **params) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{quote(path)}?{query}" if query else quote(path)
