"""Signing in to the people's web app in a real headless browser (Debian's chromium): a peer
worker goes from the web app to their partner's sign-in page and back signed in, stays signed
in across a reload and signs out of both; a wrong password, an account without a Peerlink role
and a forged answer each get a page saying so. Screenshots go to run/<stack>/screenshots/."""

from __future__ import annotations

import secrets
import uuid

import pytest
import requests

from deploy import idp
from shared.config import ROOT
from tests.browser import Browser
from tests.conftest import STACK

pytestmark = pytest.mark.e2e

PARTNER = "leeds-mind"
SHOTS = ROOT / "run" / STACK / "screenshots"
SECURITY_HEADERS = ("X-Content-Type-Options", "Referrer-Policy", "Cache-Control")


@pytest.fixture(scope="module")
def web(endpoints) -> str:
    return endpoints["partners"][PARTNER]["web"]


@pytest.fixture(scope="module")
def issuer(endpoints) -> str:
    return endpoints["identity"][PARTNER]


@pytest.fixture
def account(stack_state):
    """make(roles, name) -> (username, password) of a new account at the partner's provider."""

    def make(roles: list[str], name: str) -> tuple[str, str]:
        username = f"web-{uuid.uuid4().hex[:8]}"
        password = secrets.token_urlsafe(16)
        idp.ensure_account(
            stack_state["idp"]["database_url"], PARTNER, username, password, roles, name
        )
        return username, password

    return make


# -- driving the browser as a person would ------------------------------------------------------


def where(browser: Browser) -> tuple[str, str]:
    """(the address the browser is at, the text of its page)."""
    state = browser.call(
        "Runtime.evaluate",
        expression="[location.href, document.body ? document.body.innerText : '']",
        returnByValue=True,
    )
    return tuple(state["result"]["value"])


def last_status(browser: Browser) -> int | None:
    statuses = [
        event["params"]["response"]["status"]
        for event in browser._events
        if event.get("method") == "Network.responseReceived"
        and event["params"].get("type") == "Document"
    ]
    return statuses[-1] if statuses else None


def press(browser: Browser, selector: str, **fields: str) -> tuple[str, str]:
    """Fill a form's fields, press a button, and wait for the page that loads after every
    redirect; (address, text) of that page."""
    script = "".join(
        f"document.querySelector('[name={name}]').value = {value!r};"
        for name, value in fields.items()
    )
    browser._events.clear()
    browser.call(
        "Runtime.evaluate", expression=script + f"document.querySelector({selector!r}).click()"
    )
    browser._wait_for("Page.loadEventFired")
    return where(browser)


def sign_in(browser: Browser, username: str, password: str) -> tuple[str, str]:
    """At the provider's sign-in page: fill it in and press Sign in."""
    return press(browser, "button[type=submit]", username=username, password=password)


def cookies(browser: Browser, url: str) -> dict[str, dict]:
    return {c["name"]: c for c in browser.call("Network.getCookies", urls=[url])["cookies"]}


# -- the journeys -------------------------------------------------------------------------------


