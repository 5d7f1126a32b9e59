"""What a partner sets for its web app, read once as it starts (shared/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.settings import http_url, setting

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class WebSettings:
    # where `npm ci` put the packages (their node_modules): beside this file in a checkout,
    # PEERLINK_WEB_ASSETS in an image
    assets: Path = setting("PEERLINK_WEB_ASSETS", str(HERE / "assets"), Path)
    # the node's services the pages call, with the signed-in person's own token
    referrals_url: str = setting("PEERLINK_REFERRALS_URL", None, http_url)
    sessions_url: str = setting("PEERLINK_SESSIONS_URL", None, http_url)
    safeguarding_url: str = setting("PEERLINK_SAFEGUARDING_URL", None, http_url)
