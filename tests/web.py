"""Driving the people's web app in real headless Chromium (Debian's, through Playwright): people
sign in at their partner's provider exactly as they would, and every page a journey reaches is
checked with axe-core (no serious or critical WCAG 2.2 AA violation) and photographed at
desktop and phone width under run/<stack>/screenshots/.

    def test_something(web_as):
        page = web_as("peer_worker", user="sam-x")      # signed in, at My day
        page.get_by_role("link", name="Record a session").click()
        ...
        check_page(page, "record-a-session")              # axe + screenshots
"""

from __future__ import annotations

import re
import secrets
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from services.web.settings import WebSettings
from shared.config import ROOT
from shared.settings import load_one
from tests.conftest import STACK

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = ROOT / "run" / STACK / "screenshots"
AXE = load_one(WebSettings, "assets") / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 320, "height": 640}
# what axe-core is asked to check: WCAG 2.0, 2.1 and 2.2, A and AA
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


# One browser for the whole run: each test module that takes these fixtures into its namespace
# gets a session fixture of its own, and a second Playwright cannot start beside the first.
_SHARED: dict = {"users": 0}


@pytest.fixture(scope="session")
def playwright_browser():
    if CHROMIUM is None:
        pytest.fail("chromium is not installed (deploy/bootstrap installs it)")
    from playwright.sync_api import sync_playwright

    if _SHARED["users"] == 0:
        _SHARED["playwright"] = sync_playwright().start()
        _SHARED["browser"] = _SHARED["playwright"].chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
    _SHARED["users"] += 1
    try:
        yield _SHARED["browser"]
    finally:
        _SHARED["users"] -= 1
        if _SHARED["users"] == 0:
            _SHARED.pop("browser").close()
            _SHARED.pop("playwright").stop()


@pytest.fixture(scope="session")
def web_url(endpoints):
    """web_url(partner="leeds-mind") -> where the partner's web app answers."""

    def url(partner: str = "leeds-mind") -> str:
        return endpoints["partners"][partner]["web"]

    return url


@pytest.fixture
def web_as(playwright_browser, tokens, web_url):
    """web_as(role, partner="leeds-mind", user=None, phone=False, name=None) -> a Playwright page
    signed in at the partner's web app as that person (an account made at the provider when new;
    with `name`, one whose provider gives that name)."""
    contexts = []

    def sign_in(
        role: str,
        partner: str = "leeds-mind",
        user: str | None = None,
        phone=False,
        name: str | None = None,
    ):
        if name is None:
            username, password = tokens.account(role, partner, user)
        else:
            # an account whose provider gives their name (the test accounts give their id)
            from deploy import idp

            username, password = user or f"named-{secrets.token_hex(4)}", secrets.token_hex(16)
            database = tokens.state["idp"]["database_url"]
            idp.ensure_account(database, partner, username, password, [role], name)
        # the axe-core script is put into pages by the test, which the pages' own policy refuses
        context = playwright_browser.new_context(
            viewport=PHONE if phone else DESKTOP, bypass_csp=True, locale="en-GB"
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(web_url(partner) + "/")
        page.get_by_role("button", name="Sign in").click()
        page.locator("[name=username]").fill(username)
        page.locator("[name=password]").fill(password)
        page.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(re.escape(web_url(partner)) + r"/.*"))
        assert page.get_by_role("heading", level=1).first.inner_text().startswith("My day"), (
            page.content()[:2000]
        )
        return page

    yield sign_in
    for context in contexts:
        context.close()


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """axe-core's WCAG 2.2 AA violations of these impacts on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))",
        WCAG_TAGS,
    )
    return [v for v in result if v["impact"] in impacts]


def check_page(page, name: str) -> None:
    """No serious or critical accessibility violation, the page fits 320 px without sideways
    scrolling, and screenshots at desktop and phone width."""
    violations = axe_violations(page)
    assert not violations, f"{name}: {violations}"
    size = page.viewport_size
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"web-{name}-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    # the header moves menu items that no longer fit into its "More" menu in the next
    # animation frame after a resize: measure once the page has laid itself out again
    overflow = page.evaluate(
        "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() =>"
        " done(document.documentElement.scrollWidth - document.documentElement.clientWidth))))"
    )
    assert overflow <= 1, f"{name}: {overflow}px wider than a 320 px screen"
    assert not axe_violations(page), f"{name} at 320 px: {axe_violations(page)}"
    page.screenshot(path=str(SHOTS / f"web-{name}-phone.png"), full_page=True)
    page.set_viewport_size(size)


def tab_to(page, name: str, limit: int = 80):
    """Press Tab until the focused element's accessible text is `name` (a keyboard user's way
    to a control); the focused element's handle."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "(() => { const e = document.activeElement; if (!e) return '';"
            " const label = e.labels && e.labels[0] ? e.labels[0].innerText : '';"
            " return (label || e.innerText || e.value || e.getAttribute('aria-label') || '')"
            ".trim(); })()"
        )
        if focused == name or focused.startswith(name):
            return page.evaluate_handle("document.activeElement")
    raise AssertionError(f"'{name}' cannot be reached with the Tab key")


def send_at_once(page, form: str, times: int = 2) -> list[requests.Response]:
    """The page's form (a selector) sent `times` times at the same moment with the page's
    cookies, as a double click or the same form in two tabs would; the answers, redirects not
    followed."""
    action = page.locator(form).evaluate("f => f.action")
    fields = page.locator(form).evaluate("f => Array.from(new FormData(f).entries())")
    cookies = {c["name"]: c["value"] for c in page.context.cookies(action)}
    together = threading.Barrier(times)

    def send(_):
        together.wait()
        return requests.post(
            action, data=fields, cookies=cookies, allow_redirects=False, timeout=60
        )

    with ThreadPoolExecutor(times) as pool:
        return list(pool.map(send, range(times)))


def errors_shown(page) -> list[str]:
    """The error summary's messages, as a person sees them."""
    return [
        text.strip()
        for text in page.locator(".nhsuk-error-summary__list li").all_inner_texts()
        if text.strip()
    ]


def screenshots_dir() -> Path:
    return SHOTS
