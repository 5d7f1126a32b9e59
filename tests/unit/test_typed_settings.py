"""Each service reads what a partner sets once, as it starts: a setting missing or invalid stops
it with a message naming the variable, and a setting left unset takes its default."""

import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from services.referrals.service import ReferralsService
from services.referrals.settings import ReferralSettings
from services.reporting.settings import ReportingSettings
from services.safeguarding.domain.deadlines import Timescales
from services.safeguarding.service import SafeguardingService
from services.safeguarding.settings import SafeguardingSettings
from services.sessions.service import SessionsService
from services.sessions.settings import SessionSettings
from services.web.settings import HERE, WebSettings
from shared.key_rotation import KeyRotationSettings
from shared.settings import SettingError, load, load_one, positive, setting, settings_of
from shared.worker import WorkerSettings

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
        sessions_url=None,
    )
    assert load(SessionSettings, {}) == SessionSettings(
        max_future=timedelta(minutes=15), earliest_date=date(2000, 1, 1)
    )
    safeguarding = load(SafeguardingSettings, {})
    assert safeguarding.timescales == Timescales()
    assert (safeguarding.tick_seconds, safeguarding.send_seconds) == (1.0, 0.5)
    assert (safeguarding.mail.smtp_host, safeguarding.mail.smtp_port) == ("127.0.0.1", 8025)
    assert load_one(WebSettings, "assets", {}) == HERE / "assets"
    assert load(KeyRotationSettings, {}).backup_retention_days == 35
    assert load(WorkerSettings, {}).http_address == "127.0.0.1:8090"


NODE_SERVICES = {
    "PEERLINK_REFERRALS_URL": "http://127.0.0.1:8101",
    "PEERLINK_SESSIONS_URL": "http://127.0.0.1:8102/",
    "PEERLINK_SAFEGUARDING_URL": "https://safeguarding.node.example",
}


def test_the_web_app_is_told_where_each_of_its_nodes_services_answers():
    with pytest.raises(SettingError) as refused:
        load(WebSettings, {})
    for variable in NODE_SERVICES:
        assert f"{variable} is not set" in str(refused.value)
    web = load(WebSettings, NODE_SERVICES)
    assert (web.referrals_url, web.sessions_url, web.safeguarding_url) == (
        "http://127.0.0.1:8101",
        "http://127.0.0.1:8102",
        "https://safeguarding.node.example",
    )


def test_each_service_reads_what_a_partner_sets():
    referrals = load(
        ReferralSettings,
        {
            "PEERLINK_CASELOAD_CAP": "30",
            "PEERLINK_EARLIEST_DATE": "1990-01-01",
            "PEERLINK_FIRST_CONTACT_WORKING_DAYS": "3",
            "PEERLINK_RETENTION_YEARS": "8",
            "PEERLINK_SESSIONS_URL": "http://sessions:8102/",
        },
    )
    assert (referrals.caseload_cap, referrals.earliest_date) == (30, date(1990, 1, 1))
    assert (referrals.first_contact_working_days, referrals.retention_years) == (3, 8)
    assert referrals.sessions_url == "http://sessions:8102"
    sessions = load(SessionSettings, {"PEERLINK_SESSION_MAX_FUTURE_MINUTES": "60"})
    assert sessions.max_future == timedelta(hours=1)
    safeguarding = load(
        SafeguardingSettings,
        {"PEERLINK_SAFEGUARDING_TICK_SECONDS": "0.2", "PEERLINK_SMTP_PORT": "2525"},
    )
    assert (safeguarding.tick_seconds, safeguarding.mail.smtp_port) == (0.2, 2525)
    web = load(WebSettings, {**NODE_SERVICES, "PEERLINK_WEB_ASSETS": "/srv/web"})
    assert web.assets == Path("/srv/web")
    worker = load(WorkerSettings, {"PEERLINK_HTTP_ADDRESS": "0.0.0.0:8100"})
    assert worker.http_address == "0.0.0.0:8100"


