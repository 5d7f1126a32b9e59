"""Partners as separate tenants of the running alliance: each node's broker user reaches its own
vhost only and no user administers the broker; each database opens to its own roles only; and
the hub applies a message only when the partner it names sent it, from one of its own sources,
at a position that partner's feed holds. A forged message changes no hub figure and is counted
as a dead letter."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime

import amqp
import psycopg2
import pytest
import requests

from shared.config import (
    HUB_BROKER_USER,
    PARTNERS,
    broker_user,
    database_name,
    federation_user,
    source_name,
)
from shared.events import Actor, RecordedEvent
from shared.relay import amqp_connection
from shared.topology import EVENTS_EXCHANGE, broker_users
from tests.conftest import rabbitmqctl, wait_for
from tests.disclosure import pseudonyms_of

pytestmark = pytest.mark.e2e

HUB_DATABASE = "peerlink_hub"
HUB_CONSUMER = "hub-reports"
REFUSED_CONNECTION = (amqp.exceptions.NotAllowed, amqp.exceptions.AccessRefused)


def as_user(url: str, user: str, password: str) -> str:
    """The same vhost URL with another login."""
    return re.sub(r"://[^@]*@", f"://{user}:{password}@", url)


def with_vhost(url: str, vhost: str) -> str:
    return url.rsplit("/", 1)[0] + f"/{vhost}"


def connect(url: str) -> amqp.Connection:
    conn = amqp_connection(url)
    conn.connect()
    return conn


# -- the broker --------------------------------------------------------------------------------


def test_the_broker_has_the_alliances_users_only_none_an_administrator(stack_state):
    listed = json.loads(rabbitmqctl(stack_state, "list_users", "--formatter", "json").stdout)
    users = {user["user"]: user["tags"] for user in listed}
    assert "guest" not in users
    assert set(users) == set(broker_users())
    assert all(tags in ([], "", "[]") for tags in users.values()), users


def test_a_node_user_reaches_its_own_vhost_only(stack_state):
    urls = stack_state["amqp"]
    for partner in PARTNERS:
        own = urls[partner]
        assert f"://{broker_user(partner)}:" in own
        connect(own).close()
        for vhost in [*(p for p in PARTNERS if p != partner), "hub"]:
            # neither publishing nor reading: the vhost does not open to it at all
            with pytest.raises(REFUSED_CONNECTION):
                connect(with_vhost(own, vhost))
    with pytest.raises(REFUSED_CONNECTION):
        connect(with_vhost(urls["hub"], "leeds-mind"))


def test_a_node_user_may_only_publish_events_and_consume_its_services_queues(stack_state):
    conn = connect(stack_state["amqp"]["leeds-mind"])
    try:
        with pytest.raises(amqp.exceptions.AccessRefused):
            conn.channel().queue_declare(f"mine-{uuid.uuid4().hex[:6]}", auto_delete=True)
        with pytest.raises(amqp.exceptions.AccessRefused):
            conn.channel().basic_get("referrals.inbound.dead")
        # the broker checks the user_id a message claims against the user that publishes it
        channel = conn.channel()
        channel.confirm_select()
        with pytest.raises(amqp.exceptions.PreconditionFailed):
            channel.basic_publish(
                amqp.Message("{}", user_id=broker_user("mesmac")),
                exchange=EVENTS_EXCHANGE,
                routing_key="leeds-mind.referrals.Nothing",
            )
            conn.drain_events(timeout=5)
    finally:
        conn.collect()


def test_the_hub_user_may_only_consume_the_hubs_queue(stack_state):
    url = stack_state["amqp"]["hub"]
    assert f"://{HUB_BROKER_USER}:" in url
    conn = connect(url)
    try:
        with pytest.raises(amqp.exceptions.AccessRefused):
            conn.channel().basic_publish(
                amqp.Message("{}"), exchange=EVENTS_EXCHANGE, routing_key="x"
            )
            conn.drain_events(timeout=5)
    finally:
        conn.collect()


def test_federation_reads_each_partner_as_that_partners_federation_user(stack_state):
    listed = rabbitmqctl(stack_state, "list_parameters", "-p", "hub", "--formatter", "json").stdout
    for parameter in json.loads(listed):
        if parameter["component"] != "federation-upstream":
            continue
        value = parameter["value"]
        value = json.loads(value) if isinstance(value, str) else value
        partner = parameter["name"]
        assert f"://{federation_user(partner)}:" in value["uri"]
        assert value["uri"].endswith(f"/{partner}")
        assert value["trust-user-id"] is True


# -- the databases -----------------------------------------------------------------------------


def test_a_database_login_opens_its_own_database_only(stack_state):
    logins = {**stack_state["app_dsn"]}
    owners = stack_state["owner_dsn"]
    databases = [*(database_name(p) for p in PARTNERS), HUB_DATABASE]
    for own in databases:
        for dsn in (logins[own], owners[own]):
            psycopg2.connect(dsn).close()
            for other in [*(db for db in databases if db != own), "postgres"]:
                with pytest.raises(psycopg2.OperationalError, match="permission denied"):
                    psycopg2.connect(dsn.rsplit("/", 1)[0] + f"/{other}")


# -- the hub's check of every message ----------------------------------------------------------


def hub_query(stack_state, sql: str, *args):
    conn = psycopg2.connect(stack_state["owner_dsn"][HUB_DATABASE])
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def hub_figures(stack_state) -> dict:
    facts = hub_query(
        stack_state, "SELECT count(*), coalesce(max(position), 0) FROM reporting.facts"
    )
    by_month = hub_query(
        stack_state, "SELECT coalesce(sum(referrals), 0) FROM reporting.referrals_by_month"
    )
    checkpoints = hub_query(
        stack_state,
        "SELECT source, position FROM reporting.consumer_checkpoints WHERE consumer = %s",
        HUB_CONSUMER,
    )
    # a checkpoint at 0 is one not yet set: the same as none
    read = {source: position for source, position in checkpoints if position}
    return {"facts": facts[0], "referrals": by_month[0][0], "checkpoints": read}


def dead_letters(stack_state, event_ids) -> dict:
    rows = hub_query(
        stack_state,
        "SELECT event_id::text, error FROM reporting.dead_letters"
        " WHERE consumer = %s AND event_id = ANY(%s::uuid[])",
        HUB_CONSUMER,
        [str(e) for e in event_ids],
    )
    return dict(rows)


def queued(stack_state, queue: str) -> int:
    listed = rabbitmqctl(
        stack_state, "list_queues", "-p", "hub", "name", "messages", "--formatter", "json"
    ).stdout
    return next(q["messages"] for q in json.loads(listed) if q["name"] == queue)


def hub_metric(endpoints, auth, name: str, **labels) -> float:
    response = requests.get(
        f"{endpoints['hub']['worker']}/metrics", headers=auth("operator", "alliance"), timeout=10
    )
    assert response.status_code == 200, response.text
    total = 0.0
    for line in response.text.splitlines():
        if line.startswith(name + "{"):
            found = line[len(name) + 1 : line.index("}")]
            if all(f'{key}="{value}"' in found for key, value in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
    return total


def forged(partner: str, source: str, position: int, previous: int) -> dict:
    """A ReferralReceived as a relay would publish it, with hub-side fields only."""
    now = datetime.now(UTC)
    event = RecordedEvent(
        event_id=uuid.uuid4(),
        stream_type="referral",
        stream_id=str(uuid.uuid4()),
        version=1,
        position=position,
        event_type="ReferralReceived",
        schema_version=1,
        partner_id=partner,
        occurred_at=now,
        recorded_at=now,
        actor=Actor("forger", "team_lead"),
        correlation_id=uuid.uuid4(),
        causation_id=None,
        payload={
            "person_id": str(uuid.uuid4()),
            "source": "gp",
            "received_on": date.today().isoformat(),
        },
    )
    return {**event.envelope(), "source": source, "previous_position": previous}


def publish(url: str, body: dict, user_id: str | None) -> None:
    """Publish on a partner's events exchange as its node user, confirmed by the broker."""
    conn = connect(url)
    try:
        channel = conn.channel()
        channel.confirm_select()
        channel.basic_publish(
            amqp.Message(
                json.dumps(body),
                content_type="application/json",
                delivery_mode=2,
                message_id=body["event_id"],
                **({"user_id": user_id} if user_id else {}),
            ),
            exchange=EVENTS_EXCHANGE,
            # the hub's queue takes every key; this one reaches none of the node's own queues
            routing_key=f"{body['partner_id']}.tenancy-check.{body['event_type']}",
        )
    finally:
        conn.close()


