"""A process is told its partner, its database and its broker: without any of them it refuses
to start, naming what is missing, and never falls back on another partner's or a default
credential."""

import pytest

from shared.config import REQUIRED_SETTINGS, MissingSetting, Settings

pytestmark = pytest.mark.unit

COMPLETE = {
    "PEERLINK_PARTNER": "lslcs",
    "PEERLINK_DATABASE_URL": "postgresql://peerlink_lslcs_app:pw@db:5432/peerlink_lslcs",
    "PEERLINK_AMQP_URL": "amqp://node-lslcs:pw@broker:5672/lslcs",
}


def test_the_settings_are_what_the_environment_says():
    settings = Settings.from_environment("referrals", COMPLETE)
    assert settings.partner_id == "lslcs"
    assert settings.database_url == COMPLETE["PEERLINK_DATABASE_URL"]
    assert settings.amqp_url == COMPLETE["PEERLINK_AMQP_URL"]
    assert settings.service == "referrals"


@pytest.mark.parametrize("name", REQUIRED_SETTINGS)
def test_a_missing_setting_stops_the_process_and_is_named(name):
    for absent in (None, "", "   "):
        env = {key: value for key, value in COMPLETE.items() if key != name}
        if absent is not None:
            env[name] = absent
        with pytest.raises(MissingSetting, match=name):
            Settings.from_environment("referrals", env)


def test_every_missing_setting_is_named_at_once():
    with pytest.raises(MissingSetting) as refused:
        Settings.from_environment("worker", {})
    for name in REQUIRED_SETTINGS:
        assert name in str(refused.value)


def test_credentials_may_come_from_files_but_not_twice(tmp_path):
    database, broker = tmp_path / "database-url", tmp_path / "amqp-url"
    database.write_text(COMPLETE["PEERLINK_DATABASE_URL"] + "\n")
    broker.write_text(COMPLETE["PEERLINK_AMQP_URL"])
    env = {
        "PEERLINK_PARTNER": "lslcs",
        "PEERLINK_DATABASE_URL_FILE": str(database),
        "PEERLINK_AMQP_URL_FILE": str(broker),
    }
    settings = Settings.from_environment("worker", env)
    assert settings.database_url == COMPLETE["PEERLINK_DATABASE_URL"]
    assert settings.amqp_url == COMPLETE["PEERLINK_AMQP_URL"]
    with pytest.raises(MissingSetting, match="not both"):
        Settings.from_environment("worker", {**env, **COMPLETE})
    with pytest.raises(MissingSetting, match="cannot be read"):
        Settings.from_environment("worker", {**env, "PEERLINK_AMQP_URL_FILE": str(tmp_path / "x")})
