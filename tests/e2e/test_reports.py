"""The hub's reports against a direct computation from every partner's raw events: work on
three partner nodes goes through RabbitMQ to the hub, and each published report equals what
the test works out itself from the partners' event feeds, suppressed by the same policy. A
partner's link to the hub going down while it keeps recording changes nothing in the end."""

from __future__ import annotations

import contextlib
import json
import statistics
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from contracts.sessions import measures
from services.reporting.reports import Table
from services.reporting.suppression import Policy
from services.sessions.domain import DIRECT_CONTACT_MEDIA, MODES, SESSION_KINDS
from shared.config import NODE_SERVICES, PARTNERS
from tests.conftest import broker_login, rabbitmqctl, wait_for
from tests.e2e.test_sessions import Api, ok, swemwbs

pytestmark = pytest.mark.e2e

TODAY = date.today()
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def node(endpoints, auth):
    def make(partner, service="sessions", role="team_lead", user=None):
        return Api(endpoints["partners"][partner][service], auth(role, partner, user))

    return make


@pytest.fixture(scope="module")
def hub(endpoints, auth):
    return Api(endpoints["hub"]["reporting"], auth("alliance_analyst", "alliance"))


def feed(endpoints, auth, partner: str, service: str) -> list[dict]:
    events, after = [], 0
    headers = auth("service", partner)
    while True:
        page = requests.get(
            f"{endpoints['partners'][partner][service]}/events",
            params={"after": after, "limit": 5000},
            headers=headers,
            timeout=15,
        ).json()
        if not page["events"]:
            return events
        events += page["events"]
        after = page["next_after"]


def every_event(endpoints, auth) -> list[dict]:
    return [
        event
        for partner in PARTNERS
        for service in NODE_SERVICES
        for event in feed(endpoints, auth, partner, service)
    ]


def wait_until_hub_has_read_everything(endpoints, auth, hub) -> None:
    heads = {}
    for partner in PARTNERS:
        for service in NODE_SERVICES:
            events = feed(endpoints, auth, partner, service)
            if events:
                heads[f"{partner}/{service}"] = events[-1]["position"]

    def caught_up():
        sources = ok(hub.get("/reports/freshness"))["sources"]
        return all(sources.get(s, {}).get("position", 0) >= p for s, p in heads.items())

    wait_for(caught_up, timeout=30, message="the hub to read every partner's events")


# -- a little real work on every partner -------------------------------------------------------


def post_when_active(pw, body: dict) -> None:
    """Retry while the referral's new status is on its way to the sessions service."""
    response = {}

    def recorded():
        response["r"] = pw.post("/sessions/held", body)
        return response["r"].status_code == 201

    wait_for(recorded, timeout=20, message=lambda: response["r"].text)