def record_a_referral(endpoints, auth, partner: str) -> str:
    base = endpoints["partners"][partner]["referrals"]
    headers = auth("team_lead", partner)
    person = requests.post(
        f"{base}/people",
        json={"full_name": "Tenancy Check", "date_of_birth": "1990-01-01"},
        headers=headers,
        timeout=10,
    )
    assert person.status_code == 201, person.text
    referral = requests.post(
        f"{base}/referrals",
        json={
            "person_id": person.json()["person_id"],
            "source": "gp",
            "received_on": date.today().isoformat(),
            "consent": {
                "to_share": True,
                "to_contact": True,
                "recorded_on": date.today().isoformat(),
            },
        },
        headers=headers,
        timeout=10,
    )
    assert referral.status_code == 201, referral.text
    return referral.json()["referral_id"]


FORGED: list[dict] = []


def test_forged_messages_change_no_hub_figure_and_are_dead_lettered(stack_state):
    before = hub_figures(stack_state)
    dead_before = queued(stack_state, "hub.reports.dead")
    referrals = source_name("leeds-mind", "referrals")
    read = before["checkpoints"].get(referrals, 0)
    urls = stack_state["amqp"]

    # mesmac's node publishes, in its own vhost, an event that claims to be leeds-mind's
    wrong_user = forged("leeds-mind", referrals, read + 1, read)
    publish(urls["mesmac"], wrong_user, broker_user("mesmac"))
    # leeds-mind's node claims a source of another partner's, and one that does not exist
    wrong_source = forged("leeds-mind", source_name("mesmac", "referrals"), read + 1, read)
    publish(urls["leeds-mind"], wrong_source, broker_user("leeds-mind"))
    no_such_source = forged("leeds-mind", "leeds-mind/payroll", 1, 0)
    publish(urls["leeds-mind"], no_such_source, broker_user("leeds-mind"))
    # no user_id at all: the hub cannot tell who sent it
    anonymous = forged("leeds-mind", referrals, read + 1, read)
    publish(urls["leeds-mind"], anonymous, None)
    # leeds-mind's own node, its own source, the right previous position, and a position far
    # past what its feed holds: applied, it would make the hub skip every later event
    far_ahead = forged("leeds-mind", referrals, read + 10**9, read)
    publish(urls["leeds-mind"], far_ahead, broker_user("leeds-mind"))

    messages = [wrong_user, wrong_source, no_such_source, anonymous, far_ahead]
    ids = [m["event_id"] for m in messages]
    refused = wait_for(
        lambda: (found := dead_letters(stack_state, ids)) and len(found) == len(ids) and found,
        timeout=30,
        message="every forged message to be refused",
    )
    assert "sender" in refused[wrong_user["event_id"]]
    assert "sender" in refused[anonymous["event_id"]]
    assert "source" in refused[wrong_source["event_id"]]
    assert "source" in refused[no_such_source["event_id"]]
    assert "position" in refused[far_ahead["event_id"]]
    assert hub_figures(stack_state) == before
    assert not hub_query(
        stack_state,
        "SELECT 1 FROM reporting.facts WHERE stream_id = ANY(%s)",
        [m["stream_id"] for m in messages],
    )
    wait_for(
        lambda: queued(stack_state, "hub.reports.dead") >= dead_before + len(messages),
        timeout=15,
        message="the refused messages in the dead-letter queue",
    )
    FORGED.extend(messages)


def test_refusals_are_counted_and_the_hub_skips_nothing_after_them(stack_state, endpoints, auth):
    if not FORGED:
        pytest.skip("needs the forged messages of the test before")
    counted = hub_metric(endpoints, auth, "peerlink_dead_letters_total", consumer=HUB_CONSUMER)
    assert counted >= len(FORGED)
    for reason in ("sender", "source", "position"):
        assert hub_metric(
            endpoints, auth, "peerlink_consumer_refused_total", consumer=HUB_CONSUMER, reason=reason
        )
    # leeds-mind's next real event is applied: the far-ahead position moved nothing
    referral = record_a_referral(endpoints, auth, "leeds-mind")
    # the hub knows it by leeds-mind's pseudonym for it
    pseudonym = pseudonyms_of("leeds-mind").stream("referral", referral)
    wait_for(
        lambda: hub_query(
            stack_state, "SELECT 1 FROM reporting.facts WHERE stream_id = %s", pseudonym
        ),
        timeout=30,
        message="the next real referral to reach the hub",
    )
    position = hub_figures(stack_state)["checkpoints"][source_name("leeds-mind", "referrals")]
    assert position < 10**9