@pytest.mark.parametrize(
    ("settings", "variable", "value"),
    [
        (ReferralSettings, "PEERLINK_CASELOAD_CAP", "many"),
        (ReferralSettings, "PEERLINK_CASELOAD_CAP", "0"),
        (ReferralSettings, "PEERLINK_EARLIEST_DATE", "01/01/2000"),
        (ReferralSettings, "PEERLINK_FIRST_CONTACT_WORKING_DAYS", "-1"),
        (ReferralSettings, "PEERLINK_RETENTION_YEARS", "twenty"),
        (ReferralSettings, "PEERLINK_SESSIONS_URL", "sessions:8102"),
        (WebSettings, "PEERLINK_REFERRALS_URL", "ftp://referrals"),
        (WebSettings, "PEERLINK_SAFEGUARDING_URL", "http://"),
        (WorkerSettings, "PEERLINK_HTTP_ADDRESS", "8090"),
        (WorkerSettings, "PEERLINK_HTTP_ADDRESS", "127.0.0.1:port"),
        (WorkerSettings, "PEERLINK_HTTP_ADDRESS", "127.0.0.1:70000"),
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
        (ReportingSettings, "PEERLINK_ROUND_TO", "five"),
        (ReportingSettings, "PEERLINK_ROUND_TO", "0"),
        (ReportingSettings, "PEERLINK_SUPPRESS_UP_TO", "-1"),
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


@pytest.fixture
def environment(monkeypatch):
    """The process's environment as a test sets it, read afresh (settings_of reads it once)."""
    settings_of.cache_clear()
    yield monkeypatch
    settings_of.cache_clear()


def test_a_worker_names_every_setting_at_fault_before_it_starts_anything(environment):
    from services.node_worker import NodeWorker
    from shared.worker import run

    started = []

    class Unstarted(NodeWorker):
        def __init__(self):  # no database: it must not get as far as using one
            pass

        def start(self):
            started.append(self)

    environment.setenv("PEERLINK_HTTP_ADDRESS", "8090")
    environment.setenv("PEERLINK_SAFEGUARDING_TICK_SECONDS", "0")
    environment.setenv("PEERLINK_CASELOAD_CAP", "many")
    # its relays' pseudonym key too, read before it starts rather than when it hands an event on
    for variable in PSEUDONYM_VARIABLES:
        environment.delenv(variable, raising=False)
    with pytest.raises(SettingError) as refused:
        run(Unstarted())
    assert started == []
    for named in (
        "PEERLINK_HTTP_ADDRESS='8090'",
        "PEERLINK_CASELOAD_CAP='many'",
        "PEERLINK_SAFEGUARDING_TICK_SECONDS='0'",
        "PEERLINK_HUB_PSEUDONYM_KEY, PEERLINK_HUB_PSEUDONYM_KEY_FILE: set",
    ):
        assert named in str(refused.value)


def test_open_items_are_read_at_the_sessions_service_the_settings_name(environment):
    from services.referrals.open_items import OpenItems

    environment.setenv("PEERLINK_SESSIONS_URL", "http://127.0.0.1:8102/")
    provider = OpenItems()
    provider.setup()
    assert provider.reader.base_url == "http://127.0.0.1:8102"


def test_the_web_app_calls_the_services_its_settings_name(environment):
    from services.web.service import NodeEndpoints

    for variable, url in NODE_SERVICES.items():
        environment.setenv(variable, url)
    provider = NodeEndpoints()
    provider.setup()
    assert provider.endpoints.urls == {
        "referrals": "http://127.0.0.1:8101",
        "sessions": "http://127.0.0.1:8102",
        "safeguarding": "https://safeguarding.node.example",
    }


# -- the hub's disclosure control ------------------------------------------------------------

ROUNDING_KEY = "a key of the hub's own, 32 bytes or more"


def test_the_hub_rounds_by_five_and_hides_four_or_fewer_when_only_its_key_is_set(tmp_path):
    given = load(ReportingSettings, {"PEERLINK_ROUNDING_KEY": f" {ROUNDING_KEY}\n"})
    assert (given.round_to, given.up_to, given.rounding_key) == (5, 4, ROUNDING_KEY.encode())
    (tmp_path / "key").write_text(ROUNDING_KEY + "\n")
    from_file = load(ReportingSettings, {"PEERLINK_ROUNDING_KEY_FILE": str(tmp_path / "key")})
    assert from_file.policy() == given.policy()
    assert ROUNDING_KEY not in repr(given) and ROUNDING_KEY not in repr(given.policy())
    chosen = load(
        ReportingSettings,
        {
            "PEERLINK_ROUNDING_KEY": ROUNDING_KEY,
            "PEERLINK_ROUND_TO": "10",
            "PEERLINK_SUPPRESS_UP_TO": "9",
        },
    )
    assert (chosen.policy().round_to, chosen.policy().up_to) == (10, 9)


def test_counts_published_exactly_need_no_rounding_key():
    exact = load(ReportingSettings, {"PEERLINK_ROUND_TO": "1"})
    assert exact.policy().rounded(3, ("referrals",)) == 3


@pytest.mark.parametrize(
    ("env", "fault"),
    [
        ({}, "set PEERLINK_ROUNDING_KEY (or PEERLINK_ROUNDING_KEY_FILE) to a secret"),
        ({"PEERLINK_ROUNDING_KEY": "short"}, "a secret of at least 32 characters"),
        (
            {"PEERLINK_ROUNDING_KEY": ROUNDING_KEY, "PEERLINK_ROUNDING_KEY_FILE": "/run/key"},
            "not both",
        ),
        ({"PEERLINK_ROUNDING_KEY_FILE": "/nowhere/key"}, "PEERLINK_ROUNDING_KEY_FILE names"),
    ],
)
def test_rounding_without_a_usable_key_stops_the_hub_and_says_why(env, fault):
    with pytest.raises(SettingError, match=re.escape(fault)):
        load(ReportingSettings, env)


def test_every_disclosure_setting_at_fault_is_named_at_once():
    with pytest.raises(SettingError) as refused:
        load(ReportingSettings, {"PEERLINK_ROUND_TO": "five", "PEERLINK_SUPPRESS_UP_TO": "-1"})
    for named in (
        "PEERLINK_ROUND_TO='five' is invalid",
        "PEERLINK_SUPPRESS_UP_TO='-1' is invalid: it must be 0 or more",
        "PEERLINK_ROUNDING_KEY, PEERLINK_ROUNDING_KEY_FILE: set PEERLINK_ROUNDING_KEY",
    ):
        assert named in str(refused.value)


def test_the_reports_disclosure_policy_is_the_one_the_settings_give(environment):
    from services.reporting.service import Disclosure

    environment.setenv("PEERLINK_ROUNDING_KEY", ROUNDING_KEY)
    environment.setenv("PEERLINK_SUPPRESS_UP_TO", "6")
    disclosure = Disclosure()
    disclosure.setup()
    assert (
        disclosure.policy
        == load(
            ReportingSettings,
            {"PEERLINK_ROUNDING_KEY": ROUNDING_KEY, "PEERLINK_SUPPRESS_UP_TO": "6"},
        ).policy()
    )
    assert disclosure.policy.up_to == 6
    environment.setenv("PEERLINK_SUPPRESS_UP_TO", "few")
    settings_of.cache_clear()
    with pytest.raises(SettingError, match="PEERLINK_SUPPRESS_UP_TO='few'"):
        Disclosure().setup()


# -- the partner's pseudonym key, for what a node hands the hub ---------------------------------

PSEUDONYM_KEY = "the partner's own key, 32 characters or more"
PSEUDONYM_VARIABLES = ("PEERLINK_HUB_PSEUDONYM_KEY", "PEERLINK_HUB_PSEUDONYM_KEY_FILE")


def test_the_pseudonym_key_is_read_given_itself_or_in_a_file(tmp_path):
    from shared.hub_edge import HubEdgeSettings

    given = load(HubEdgeSettings, {"PEERLINK_HUB_PSEUDONYM_KEY": f" {PSEUDONYM_KEY}\n"})
    (tmp_path / "key").write_text(PSEUDONYM_KEY + "\n")
    from_file = load(HubEdgeSettings, {"PEERLINK_HUB_PSEUDONYM_KEY_FILE": str(tmp_path / "key")})
    person = str(uuid.uuid4())
    assert given.pseudonyms.person(person) == from_file.pseudonyms.person(person)
    other = load(HubEdgeSettings, {"PEERLINK_HUB_PSEUDONYM_KEY": PSEUDONYM_KEY + "!"})
    assert other.pseudonyms.person(person) != given.pseudonyms.person(person)
    assert PSEUDONYM_KEY not in repr(given)


@pytest.mark.parametrize(
    ("env", "fault"),
    [
        ({}, "set PEERLINK_HUB_PSEUDONYM_KEY (or PEERLINK_HUB_PSEUDONYM_KEY_FILE) to a secret"),
        ({"PEERLINK_HUB_PSEUDONYM_KEY": "  "}, "a secret of at least 32 characters"),
        ({"PEERLINK_HUB_PSEUDONYM_KEY": "short"}, "a secret of at least 32 characters"),
        (
            {
                "PEERLINK_HUB_PSEUDONYM_KEY": PSEUDONYM_KEY,
                "PEERLINK_HUB_PSEUDONYM_KEY_FILE": "/run/key",
            },
            "not both",
        ),
        (
            {"PEERLINK_HUB_PSEUDONYM_KEY_FILE": "/nowhere/key"},
            "PEERLINK_HUB_PSEUDONYM_KEY_FILE names /nowhere/key",
        ),
    ],
)
def test_a_pseudonym_key_missing_or_unusable_is_refused_naming_the_setting(env, fault):
    from shared.hub_edge import HubEdgeSettings

    with pytest.raises(SettingError) as refused:
        load(HubEdgeSettings, env)
    assert str(refused.value).startswith(
        "HubEdgeSettings: PEERLINK_HUB_PSEUDONYM_KEY, PEERLINK_HUB_PSEUDONYM_KEY_FILE: "
    )
    assert fault in str(refused.value)


@pytest.mark.parametrize(
    "service", [ReferralsService, SessionsService, SafeguardingService], ids=lambda s: s.name
)
def test_a_node_service_reads_its_pseudonym_key_as_it_sets_up(environment, service):
    """Before the hub first reads its event feed: a service without the key does not start."""
    from nameko.containers import ServiceContainer

    from shared.hub_edge import HubEdgeSettings
    from shared.settings import ServiceSettings

    container = ServiceContainer(service, {"AMQP_URI": "memory://"})
    [provider] = [
        d
        for d in container.dependencies
        if isinstance(d, ServiceSettings) and d.cls is HubEdgeSettings
    ]
    for variable in PSEUDONYM_VARIABLES:
        environment.delenv(variable, raising=False)
    with pytest.raises(SettingError, match="PEERLINK_HUB_PSEUDONYM_KEY"):
        provider.setup()
    environment.setenv("PEERLINK_HUB_PSEUDONYM_KEY", PSEUDONYM_KEY)
    settings_of.cache_clear()
    provider.setup()
    person = str(uuid.uuid4())
    expected = load(HubEdgeSettings, {"PEERLINK_HUB_PSEUDONYM_KEY": PSEUDONYM_KEY})
    assert provider.get_dependency(None).pseudonyms.person(person) == (
        expected.pseudonyms.person(person)
    )