def some_work(node, partner: str, tag: str) -> None:
    """Two people with active referrals seen one to one (one did-not-attend), measured twice,
    signposted; a drop-in."""
    lead_people = node(partner, "referrals")
    for n in range(2):
        worker = f"pw-{tag}-{n}"
        person = ok(
            lead_people.post(
                "/people", {"full_name": f"Report Person {tag}{n}", "date_of_birth": "1990-02-03"}
            ),
            201,
        )["person_id"]
        received = TODAY - timedelta(days=30 + n)
        rid = ok(
            lead_people.post(
                "/referrals",
                {"person_id": person, "source": "gp", "received_on": received.isoformat()},
            ),
            201,
        )["referral_id"]
        ok(lead_people.post(f"/referrals/{rid}/accept", {"on": received.isoformat()}))
        registered = node(partner, "referrals", "partner_admin").post(
            "/workers", {"worker_id": worker}
        )
        assert registered.status_code in (201, 409), registered.text
        ok(
            lead_people.post(
                f"/referrals/{rid}/allocate", {"worker_id": worker, "on": received.isoformat()}
            )
        )
        ok(
            node(partner, "referrals", "peer_worker", worker).post(
                f"/referrals/{rid}/first-contact",
                {"on": (received + timedelta(days=3 + n)).isoformat()},
            )
        )
        pw = node(partner, role="peer_worker", user=worker)
        for week, status in enumerate(["attended", "did_not_attend", "attended"]):
            body = {
                "kind": "one_to_one",
                "referral_id": rid,
                "mode": "phone" if week else "face_to_face_base",
                "location": "remote" if week else "peer_support_base",
                "worker_ids": [worker],
                "actual_start_at": (NOW - timedelta(days=20 - 7 * week)).isoformat(),
                "duration_minutes": 45,
                "attendance": [{"person_id": person, "status": status}],
            }
            post_when_active(pw, body)
        for timepoint, score, days in (("start", 16 + n, 20), ("review", 22, 1)):
            ok(
                pw.post(
                    f"/people/{person}/measures",
                    {
                        "measure": "swemwbs",
                        "timepoint": timepoint,
                        "taken_on": (TODAY - timedelta(days=days)).isoformat(),
                        "answers": swemwbs(score),
                    },
                ),
                201,
            )
        signposted = ok(
            pw.post("/signposting", {"person_id": person, "destination": "housing"}), 201
        )
        if n:
            ok(
                pw.post(
                    f"/signposting/{signposted['signposting_id']}/outcome", {"outcome": "taken_up"}
                )
            )
    ok(
        node(partner).post(
            "/sessions/held",
            {
                "kind": "drop_in",
                "mode": "face_to_face_base",
                "location": "peer_support_base",
                "worker_ids": [f"pw-{tag}-0"],
                "actual_start_at": (NOW - timedelta(days=2)).isoformat(),
                "duration_minutes": 120,
                "anonymous_attendees": 3,
            },
        ),
        201,
    )


# -- the same figures, worked out here from raw events -----------------------------------------


def _month(value: str) -> str:
    return value[:7]


def _corrected(events) -> dict[tuple, dict]:
    """(partner, referral) -> field -> its latest corrected value."""
    latest: dict[tuple, dict] = defaultdict(dict)
    for e in sorted(
        (e for e in events if e["event_type"] == "ReferralCorrected"), key=lambda e: e["version"]
    ):
        latest[(e["partner_id"], e["stream_id"])][e["payload"]["field"]] = e["payload"]["value"]
    return latest


def direct_referrals(events, policy):
    table = Table("referrals", "", ("partner_id", "month"), tuple(_sources()))
    corrected = _corrected(events)
    for e in events:
        if e["event_type"] == "ReferralReceived":
            p = {**e["payload"], **corrected.get((e["partner_id"], e["stream_id"]), {})}
            table.add((e["partner_id"], _month(p["received_on"])), p["source"], 1)
    return [table.publish(policy)]


def _sources():
    from services.referrals.schemas import REFERRAL_SOURCES

    return REFERRAL_SOURCES


def _held(events):
    voided = _voided(events, "SessionVoided")
    return {
        (e["partner_id"], e["stream_id"]): e["payload"]
        for e in events
        if e["event_type"] == "SessionRecorded" and (e["partner_id"], e["stream_id"]) not in voided
    }


def _voided(events, event_type: str) -> set[tuple]:
    return {(e["partner_id"], e["stream_id"]) for e in events if e["event_type"] == event_type}


def _marks(events):
    marks = {}
    for e in sorted(events, key=lambda e: (e["partner_id"], e["stream_id"], e["version"])):
        if e["event_type"] in ("AttendanceRecorded", "AttendanceCorrected"):
            marks[(e["partner_id"], e["stream_id"], e["payload"]["person_id"])] = e["payload"][
                "status"
            ]
        elif e["event_type"] == "AttendanceVoided":
            del marks[(e["partner_id"], e["stream_id"], e["payload"]["person_id"])]
    return marks


def direct_sessions(events, policy):
    by_kind = Table("sessions_by_kind", "", ("partner_id", "month"), SESSION_KINDS)
    by_mode = Table("sessions_by_mode", "", ("partner_id", "month"), tuple(MODES))
    for (partner, _), p in _held(events).items():
        month = _month(datetime.fromisoformat(p["actual_start_at"]).astimezone(UTC).isoformat())
        by_kind.add((partner, month), p["kind"], 1)
        by_mode.add((partner, month), p["mode"], 1)
    return [by_kind.publish(policy), by_mode.publish(policy)]


