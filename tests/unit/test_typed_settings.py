"""Each service reads what a partner sets once, as it starts: a setting missing or invalid stops
it with a message naming the variable, and a setting left unset takes its default."""

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from services.referrals.settings import ReferralSettings
from services.safeguarding.domain.deadlines import Timescales
from services.safeguarding.settings import SafeguardingSettings
from services.sessions.settings import SessionSettings
from services.web.settings import HERE, WebSettings
from shared.key_rotation import KeyRotationSettings
from shared.settings import SettingError, load, positive, setting

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Required:
    name: str = setting("PEERLINK_EXAMPLE_NAME", None)
    count: int = setting("PEERLINK_EXAMPLE_COUNT", "3", int, positive, "above 0")


def test_a_missing_setting_without_default_is_refused_by_name():
    with pytest.raises(SettingError, match="PEERLINK_EXAMPLE_NAME is not set"):
        load(Required, {})
    with pytest.raises(SettingError, match="PEERLINK_EXAMPLE_NAME is not set"):
        load(Required, {"PEERLINK_EXAMPLE_NAME": "  "})


def test_every_setting_at_fault_is_named_at_once():
    with pytest.raises(SettingError) as refused:
        load(Required, {"PEERLINK_EXAMPLE_COUNT": "0"})
    assert "PEERLINK_EXAMPLE_NAME is not set" in str(refused.value)
    assert "PEERLINK_EXAMPLE_COUNT='0' is invalid: it must be above 0" in str(refused.value)


def test_the_settings_are_what_the_environment_says():
    settings = load(Required, {"PEERLINK_EXAMPLE_NAME": "x", "PEERLINK_EXAMPLE_COUNT": " 7 "})
    assert settings == Required(name="x", count=7)


def test_each_service_has_its_defaults_when_nothing_is_set():
    assert load(ReferralSettings, {}) == ReferralSettings(
        caseload_cap=25,
        earliest_date=date(2000, 1, 1),
        first_contact_working_days=5,
        retention_years=20,
    )
    assert load(SessionSettings, {}) == SessionSettings(
        max_future=timedelta(minutes=15), earliest_date=date(2000, 1, 1)
    )
    safeguarding = load(SafeguardingSettings, {})
    assert safeguarding.timescales == Timescales()
    assert (safeguarding.tick_seconds, safeguarding.send_seconds) == (1.0, 0.5)
    assert safeguarding.earliest_date == date(2000, 1, 1)
    assert (safeguarding.mail.smtp_host, safeguarding.mail.smtp_port) == ("127.0.0.1", 8025)
    assert load(WebSettings, {}).assets == HERE / "assets"
    assert load(KeyRotationSettings, {}).backup_retention_days == 35


def test_each_service_reads_what_a_partner_sets():
    referrals = load(
        ReferralSettings,
        {
            "PEERLINK_CASELOAD_CAP": "30",
            "PEERLINK_EARLIEST_DATE": "1990-01-01",
            "PEERLINK_FIRST_CONTACT_WORKING_DAYS": "3",
            "PEERLINK_RETENTION_YEARS": "8",
        },
    )
    assert (referrals.caseload_cap, referrals.earliest_date) == (30, date(1990, 1, 1))
    assert (referrals.first_contact_working_days, referrals.retention_years) == (3, 8)
    sessions = load(SessionSettings, {"PEERLINK_SESSION_MAX_FUTURE_MINUTES": "60"})
    assert sessions.max_future == timedelta(hours=1)
    safeguarding = load(
        SafeguardingSettings,
        {"PEERLINK_SAFEGUARDING_TICK_SECONDS": "0.2", "PEERLINK_SMTP_PORT": "2525"},
    )
    assert (safeguarding.tick_seconds, safeguarding.mail.smtp_port) == (0.2, 2525)
    assert load(WebSettings, {"PEERLINK_WEB_ASSETS": "/srv/web"}).assets == Path("/srv/web")


@pytest.mark.parametrize(
    ("settings", "variable", "value"),
    [
        (ReferralSettings, "PEERLINK_CASELOAD_CAP", "many"),
        (ReferralSettings, "PEERLINK_CASELOAD_CAP", "0"),
        (ReferralSettings, "PEERLINK_EARLIEST_DATE", "01/01/2000"),
        (ReferralSettings, "PEERLINK_FIRST_CONTACT_WORKING_DAYS", "-1"),
        (ReferralSettings, "PEERLINK_RETENTION_YEARS", "twenty"),
        (SessionSettings, "PEERLINK_SESSION_MAX_FUTURE_MINUTES", "-5"),
        (SessionSettings, "PEERLINK_SESSION_MAX_FUTURE_MINUTES", "1.5"),
        (SessionSettings, "PEERLINK_EARLIEST_DATE", "2000-13-01"),
        (SafeguardingSettings, "PEERLINK_SAFEGUARDING_TIMESCALES", '{"urgent": {}}'),
        (SafeguardingSettings, "PEERLINK_SAFEGUARDING_TIMESCALES", "{not json"),
        (SafeguardingSettings, "PEERLINK_SAFEGUARDING_TICK_SECONDS", "0"),
        (SafeguardingSettings, "PEERLINK_SAFEGUARDING_SEND_SECONDS", "soon"),
        (SafeguardingSettings, "PEERLINK_SMTP_PORT", "smtp"),
        (SafeguardingSettings, "PEERLINK_SMTP_MAX_ATTEMPTS", "-1"),
        (KeyRotationSettings, "PEERLINK_BACKUP_RETENTION_DAYS", "-1"),
    ],
)
def test_an_invalid_setting_stops_the_service_and_is_named(settings, variable, value):
    with pytest.raises(SettingError, match=re.escape(f"{variable}={value!r}")):
        load(settings, {variable: value})


def test_the_safeguarding_timers_take_their_interval_as_the_service_sets_up():
    from nameko.containers import ServiceContainer

    from services.safeguarding.service import SafeguardingService
    from shared.settings import SettingTimer, settings_of

    container = ServiceContainer(SafeguardingService, {"AMQP_URI": "memory://"})
    timers = {t.method_name: t for t in container.entrypoints if isinstance(t, SettingTimer)}
    assert {name: t.interval for name, t in timers.items()} == {
        "escalate_due": None,
        "send_notifications": None,
    }
    for timer in timers.values():
        timer.setup()
    config = settings_of(SafeguardingSettings)
    assert timers["escalate_due"].interval == config.tick_seconds
    assert timers["send_notifications"].interval == config.send_seconds