def test_a_peer_worker_signs_in_stays_signed_in_and_signs_out_of_both(web, issuer, account):
    username, password = account(["peer_worker"], "Sam Okafor")
    with Browser() as browser:
        page = browser.open(web + "/")
        assert page.status == 200
        assert "Sign in" in page.text and "Sign out" not in page.text

        at, text = press(browser, "form[action='/auth/login'] button")
        assert at.startswith(f"{issuer}/interaction/"), at
        assert "Username" in text and "Password" in text

        at, text = sign_in(browser, username, password)
        assert at == web + "/", at
        assert "Sam Okafor (peer worker)" in text
        page.screenshot(SHOTS / "web-signed-in.png")

        jar = cookies(browser, web)
        session = jar["peerlink_session"]
        assert session["httpOnly"] and session["sameSite"] == "Lax"
        assert session["path"] == "/" and not session["secure"]  # the local stack is http
        assert "peerlink_login" not in jar, "the sign-in under way is over"

        page = browser.open(web + "/")
        assert page.status == 200
        assert "Sam Okafor (peer worker)" in page.text

        signed_in = requests.get(
            web + "/", cookies={"peerlink_session": session["value"]}, timeout=10
        )
        assert "Sam Okafor (peer worker)" in signed_in.text
        assert signed_in.headers["Content-Security-Policy"] == (
            f"default-src 'self'; frame-ancestors 'none'; form-action 'self' {issuer}"
        )
        assert [signed_in.headers[h] for h in SECURITY_HEADERS] == [
            "nosniff",
            "no-referrer",
            "no-store",
        ]

        at, text = press(browser, "form[action='/auth/logout'] button")
        assert at.startswith(issuer), at
        assert "Do you want to sign out" in text
        at, text = press(browser, "button[value=yes]")
        assert at == web + "/", at
        assert "Sign in" in text and "Sign out" not in text

        after = requests.get(web + "/", cookies={"peerlink_session": session["value"]}, timeout=10)
        assert after.status_code == 200 and "Sign out" not in after.text

        # the provider's session ended too: signing in asks for the password again
        browser.open(web + "/auth/login")
        at, text = where(browser)
        assert at.startswith(f"{issuer}/interaction/"), at
        assert "Password" in text


def test_a_wrong_password_gets_the_providers_error_and_no_session(web, issuer, account):
    username, _ = account(["peer_worker"], "Sam Okafor")
    with Browser() as browser:
        browser.open(web + "/auth/login")
        at, text = sign_in(browser, username, "not the password")
        assert at.startswith(issuer), at
        assert "The username or password is not right" in text
        assert "peerlink_session" not in cookies(browser, web)


def test_an_account_without_a_peerlink_role_is_told_so_with_a_way_to_use_another(web, account):
    username, password = account([], "Robin Visitor")
    with Browser() as browser:
        browser.open(web + "/auth/login")
        at, text = sign_in(browser, username, password)
        assert last_status(browser) == 403
        assert at.startswith(web + "/auth/callback"), at
        assert "You cannot use Peerlink with this account" in text
        assert "no Peerlink role" in text and "Traceback" not in text
        link = browser.call(
            "Runtime.evaluate",
            expression="document.querySelector('main a').getAttribute('href')",
            returnByValue=True,
        )["result"]["value"]
        assert link == "/auth/login?prompt=login"
        assert "peerlink_session" not in cookies(browser, web)


def test_an_answer_that_is_not_this_browsers_sign_in_is_refused_with_a_page(web):
    response = requests.get(
        web + "/auth/callback", params={"code": "stolen", "state": "forged"}, timeout=10
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")
    assert 'href="/auth/login"' in response.text and "Traceback" not in response.text
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "peerlink_session" not in response.cookies


def test_the_signed_in_page_fits_320_pixels_and_is_plain_accessible_html(web, account):
    username, password = account(["team_lead"], "Alex Lead")
    with Browser(width=320, height=640) as browser:
        # a phone's viewport, whatever the smallest window the browser allows
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            width=320,
            height=640,
            deviceScaleFactor=1,
            mobile=True,
        )
        browser.open(web + "/auth/login")
        at, text = sign_in(browser, username, password)
        assert "Alex Lead (team lead)" in text
        facts = browser.call(
            "Runtime.evaluate",
            returnByValue=True,
            expression="""({
                lang: document.documentElement.lang,
                headings: document.querySelectorAll('h1').length,
                width: document.documentElement.scrollWidth,
                skip: document.querySelector('a[href="#maincontent"]') !== null
                    && document.getElementById('maincontent') !== null,
                unnamed: [...document.querySelectorAll('button')]
                    .filter(b => !b.innerText.trim()).length,
                scripts: [...document.scripts].map(s => new URL(s.src).pathname),
            })""",
        )["result"]["value"]
        assert facts == {
            "lang": "en-GB",
            "headings": 1,
            "width": 320,
            "skip": True,
            "unnamed": 0,
            # the one script is the app's own, and only enhances what works without it
            "scripts": ["/static/peerlink.js"],
        }
        browser.open(web + "/").screenshot(SHOTS / "web-signed-in-320.png")