def direct_attendance(events, policy):
    from services.reporting.reports import ATTENDANCE_STATES, _dna_rate

    held = _held(events)
    table = Table("attendance", "", ("partner_id", "month"), ATTENDANCE_STATES, extras=_dna_rate)
    for (partner, session, _), status in _marks(events).items():
        if (partner, session) in held:
            started = datetime.fromisoformat(held[(partner, session)]["actual_start_at"])
            table.add((partner, _month(started.astimezone(UTC).isoformat())), status, 1)
    return [table.publish(policy)]


def direct_contacts(events, policy):
    held = _held(events)
    since = TODAY - timedelta(days=365)
    seen = Counter()
    for (partner, session, person), status in _marks(events).items():
        p = held.get((partner, session))
        if p is None or status not in ("attended", "late_seen"):
            continue
        started = datetime.fromisoformat(p["actual_start_at"]).astimezone(UTC).date()
        if p["medium_code"] in DIRECT_CONTACT_MEDIA and since <= started <= TODAY:
            seen[(partner, person)] += 1
    table = Table("contacts", "", ("partner_id",), ("one_contact", "two_or_more_contacts"))
    for (partner, _), n in seen.items():
        table.add((partner,), "two_or_more_contacts" if n >= 2 else "one_contact", 1)
    return [table.publish(policy)]


def direct_wellbeing(events, policy):
    from services.reporting.reports import WELLBEING_OUTCOMES, _improved_share

    series = defaultdict(list)
    voided = {
        (e["partner_id"], e["stream_id"], e["payload"]["number"])
        for e in events
        if e["event_type"] == "MeasureVoided"
    }
    for e in events:
        p = e["payload"]
        if (e["partner_id"], e["stream_id"], e["version"]) in voided:
            continue
        if e["event_type"] == "MeasureRecorded" and p["measure"] == "swemwbs":
            series[(e["partner_id"], p["person_id"])].append(
                measures.Taken(
                    "swemwbs",
                    p["timepoint"],
                    date.fromisoformat(p["taken_on"]),
                    Decimal(str(p["metric_score"])),
                )
            )
    table = Table("wellbeing", "", ("partner_id",), WELLBEING_OUTCOMES, extras=_improved_share)
    changes = defaultdict(list)
    for (partner, _), taken in series.items():
        change = measures.change_from_first_to_latest("swemwbs", taken)
        if change:
            table.add((partner,), change.outcome, 1)
            changes[partner].append(change.change)
    published = table.publish(policy)
    for row in published["rows"]:
        values = changes[row["partner_id"]]
        row["mean_change"] = (
            "*" if policy.hides(len(values)) else round(float(sum(values) / len(values)), 2)
        )
    every = [v for values in changes.values() for v in values]
    published["totals"]["mean_change"] = (
        ("*" if policy.hides(len(every)) else round(float(sum(every) / len(every)), 2))
        if every
        else None
    )
    return [published]


def direct_waits(events, policy):
    received, contacted = {}, {}
    for e in events:
        key = (e["partner_id"], e["stream_id"])
        if e["event_type"] == "ReferralReceived":
            received[key] = date.fromisoformat(e["payload"]["received_on"])
        elif e["event_type"] == "FirstContactMade":
            day = date.fromisoformat(e["payload"]["contacted_on"])
            contacted[key] = min(day, contacted.get(key, day))
    for key, fields in _corrected(events).items():
        if "received_on" in fields:
            received[key] = date.fromisoformat(fields["received_on"])
        if "first_contact_on" in fields:
            contacted[key] = date.fromisoformat(fields["first_contact_on"])
    days = defaultdict(list)
    for key, day in contacted.items():
        if key in received:
            days[key[0]].append((day - received[key]).days)
    rows = []
    for partner in sorted(days):
        values = sorted(days[partner])
        n = len(values)
        p90 = _percentile_cont(values, 0.9)
        rows.append(
            {
                "partner_id": partner,
                "first_contacts": "*" if policy.hides(n) else n,
                "median_days": "*"
                if policy.hides(n)
                else round(float(statistics.median(values)), 1),
                "p90_days": "*" if policy.hides(n) else round(p90, 1),
            }
        )
    return [{"name": "waits", "rows": rows}]


