"""The pages' own files, served by the app itself (never from a CDN): the NHS.UK frontend from
its npm package (services/web/assets, installed with `npm ci` from its lockfile), Peerlink's
stylesheet and its one small script.

The frontend's stylesheet asks for the NHS's own typeface from assets.nhs.uk; that font is
licensed for NHS services and fetched from elsewhere, so its @font-face rules are taken out and
the pages use the frontend's fallback (Arial)."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from werkzeug.wrappers import Response

HERE = Path(__file__).resolve().parent
# where `npm ci` put the packages: beside this file in a checkout, PEERLINK_WEB_ASSETS in an image
PACKAGES = Path(os.environ.get("PEERLINK_WEB_ASSETS") or HERE / "assets") / "node_modules"
FRONTEND = PACKAGES / "nhsuk-frontend" / "dist" / "nhsuk"
OWN = HERE / "static"

# name served -> (file, content type)
FILES = {
    "nhsuk-frontend.css": (FRONTEND / "nhsuk-frontend.min.css", "text/css"),
    "nhsuk-frontend.js": (FRONTEND / "nhsuk-frontend.min.js", "text/javascript"),
    "web.css": (OWN / "web.css", "text/css"),
    "print.css": (OWN / "print.css", "text/css"),
    "peerlink.js": (OWN / "peerlink.js", "text/javascript"),
}
IMAGE_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}
FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}")
HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=3600"}


class Assets:
    @staticmethod
    @functools.cache
    def _content(name: str) -> tuple[bytes, str] | None:
        if name not in FILES:
            return None
        path, kind = FILES[name]
        if not path.exists():
            raise RuntimeError(
                f"{path} is missing: install the web app's assets with `npm ci` in "
                f"{HERE / 'assets'} (deploy/bootstrap does)"
            )
        data = path.read_bytes()
        if name == "nhsuk-frontend.css":
            data = FONT_FACE.sub("", data.decode()).encode()
        return data, kind

    @classmethod
    def response(cls, name: str) -> Response:
        found = cls._content(name)
        if found is None:
            return Response("not found", status=404, content_type="text/plain")
        data, kind = found
        return Response(data, content_type=f"{kind}; charset=utf-8", headers=HEADERS)

    @staticmethod
    def image(name: str) -> Response:
        path = FRONTEND / "assets" / "images" / name
        kind = IMAGE_TYPES.get(path.suffix)
        if kind is None or "/" in name or not path.is_file():
            return Response("not found", status=404, content_type="text/plain")
        return Response(path.read_bytes(), content_type=kind, headers=HEADERS)

    @staticmethod
    def check() -> None:
        """Refuses to start without the frontend installed (rather than pages without style)."""
        for name in FILES:
            Assets._content(name)
