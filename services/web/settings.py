"""What a partner sets for its web app, read once as it starts (shared/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.settings import setting

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class WebSettings:
    # where `npm ci` put the packages (their node_modules): beside this file in a checkout,
    # PEERLINK_WEB_ASSETS in an image
    assets: Path = setting("PEERLINK_WEB_ASSETS", str(HERE / "assets"), Path)
