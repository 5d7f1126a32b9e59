"""The pages' own files, served by the app itself (never from a CDN): the NHS.UK frontend from
its npm package (services/web/assets, installed with `npm ci` from its lockfile), Peerlink's
stylesheet and its one small script.

The frontend's stylesheet asks for the NHS's own typeface from assets.nhs.uk; that font is
licensed for NHS services and fetched from elsewhere, so its @font-face rules are taken out and
the pages use the frontend's fallback (Arial)."""

from __future__ import annotations

import re
from pathlib import Path

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from services.web.settings import WebSettings
from shared.settings import settings_of

HERE = Path(__file__).resolve().parent
OWN = HERE / "static"
IMAGE_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}
FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}")
HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=3600"}


class Assets:
    """The files served from `packages`, where `npm ci` put them (WebSettings.assets)."""

    def __init__(self, packages: Path):
        self.frontend = packages / "nhsuk-frontend" / "dist" / "nhsuk"
        # name served -> (file, content type)
        self.files = {
            "nhsuk-frontend.css": (self.frontend / "nhsuk-frontend.min.css", "text/css"),
            "nhsuk-frontend.js": (self.frontend / "nhsuk-frontend.min.js", "text/javascript"),
            "web.css": (OWN / "web.css", "text/css"),
            "print.css": (OWN / "print.css", "text/css"),
            "peerlink.js": (OWN / "peerlink.js", "text/javascript"),
        }
        self._cache: dict[str, tuple[bytes, str] | None] = {}

    def _content(self, name: str) -> tuple[bytes, str] | None:
        if name not in self._cache:
            self._cache[name] = self._read(name)
        return self._cache[name]

    def _read(self, name: str) -> tuple[bytes, str] | None:
        if name not in self.files:
            return None
        path, kind = self.files[name]
        if not path.exists():
            raise RuntimeError(
                f"{path} is missing: install the web app's assets with `npm ci` in "
                f"{HERE / 'assets'} (deploy/bootstrap does)"
            )
        data = path.read_bytes()
        if name == "nhsuk-frontend.css":
            data = FONT_FACE.sub("", data.decode()).encode()
        return data, kind

    def response(self, name: str) -> Response:
        found = self._content(name)
        if found is None:
            return Response("not found", status=404, content_type="text/plain")
        data, kind = found
        return Response(data, content_type=f"{kind}; charset=utf-8", headers=HEADERS)

    def image(self, name: str) -> Response:
        path = self.frontend / "assets" / "images" / name
        kind = IMAGE_TYPES.get(path.suffix)
        if kind is None or "/" in name or not path.is_file():
            return Response("not found", status=404, content_type="text/plain")
        return Response(path.read_bytes(), content_type=kind, headers=HEADERS)

    def check(self) -> None:
        """Refuses to start without the frontend installed (rather than pages without style)."""
        for name in self.files:
            self._content(name)


class AssetFiles(DependencyProvider):
    """The web app's files, from where its settings say the packages are, checked as it starts."""

    def setup(self):
        self.assets = Assets(settings_of(WebSettings).assets / "node_modules")
        self.assets.check()

    def get_dependency(self, worker_ctx):
        return self.assets
