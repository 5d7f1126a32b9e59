"""A partner's safeguarding settings as the service's typed settings read them (settings.py):
timescales per severity, who is told at each rung of the escalation ladder, and where e-mail
goes.

Timescales are local policy (docs/domain.md), so a partner sets them without a code change:
PEERLINK_SAFEGUARDING_TIMESCALES is JSON naming only what differs from the defaults, e.g.
``{"high": {"acknowledge": {"hours": 1}}, "standard": {"decide": {"working_days": 1}}}``; a
time allowed is ``{"hours": h, "minutes": m, "seconds": s}`` (clock time),
``{"working_days": d, "working_hours": h}`` or ``"end_of_working_day"``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from services.safeguarding.domain.deadlines import (
    DEFAULT_TIMESCALES,
    TimeAllowed,
    Timescales,
    by_end_of_working_day,
    within,
    within_working,
)

TIMESCALES_VARIABLE = "PEERLINK_SAFEGUARDING_TIMESCALES"


def _time_allowed(value, where: str) -> TimeAllowed:
    if value == "end_of_working_day":
        return by_end_of_working_day()
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{where}: a time allowed is an object or 'end_of_working_day'")
    unknown = set(value) - {"hours", "minutes", "seconds", "working_days", "working_hours"}
    if unknown:
        raise ValueError(f"{where}: unknown field {', '.join(sorted(unknown))}")
    if "working_days" in value or "working_hours" in value:
        return within_working(
            days=int(value.get("working_days", 0)), hours=float(value.get("working_hours", 0))
        )
    minutes = float(value.get("minutes", 0)) + float(value.get("seconds", 0)) / 60
    return within(hours=float(value.get("hours", 0)), minutes=minutes)


def timescales_from(text: str) -> Timescales:
    """The defaults with the JSON's changes applied; a mistake fails at start-up, naming it."""
    if not text:
        return Timescales()
    config = json.loads(text)
    policies = dict(DEFAULT_TIMESCALES)
    for severity, changes in config.get("policies", config).items():
        if severity in ("ladder", "timezone", "policies"):
            continue
        if severity not in policies:
            raise ValueError(f"{TIMESCALES_VARIABLE}: '{severity}' is not a severity")
        policy = policies[severity]
        for name in ("acknowledge", "decide"):
            if name in changes:
                policy = replace(
                    policy, **{name: _time_allowed(changes[name], f"{severity}.{name}")}
                )
        if "escalate_after" in changes:
            steps = tuple(
                _time_allowed(step, f"{severity}.escalate_after.{index}")
                for index, step in enumerate(changes["escalate_after"])
            )
            policy = replace(policy, escalate_after=steps)
        policies[severity] = policy
    extra = {k: config[k] for k in ("ladder", "timezone") if k in config}
    return Timescales(policies=policies, **extra)


# leeds-mind's web app on the local stack (deploy/stack.py sets each node's own)
DEFAULT_INBOX_URL = "http://127.0.0.1:8104"


@dataclass(frozen=True)
class MailSettings:
    """Where notifications go. Recipients are role mailboxes (the duty lead's shared address,
    say), one per rung of the ladder; a message names no person, only a link to the concern."""

    smtp_host: str
    smtp_port: int
    sender: str
    recipients: Mapping[str, str]
    # the node's web app (its people's pages), where a message's link opens the concern
    inbox_url: str
    timeout_seconds: float = 10.0
    # retries: 2, 4, 8 ... seconds after each failure, then every 5 minutes. A concern's e-mail
    # is never given up by default (0): an outage of the mail relay delays it, and
    # peerlink_notifications_total{outcome="failed"} tells an operator; a partner that would
    # rather stop after n attempts sets PEERLINK_SMTP_MAX_ATTEMPTS.
    max_attempts: int = 0
    first_retry_seconds: float = 2.0
    longest_retry_seconds: float = 300.0

    def recipient(self, rung: str) -> str:
        return self.recipients.get(rung) or self.recipients["duty_lead"]

    def retry_after(self, attempts: int) -> float:
        return min(self.first_retry_seconds * 2 ** (attempts - 1), self.longest_retry_seconds)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> MailSettings:
        env = os.environ if environ is None else environ
        partner = env.get("PEERLINK_PARTNER", "leeds-mind")
        recipients = {
            rung: f"{rung.replace('_', '-')}@{partner}.peerlink.test"
            for rung in ("duty_lead", "deputy_lead", "head_of_service")
        }
        # "duty_lead=dsl@example.org,deputy_lead=deputy@example.org"
        for pair in filter(None, env.get("PEERLINK_SAFEGUARDING_RECIPIENTS", "").split(",")):
            rung, _, address = pair.partition("=")
            recipients[rung.strip()] = address.strip()
        return cls(
            smtp_host=env.get("PEERLINK_SMTP_HOST", "127.0.0.1"),
            smtp_port=_number(env, "PEERLINK_SMTP_PORT", "8025", int),
            sender=env.get("PEERLINK_SMTP_FROM", f"safeguarding@{partner}.peerlink.test"),
            recipients=recipients,
            inbox_url=env.get("PEERLINK_SAFEGUARDING_INBOX_URL", DEFAULT_INBOX_URL).rstrip("/"),
            max_attempts=_number(env, "PEERLINK_SMTP_MAX_ATTEMPTS", "0", int),
            first_retry_seconds=_number(env, "PEERLINK_SMTP_FIRST_RETRY_SECONDS", "2", float),
        )


MAIL_VARIABLES = (
    "PEERLINK_SMTP_HOST, PEERLINK_SMTP_PORT, PEERLINK_SMTP_FROM, PEERLINK_SMTP_MAX_ATTEMPTS,"
    " PEERLINK_SMTP_FIRST_RETRY_SECONDS, PEERLINK_SAFEGUARDING_RECIPIENTS,"
    " PEERLINK_SAFEGUARDING_INBOX_URL"
)


def _number(env: Mapping[str, str], name: str, default: str, kind: type[int] | type[float]):
    """A number not below 0 from `name`, or ValueError naming it."""
    text = env.get(name, default)
    try:
        value = kind(text)
    except ValueError:
        what = "whole number" if kind is int else "number"
        raise ValueError(f"{name}={text!r} is not a {what}") from None
    if value < 0:
        raise ValueError(f"{name}={text!r} must not be below 0")
    return value