def _percentile_cont(values, fraction):
    """PostgreSQL's percentile_cont: linear between the two nearest ranks."""
    position = fraction * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


DIRECT = {
    "referrals": direct_referrals,
    "sessions": direct_sessions,
    "attendance": direct_attendance,
    "contacts": direct_contacts,
    "wellbeing": direct_wellbeing,
    "waits": direct_waits,
}


def published_tables(hub, name: str, **params) -> list[dict]:
    tables = ok(hub.get(f"/reports/{name}", **params))["tables"]
    for table in tables:
        table.pop("title", None)
    return tables


def assert_reports_equal_direct_computation(endpoints, auth, hub) -> None:
    wait_until_hub_has_read_everything(endpoints, auth, hub)
    events = every_event(endpoints, auth)
    policy = Policy(**ok(hub.get("/reports/referrals"))["suppression"])
    for name, compute in DIRECT.items():
        expected = json.loads(json.dumps(compute(events, policy), default=str))
        for table in expected:
            table.pop("title", None)
        assert published_tables(hub, name) == expected, name


def test_every_report_equals_a_direct_computation_from_the_partners_events(
    endpoints, auth, node, hub
):
    before = ok(hub.get("/reports/attendance"))
    for partner in PARTNERS:
        some_work(node, partner, f"{partner[:3]}{uuid.uuid4().hex[:4]}")
    assert_reports_equal_direct_computation(endpoints, auth, hub)
    # as at the moment before this work, the report is what it was then
    then = ok(hub.get("/reports/attendance", as_at=before["as_at"]))
    assert then["tables"] == before["tables"]
    assert ok(hub.get("/reports/attendance"))["tables"] != before["tables"]


def test_a_partners_link_down_while_it_records_delays_nothing_for_good(
    endpoints, auth, node, hub, stack_state
):
    listed = rabbitmqctl(stack_state, "list_parameters", "-p", "hub", "--formatter", "json").stdout
    upstream = next(
        p
        for p in json.loads(listed)
        if p["component"] == "federation-upstream" and p["name"] == "mesmac"
    )
    value = (
        upstream["value"] if isinstance(upstream["value"], str) else json.dumps(upstream["value"])
    )
    rabbitmqctl(stack_state, "clear_parameter", "-p", "hub", "federation-upstream", "mesmac")
    try:
        some_work(node, "mesmac", f"down{uuid.uuid4().hex[:4]}")
    finally:
        rabbitmqctl(
            stack_state, "set_parameter", "-p", "hub", "federation-upstream", "mesmac", value
        )
    assert_reports_equal_direct_computation(endpoints, auth, hub)


def test_reports_are_filtered_by_partner_and_period_exported_as_csv_and_refuse_bad_input(hub):
    only = ok(hub.get("/reports/referrals", partner="lslcs"))
    assert {row["partner_id"] for row in only["tables"][0]["rows"]} <= {"lslcs"}
    month = TODAY.replace(day=1)
    this_month = ok(hub.get("/reports/referrals", **{"from": month.isoformat()}))
    assert {row["month"] for row in this_month["tables"][0]["rows"]} <= {month.isoformat()[:7]}
    csv = hub.get("/reports/attendance", format="csv")
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert "partner_id,month,attended,late_seen,late_not_seen,did_not_attend,total" in csv.text
    for params, field in [
        ({"partner": "nowhere"}, "partner"),
        ({"from": "last week"}, "from"),
        ({"from": "2026-05-01", "to": "2026-04-01"}, "to"),
        ({"as_at": "2026-05-01T10:00:00"}, "as_at"),
        ({"as_at": "2999-01-01T00:00:00Z"}, "as_at"),
        ({"format": "pdf"}, "format"),
        ({"colour": "blue"}, "colour"),
    ]:
        response = hub.get("/reports/referrals", **params)
        assert response.status_code == 422, (params, response.text)
        assert field in response.json()["fields"], response.text
    assert hub.get("/reports/horoscope").status_code == 404
    future = hub.get("/dashboard", as_at="2999-01-01T00:00:00Z")
    assert future.status_code == 422 and "as_at" in future.json()["fields"], future.text
    two = ok(hub.get("/reports/referrals", partner=["lslcs", "mesmac"]))
    assert two["partners"] == ["lslcs", "mesmac"]
    assert [r["name"] for r in ok(hub.get("/reports"))["reports"]][:2] == ["referrals", "waits"]


