"""A real headless browser for end-to-end tests of the server-rendered pages: Debian's chromium,
driven over the Chrome DevTools Protocol so that a page can be loaded with a bearer token (the
pages need no script of their own, and no cookie or token ever goes into a URL).

    with Browser() as browser:
        page = browser.open(url, headers={"Authorization": "Bearer ..."})
        page.text, page.status, page.evaluate("..."), page.screenshot(path)
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import websocket

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(RuntimeError):
    pass


@dataclass
class Page:
    browser: Browser
    status: int | None
    text: str

    def evaluate(self, expression: str):
        result = self.browser.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        data = self.browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path


class Browser:
    def __init__(self, width: int = 1280, height: int = 900, timeout: float = 30.0):
        if CHROMIUM is None:
            raise BrowserError("chromium is not installed (deploy/bootstrap installs it)")
        self.timeout = timeout
        self.size = (width, height)
        self._profile = tempfile.mkdtemp(prefix="peerlink-chromium-")
        self._next_id = 0
        self._events: list[dict] = []

    def __enter__(self) -> Browser:
        self.process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile}",
                f"--window-size={self.size[0]},{self.size[1]}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise BrowserError("chromium did not open its DevTools port")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        targets = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=self.timeout, suppress_origin=True
        )
        self.call("Page.enable")
        self.call("Network.enable")
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        if getattr(self, "process", None) is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self._profile, ignore_errors=True)

    def call(self, method: str, **params) -> dict:
        self._next_id += 1
        ident = self._next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._events.append(message)

    def _wait_for(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for index, event in enumerate(self._events):
                if event.get("method") == method:
                    return self._events.pop(index)
            if time.monotonic() > deadline:
                raise BrowserError(f"no {method} within {self.timeout} s")
            self._events.append(json.loads(self.ws.recv()))

    def open(self, url: str, headers: dict | None = None) -> Page:
        self.call("Network.setExtraHTTPHeaders", headers=headers or {})
        self._events.clear()
        self.call("Page.navigate", url=url)
        self._wait_for("Page.loadEventFired")
        status = None
        for event in self._events:
            if event.get("method") == "Network.responseReceived":
                response = event["params"]["response"]
                if response["url"] == url:
                    status = response["status"]
        page = Page(self, status, "")
        page.text = page.evaluate("document.body ? document.body.innerText : ''") or ""
        return page
