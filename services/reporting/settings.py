"""What the hub sets for its reports' disclosure control (suppression.py), read once as the
reporting service starts (shared/settings.py): a setting missing or invalid stops it, naming
every variable at fault at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.reporting.suppression import KEY_MIN_LENGTH, Policy
from shared.settings import not_negative, positive, setting, settings_group

ROUND_TO_VARIABLE = "PEERLINK_ROUND_TO"
UP_TO_VARIABLE = "PEERLINK_SUPPRESS_UP_TO"
KEY_VARIABLE = "PEERLINK_ROUNDING_KEY"
KEY_FILE_VARIABLE = f"{KEY_VARIABLE}_FILE"
KEY_VARIABLES = f"{KEY_VARIABLE}, {KEY_FILE_VARIABLE}"


def rounding_key_from(env: Mapping[str, str]) -> bytes:
    """The hub's secret for rounding published counts, given itself or in a file; none is
    needed only when counts are published exactly (PEERLINK_ROUND_TO=1, tests only)."""
    key, path = (env.get(KEY_VARIABLE) or "").strip(), (env.get(KEY_FILE_VARIABLE) or "").strip()
    if key and path:
        raise ValueError(f"set {KEY_VARIABLE} or {KEY_FILE_VARIABLE}, not both")
    if path:
        try:
            key = Path(path).read_text().strip()
        except OSError as error:
            raise ValueError(f"{KEY_FILE_VARIABLE} names {path}: {error}") from None
    if len(key) < KEY_MIN_LENGTH and not _exact(env):
        raise ValueError(
            f"set {KEY_VARIABLE} (or {KEY_FILE_VARIABLE}) to a secret of at least"
            f" {KEY_MIN_LENGTH} characters: the hub's key for rounding published counts"
        )
    return key.encode()


def _exact(env: Mapping[str, str]) -> bool:
    """Whether counts are published exactly (a PEERLINK_ROUND_TO at fault is named on its own)."""
    try:
        return int((env.get(ROUND_TO_VARIABLE) or "").strip()) == 1
    except ValueError:
        return False


@dataclass(frozen=True, repr=False)
class ReportingSettings:
    # published counts are multiples of this (5, as NHS England publishes); 1 publishes exact
    # counts, with no protection (tests only)
    round_to: int = setting(ROUND_TO_VARIABLE, "5", int, positive, "1 or more")
    # a median, percentile or mean over this many people or records or fewer is not shown
    up_to: int = setting(UP_TO_VARIABLE, "4", int, not_negative, "0 or more")
    rounding_key: bytes = settings_group(KEY_VARIABLES, rounding_key_from)

    def __repr__(self) -> str:  # the key is a secret: never in a log or a traceback
        return f"ReportingSettings(round_to={self.round_to}, up_to={self.up_to})"

    def policy(self) -> Policy:
        return Policy(round_to=self.round_to, up_to=self.up_to, key=self.rounding_key)