def test_a_partner_feed_read_by_the_hub_hands_over_only_the_named_fields(
    endpoints, auth, node, stack_state
):
    import psycopg2

    from shared.hub_schema import HUB_FIELDS

    lead = node("lslcs", "referrals")
    person = ok(
        lead.post("/people", {"full_name": "Feed Filter Test", "date_of_birth": "1988-08-08"}),
        201,
    )["person_id"]
    ok(
        lead.post(
            "/referrals",
            {
                "person_id": person,
                "source": "self",
                "received_on": TODAY.isoformat(),
                "referrer_organisation": "Chapeltown Community Centre",
                "consent": {"to_share": True, "to_contact": True, "recorded_on": TODAY.isoformat()},
            },
        ),
        201,
    )
    url = f"{endpoints['partners']['lslcs']['referrals']}/events"
    # the hub's machine credential is the only reader of a node's feed
    hub = requests.get(url, params={"limit": 5000}, headers=auth("service", "lslcs"), timeout=15)
    hub_events = hub.json()["events"]
    assert hub_events, hub.text
    for event in hub_events:
        assert set(event["payload"]) <= set(HUB_FIELDS.get(event["event_type"], ())), event
    with psycopg2.connect(stack_state["owner_dsn"]["peerlink_lslcs"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT payload::text FROM referrals.events")
        own = " ".join(row[0] for row in cur.fetchall())
    assert "Chapeltown" in own and "Chapeltown" not in hub.text
    assert '"consent"' in own and '"consent"' not in hub.text


def test_what_crosses_to_the_hub_over_rabbitmq_is_only_the_named_fields(
    endpoints, auth, node, stack_state
):
    """A queue of the test's own in the hub's vhost, bound to the federated exchange, sees what
    the federation link carries from lslcs."""
    import kombu

    from shared.hub_schema import HUB_FIELDS
    from shared.topology import EVENTS_EXCHANGE

    queue_name = f"test.crossing.{uuid.uuid4().hex[:8]}"
    # the hub's own user may only consume the hub's queue: a user of the test's own binds one
    with broker_login(stack_state, "hub") as url, kombu.Connection(url) as conn:
        exchange = kombu.Exchange(EVENTS_EXCHANGE, type="topic", passive=True)
        queue = kombu.Queue(queue_name, exchange, routing_key="lslcs.referrals.#", auto_delete=True)
        seen: list[dict] = []
        with conn.Consumer(queue, callbacks=[lambda body, message: seen.append(body)]) as _:
            time.sleep(1.0)  # the federation link asks its upstream for the new binding
            lead = node("lslcs", "referrals")
            person = ok(
                lead.post("/people", {"full_name": "Crossing Test", "date_of_birth": "1979-09-09"}),
                201,
            )["person_id"]
            rid = ok(
                lead.post(
                    "/referrals",
                    {
                        "person_id": person,
                        "source": "gp",
                        "received_on": TODAY.isoformat(),
                        "referrer_organisation": "Harehills Surgery",
                        "consent": {
                            "to_share": True,
                            "to_contact": True,
                            "recorded_on": TODAY.isoformat(),
                        },
                    },
                ),
                201,
            )["referral_id"]

            def arrived():
                with contextlib.suppress(TimeoutError):
                    conn.drain_events(timeout=0.5)
                return any(m.get("stream_id") == rid for m in seen)

            wait_for(arrived, timeout=20, message="the referral to cross to the hub's vhost")
    received = next(m for m in seen if m["stream_id"] == rid)
    assert received["event_type"] == "ReferralReceived"
    assert set(received["payload"]) <= set(HUB_FIELDS["ReferralReceived"])
    assert received["payload"]["source"] == "gp"
    assert "Harehills" not in json.dumps(seen) and "consent" not in received["payload"]
