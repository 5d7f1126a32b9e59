"""What a partner sets for its safeguarding service, read once as the service starts
(shared/settings.py): a setting missing or invalid stops it, naming the variable."""

from __future__ import annotations

from dataclasses import dataclass

from services.safeguarding.configuration import (
    MAIL_VARIABLES,
    TIMESCALES_VARIABLE,
    MailSettings,
    timescales_from,
)
from services.safeguarding.domain.deadlines import Timescales
from shared.settings import positive, setting, settings_group


@dataclass(frozen=True)
class SafeguardingSettings:
    # the partner's timescales per severity and its escalation ladder (configuration.py)
    timescales: Timescales = setting(TIMESCALES_VARIABLE, "", timescales_from)
    # where e-mail goes and who is told at each rung
    mail: MailSettings = settings_group(MAIL_VARIABLES, MailSettings.from_environment)
    # how often the timer looks for deadlines passed, and the sender for e-mail due
    tick_seconds: float = setting(
        "PEERLINK_SAFEGUARDING_TICK_SECONDS", "1", float, positive, "above 0"
    )
    send_seconds: float = setting(
        "PEERLINK_SAFEGUARDING_SEND_SECONDS", "0.5", float, positive, "above 0"
    )
