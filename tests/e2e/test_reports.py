"""The hub's reports against a direct computation from every partner's raw events: work on
three partner nodes goes through RabbitMQ to the hub, and each report published on the grid
equals what the test works out itself from the partners' event feeds, published the same way. A
partner's link to the hub going down while it keeps recording changes nothing in the end. What
the hub receives and holds names no node id, no member of staff and no moment finer than a
report needs."""

from __future__ import annotations

import contextlib
import json
import re
import statistics
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from contracts.hub import WITHHELD_USER, kept_names
from contracts.sessions import measures
from contracts.sessions.codes import DIRECT_CONTACT_MEDIA, MODES, SESSION_KINDS
from services.reporting.grid import Period, financial_year_of, month_of, quarter_of
from services.reporting.reports import (
    ATTENDANCE_STATES,
    CONTACT_BANDS,
    REFERRAL_SOURCES,
    WELLBEING_OUTCOMES,
    Table,
    dna_rate,
    improved_share,
    mean_change,
)
from shared.config import NODE_SERVICES, PARTNERS, database_name
from tests.conftest import broker_login, rabbitmqctl, wait_for
from tests.disclosure import pseudonyms_of, publication_policy
from tests.e2e.test_sessions import Api, ok, swemwbs

pytestmark = pytest.mark.e2e

TODAY = date.today()
NOW = datetime.now(UTC).replace(microsecond=0)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def node(endpoints, auth):
    def make(partner, service="sessions", role="team_lead", user=None):
        return Api(endpoints["partners"][partner][service], auth(role, partner, user))

    return make


@pytest.fixture(scope="module")
def hub(endpoints, auth):
    return Api(endpoints["hub"]["reporting"], auth("alliance_analyst", "alliance"))


def feed(endpoints, auth, partner: str, service: str) -> list[dict]:
    """A store's event feed as the hub's machine credential (for that node) reads it: in its
    hub shape."""
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


def store_events(stack_state, partner: str, service: str) -> list[dict]:
    """A store's events as the node holds them, read from its database."""
    import psycopg2

    conn = psycopg2.connect(stack_state["owner_dsn"][database_name(partner)])
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT event_id::text, stream_type, stream_id, version, position, event_type,"
                f" partner_id, recorded_at, actor_id, payload FROM {service}.events"
                " ORDER BY position"
            )
            names = [column.name for column in cur.description]
            events = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        conn.close()
    for event in events:
        event["recorded_at"] = event["recorded_at"].isoformat()
        event["actor"] = {"user_id": event.pop("actor_id")}
    return events


def every_event(stack_state) -> list[dict]:
    """Every event of every partner's stores: what the direct computations start from."""
    return [
        event
        for partner in PARTNERS
        for service in NODE_SERVICES
        for event in store_events(stack_state, partner, service)
    ]


def publish_cutoff(endpoints, auth) -> str:
    """A cut-off published by the hub's operator now: the moment reports are as at."""
    response = requests.post(
        f"{endpoints['hub']['reporting']}/reports/cutoffs",
        headers=auth("operator", "alliance"),
        timeout=15,
    )
    return ok(response, 201)["cutoff_at"]


def wait_until_hub_has_read_everything(endpoints, auth, hub=None) -> str:
    """Until the hub holds every event the partners have recorded; then a cut-off is published
    that counts them all. Returns the cut-off."""
    heads = {}
    for partner in PARTNERS:
        for service in NODE_SERVICES:
            events = feed(endpoints, auth, partner, service)
            if events:
                heads[f"{partner}/{service}"] = events[-1]["position"]
    operator = Api(endpoints["hub"]["reporting"], auth("operator", "alliance"))

    def caught_up():
        sources = ok(operator.get("/reports/freshness"))["sources"]
        return all(sources.get(s, {}).get("position", 0) >= p for s, p in heads.items())

    wait_for(caught_up, timeout=30, message="the hub to read every partner's events")
    return publish_cutoff(endpoints, auth)


# -- a little real work on every partner -------------------------------------------------------


def post_when_active(pw, body: dict) -> None:
    """Retry while the referral's new status is on its way to the sessions service."""
    response = {}

    def recorded():
        response["r"] = pw.post("/sessions/held", body)
        return response["r"].status_code == 201

    wait_for(recorded, timeout=20, message=lambda: response["r"].text)


def some_work(node, partner: str, tag: str) -> dict:
    """Two people with active referrals seen one to one (one did-not-attend), measured twice,
    signposted; a drop-in. Returns the ids and names it used."""
    lead_people = node(partner, "referrals")
    made = {"people": [], "referrals": [], "workers": []}
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
        made["people"].append(person)
        made["referrals"].append(rid)
        made["workers"].append(worker)
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
    return made


# -- the same figures, worked out here from raw events -----------------------------------------


@dataclass(frozen=True)
class Asked:
    """What a report was asked for: a grid period, the partners shown, the publication."""

    period: Period
    partners: tuple[str, ...]
    policy: object

    def month_rows(self) -> list[tuple]:
        return [(p, m) for p in self.partners for m in self.period.months()]

    def has(self, partner: str, day: date) -> bool:
        return partner in self.partners and self.period.start <= day <= self.period.end


def _corrected(events) -> dict[tuple, dict]:
    """(partner, referral) -> field -> its latest corrected value."""
    latest: dict[tuple, dict] = defaultdict(dict)
    for e in sorted(
        (e for e in events if e["event_type"] == "ReferralCorrected"), key=lambda e: e["version"]
    ):
        latest[(e["partner_id"], e["stream_id"])][e["payload"]["field"]] = e["payload"]["value"]
    return latest


def direct_referrals(events, asked: Asked):
    table = Table("referrals", "", ("partner_id", "month"), REFERRAL_SOURCES, asked.month_rows())
    corrected = _corrected(events)
    for e in events:
        if e["event_type"] == "ReferralReceived":
            p = {**e["payload"], **corrected.get((e["partner_id"], e["stream_id"]), {})}
            day = date.fromisoformat(p["received_on"])
            if asked.has(e["partner_id"], day):
                month = day.strftime("%Y-%m")
                table.add((e["partner_id"], month), p["source"], 1, month)
    return [table.publish(asked.policy)]


def _held_on(payload) -> date:
    return datetime.fromisoformat(payload["actual_start_at"]).astimezone(UTC).date()


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


def direct_sessions(events, asked: Asked):
    by_kind = Table(
        "sessions_by_kind", "", ("partner_id", "month"), SESSION_KINDS, asked.month_rows()
    )
    by_mode = Table(
        "sessions_by_mode", "", ("partner_id", "month"), tuple(MODES), asked.month_rows()
    )
    for (partner, _), p in _held(events).items():
        day = _held_on(p)
        if asked.has(partner, day):
            month = day.strftime("%Y-%m")
            by_kind.add((partner, month), p["kind"], 1, month)
            by_mode.add((partner, month), p["mode"], 1, month)
    return [by_kind.publish(asked.policy), by_mode.publish(asked.policy)]


def direct_attendance(events, asked: Asked):
    held = _held(events)
    table = Table(
        "attendance", "", ("partner_id", "month"), ATTENDANCE_STATES, asked.month_rows(), dna_rate
    )
    for (partner, session, _), status in _marks(events).items():
        if (partner, session) in held:
            day = _held_on(held[(partner, session)])
            if asked.has(partner, day):
                month = day.strftime("%Y-%m")
                table.add((partner, month), status, 1, month)
    return [table.publish(asked.policy)]


def direct_contacts(events, asked: Asked):
    held = _held(events)
    seen = Counter()
    for (partner, session, person), status in _marks(events).items():
        p = held.get((partner, session))
        if p is None or status not in ("attended", "late_seen"):
            continue
        if p["medium_code"] in DIRECT_CONTACT_MEDIA and asked.has(partner, _held_on(p)):
            seen[(partner, person)] += 1
    table = Table(
        "contacts", "", ("partner_id",), CONTACT_BANDS, [(p,) for p in asked.partners], people=True
    )
    for (partner, _), n in seen.items():
        band = "two_or_more_contacts" if n >= 2 else "one_contact"
        table.add((partner,), band, 1, asked.period.label)
    return [table.publish(asked.policy)]


def direct_wellbeing(events, asked: Asked):
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
            taken_on = date.fromisoformat(p["taken_on"])
            if asked.has(e["partner_id"], taken_on):
                series[(e["partner_id"], p["person_id"])].append(
                    measures.Taken(
                        "swemwbs", p["timepoint"], taken_on, Decimal(str(p["metric_score"]))
                    )
                )
    table = Table(
        "wellbeing",
        "",
        ("partner_id",),
        WELLBEING_OUTCOMES,
        [(p,) for p in asked.partners],
        improved_share,
        people=True,
    )
    changes = defaultdict(list)
    for (partner, _), taken in series.items():
        change = measures.change_from_first_to_latest("swemwbs", taken)
        if change:
            table.add((partner,), change.outcome, 1, asked.period.label)
            changes[partner].append(change.change)
    published = table.publish(asked.policy)
    for row in published["rows"]:
        row["mean_change"] = mean_change(changes[row["partner_id"]], asked.policy)
    every = [v for values in changes.values() for v in values]
    published["totals"]["mean_change"] = mean_change(every, asked.policy)
    return [published]


def direct_waits(events, asked: Asked):
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
    counted = Table("waits", "", ("partner_id",), ("first_contacts",), [])
    for key, day in contacted.items():
        if key in received and asked.has(key[0], day):
            days[key[0]].append((day - received[key]).days)
            counted.add((key[0],), "first_contacts", 1, day.strftime("%Y-%m"))
    rows = []
    for partner in asked.partners:
        values = sorted(days[partner])
        n = len(values)
        rows.append(
            {
                "partner_id": partner,
                "first_contacts": counted.published_cell(
                    (partner,), "first_contacts", asked.policy
                ),
                "median_days": asked.policy.percentile(
                    statistics.median(values) if values else None, n, 0.5
                ),
                "p90_days": asked.policy.percentile(
                    _percentile_cont(values, 0.9) if values else None, n, 0.9
                ),
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


def report(hub, name: str, period: Period, as_at: str, partner: str | None = None) -> dict:
    params = {"from": period.start.isoformat(), "to": period.end.isoformat(), "as_at": as_at}
    if partner:
        params["partner"] = partner
    return ok(hub.get(f"/reports/{name}", **params))


def published_tables(hub, name: str, period: Period, as_at: str, partner=None) -> list[dict]:
    tables = report(hub, name, period, as_at, partner)["tables"]
    for table in tables:
        table.pop("title", None)
    return tables


def _expected(compute, events, asked: Asked) -> list[dict]:
    expected = json.loads(json.dumps(compute(events, asked), default=str))
    for table in expected:
        table.pop("title", None)
    return expected


def periods_of_the_work() -> list[Period]:
    """The grid periods the work of some_work falls in: its months, quarters and year."""
    days = [TODAY - timedelta(days=n) for n in (31, 20, 0)]
    found = {make(day) for day in days for make in (month_of, quarter_of, financial_year_of)}
    return sorted(found, key=lambda p: (p.start, p.end))


def recorded_by(events, cutoff: str) -> list[dict]:
    moment = datetime.fromisoformat(cutoff)
    return [e for e in events if datetime.fromisoformat(e["recorded_at"]) <= moment]


def assert_reports_equal_direct_computation(endpoints, auth, hub, stack_state, cutoff=None) -> str:
    cutoff = cutoff or wait_until_hub_has_read_everything(endpoints, auth, hub)
    events = recorded_by(every_event(stack_state), cutoff)
    policy = publication_policy(
        report(hub, "referrals", periods_of_the_work()[0], cutoff)["disclosure"]
    )
    for period in periods_of_the_work():
        for name, compute in DIRECT.items():
            expected = _expected(compute, events, Asked(period, tuple(PARTNERS), policy))
            assert published_tables(hub, name, period, cutoff) == expected, (name, period)
    year = financial_year_of(TODAY)
    for partner in PARTNERS:
        for name, compute in DIRECT.items():
            expected = _expected(compute, events, Asked(year, (partner,), policy))
            assert published_tables(hub, name, year, cutoff, partner) == expected, (name, partner)
    return cutoff


def test_every_report_equals_a_direct_computation_from_the_partners_events(
    endpoints, auth, node, hub, stack_state
):
    before = wait_until_hub_has_read_everything(endpoints, auth, hub)
    year = financial_year_of(TODAY)
    then = published_tables(hub, "attendance", year, before)
    for partner in PARTNERS:
        some_work(node, partner, f"{partner[:3]}{uuid.uuid4().hex[:4]}")
    assert_reports_equal_direct_computation(endpoints, auth, hub, stack_state)
    # as at the cut-off before this work, the figures are what was published then, for good
    assert published_tables(hub, "attendance", year, before) == then
    assert_reports_equal_direct_computation(endpoints, auth, hub, stack_state, cutoff=before)


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
    assert_reports_equal_direct_computation(endpoints, auth, hub, stack_state)


def test_reports_are_published_on_the_grid_alone_and_refuse_anything_off_it(endpoints, auth, hub):
    cutoff = wait_until_hub_has_read_everything(endpoints, auth, hub)
    month = month_of(TODAY)
    only = report(hub, "referrals", month, cutoff, "lslcs")
    assert only["partners"] == ["lslcs"]
    assert [row["partner_id"] for row in only["tables"][0]["rows"]] == ["lslcs"]
    # every row of the grid is published, counted or not: a row's presence says nothing
    every = report(hub, "referrals", month, cutoff)
    assert [(r["partner_id"], r["month"]) for r in every["tables"][0]["rows"]] == [
        (p, month.label) for p in PARTNERS
    ]
    assert every["period"] == {
        "from": month.start.isoformat(),
        "to": month.end.isoformat(),
        "grid": "month",
        "label": month.label,
    }
    assert every["as_at"] == cutoff
    # without a period: the financial year of the cut-off; without as_at: the latest cut-off
    latest = ok(hub.get("/reports/referrals"))
    assert latest["period"]["label"] == financial_year_of(TODAY).label
    assert latest["as_at"] == ok(hub.get("/reports/cutoffs"))["cutoffs"][0]["cutoff_at"]
    csv = hub.get("/reports/attendance", format="csv")
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert "partner_id,month,attended,late_seen,late_not_seen,did_not_attend,total" in csv.text
    for params, field in [
        ({"partner": "nowhere"}, "partner"),
        ({"partner": ["lslcs", "mesmac"]}, "partner"),
        ({"from": "last week"}, "from"),
        ({"from": "2026-05-02", "to": "2026-05-31"}, "from"),
        ({"from": "2026-05-01", "to": "2026-06-15"}, "to"),
        ({"from": "2026-05-01", "to": "2026-06-30"}, "to"),
        ({"from": "2026-01-01", "to": "2026-12-31"}, "to"),
        ({"from": "2026-05-01"}, "to"),
        ({"to": "2026-05-31"}, "from"),
        ({"from": "2026-05-01", "to": "2026-04-01"}, "to"),
        ({"as_at": "2026-05-01T10:00:00"}, "as_at"),
        ({"as_at": "2999-01-01T00:00:00Z"}, "as_at"),
        ({"as_at": (datetime.fromisoformat(cutoff) - timedelta(seconds=1)).isoformat()}, "as_at"),
        ({"format": "pdf"}, "format"),
        ({"colour": "blue"}, "colour"),
    ]:
        response = hub.get("/reports/referrals", **params)
        assert response.status_code == 422, (params, response.text)
        assert field in response.json()["fields"], response.text
    grid_words = hub.get("/reports/referrals", **{"from": "2026-05-01", "to": "2026-06-30"})
    assert "financial year" in json.dumps(grid_words.json()["fields"])
    for period in (("2026-07-01", "2026-09-30"), ("2026-04-01", "2027-03-31")):
        good = hub.get("/reports/referrals", **{"from": period[0], "to": period[1]})
        assert good.status_code == 200, good.text
    assert hub.get("/reports/horoscope").status_code == 404
    future = hub.get("/dashboard", as_at="2999-01-01T00:00:00Z")
    assert future.status_code == 422 and "as_at" in future.json()["fields"], future.text
    listed = ok(hub.get("/reports"))
    assert [r["name"] for r in listed["reports"]][:2] == ["referrals", "waits"]
    assert listed["groupings"] == ["alliance", *PARTNERS]
    # a cut-off is published by the hub's operators (and the daily schedule) alone
    refused = requests.post(
        f"{endpoints['hub']['reporting']}/reports/cutoffs",
        headers=auth("alliance_analyst", "alliance"),
        timeout=15,
    )
    assert refused.status_code == 403


def test_analysts_see_how_complete_each_partner_is_and_only_operators_see_positions(
    endpoints, auth, hub
):
    cutoff = wait_until_hub_has_read_everything(endpoints, auth, hub)
    told = ok(hub.get("/reports/freshness"))
    assert "sources" not in told
    assert set(told["partners"]) == set(PARTNERS)
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    for partner in PARTNERS:
        complete = told["partners"][partner]["complete_up_to"]
        assert complete is not None and complete >= yesterday, told
    body = report(hub, "referrals", month_of(TODAY), cutoff)
    assert "sources" not in body and set(body["complete_up_to"]) == set(PARTNERS)
    assert "position" not in json.dumps(body)
    operator = Api(endpoints["hub"]["reporting"], auth("operator", "alliance"))
    positions = ok(operator.get("/reports/freshness"))["sources"]
    assert positions and set(positions) <= {f"{p}/{s}" for p in PARTNERS for s in NODE_SERVICES}
    assert all(isinstance(v["position"], int) for v in positions.values())


# -- what crosses to the hub, and what it holds --------------------------------------------------


def test_a_partner_feed_read_by_the_hub_hands_over_the_hub_shape_alone(
    endpoints, auth, node, stack_state
):
    lead = node("lslcs", "referrals")
    person = ok(
        lead.post("/people", {"full_name": "Feed Filter Test", "date_of_birth": "1988-08-08"}),
        201,
    )["person_id"]
    rid = ok(
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
    )["referral_id"]
    own = store_events(stack_state, "lslcs", "referrals")
    # the hub's machine credential reads every position of the store, in its hub shape
    hub_events = feed(endpoints, auth, "lslcs", "referrals")
    assert [e["position"] for e in hub_events] == [e["position"] for e in own]
    text = json.dumps(hub_events)
    for event in hub_events:
        assert set(event["payload"]) <= kept_names(event["event_type"]), event
        assert event["actor"]["user_id"] == WITHHELD_USER
    raw_ids = {e["event_id"] for e in own} | {e["stream_id"] for e in own} | {person, rid}
    assert not raw_ids & set(UUID.findall(text))
    assert "Chapeltown" in json.dumps(own, default=str) and "Chapeltown" not in text
    assert '"consent"' in json.dumps(own, default=str) and '"consent"' not in text
    # the referral is there under the partner's pseudonym
    pseudonym = pseudonyms_of("lslcs").stream("referral", rid)
    [received] = [e for e in hub_events if e["stream_id"] == pseudonym]
    assert received["payload"]["source"] == "self"
    assert "person_id" not in received["payload"]


def test_what_crosses_to_the_hub_over_rabbitmq_is_the_hub_shape_alone(
    endpoints, auth, node, stack_state
):
    """A queue of the test's own in the hub's vhost, bound to the federated exchange, sees what
    the federation link carries from lslcs."""
    import kombu

    from shared.topology import EVENTS_EXCHANGE

    queue_name = f"test.crossing.{uuid.uuid4().hex[:8]}"
    # the hub's own user may only consume the hub's queue: a user of the test's own binds one
    with broker_login(stack_state, "hub") as url, kombu.Connection(url) as conn:
        exchange = kombu.Exchange(EVENTS_EXCHANGE, type="topic", passive=True)
        queue = kombu.Queue(queue_name, exchange, routing_key="lslcs.#", auto_delete=True)
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
            pseudonym = pseudonyms_of("lslcs").stream("referral", rid)

            def arrived():
                with contextlib.suppress(TimeoutError):
                    conn.drain_events(timeout=0.5)
                return any(m.get("stream_id") == pseudonym for m in seen)

            wait_for(arrived, timeout=20, message="the referral to cross to the hub's vhost")
    received = next(m for m in seen if m["stream_id"] == pseudonym)
    assert received["event_type"] == "ReferralReceived"
    assert set(received["payload"]) <= kept_names("ReferralReceived")
    assert received["payload"]["source"] == "gp"
    text = json.dumps(seen)
    assert "Harehills" not in text and "consent" not in received["payload"]
    assert person not in text and rid not in text
    # the person's registration crosses as a position alone, never their demographics
    registered = [m for m in seen if m["event_type"] == "PersonRegistered"]
    assert registered and all(m["payload"] == {} for m in registered)
    assert {m["actor"]["user_id"] for m in seen} == {WITHHELD_USER}


def hub_text(stack_state) -> str:
    """Every row of every table of the hub's database, as text."""
    import psycopg2

    conn = psycopg2.connect(stack_state["owner_dsn"]["peerlink_hub"])
    chunks = []
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
                " WHERE table_type = 'BASE TABLE'"
                " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            )
            for schema, table in cur.fetchall():
                cur.execute(f'SELECT t::text FROM "{schema}"."{table}" t')
                chunks += [row[0] for row in cur.fetchall()]
    finally:
        conn.close()
    return "\n".join(chunks)


def hub_rows(stack_state, sql: str, *args) -> list[tuple]:
    import psycopg2

    conn = psycopg2.connect(stack_state["owner_dsn"]["peerlink_hub"])
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def test_the_hub_holds_no_node_id_no_member_of_staff_and_no_moment_finer_than_reports_need(
    endpoints, auth, node, stack_state, hub
):
    made = some_work(node, "leeds-mind", f"min{uuid.uuid4().hex[:4]}")
    wait_until_hub_has_read_everything(endpoints, auth, hub)
    events = every_event(stack_state)
    held = hub_text(stack_state)
    # no id a node gave: neither these people, referrals and workers, nor any stream or event
    node_ids = {e["stream_id"] for e in events} | {e["event_id"] for e in events}
    assert not node_ids & set(UUID.findall(held))
    for value in [*made["people"], *made["referrals"], *made["workers"]]:
        assert value not in held, value
    # the people the work saw are at the hub under Leeds Mind's pseudonyms
    pseudonyms = pseudonyms_of("leeds-mind")
    for person in made["people"]:
        assert pseudonyms.person(person) in held
    # moments: dates, and the hour where a report measures hours; no timestamp column
    [(columns,)] = hub_rows(
        stack_state,
        "SELECT array_agg(column_name::text) FROM information_schema.columns"
        " WHERE table_schema = 'reporting' AND table_name = 'facts'"
        " AND data_type LIKE 'timestamp%%'",
    )
    assert columns == ["cutoff_at"]
    for (fields,) in hub_rows(stack_state, "SELECT fields FROM reporting.facts"):
        for name, value in fields.items():
            if name.endswith("_on"):
                assert value is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", value), (name, value)
            if name.endswith("_at") and value is not None:
                moment = datetime.fromisoformat(value)
                assert (moment.minute, moment.second, moment.microsecond) == (0, 0, 0), value
        for banned in ("postcode_district", "worker_id", "offer_id", "referral_id", "group_id"):
            assert banned not in fields


def test_an_erasure_leaves_no_pseudonym_of_the_person_at_the_hub(
    endpoints, auth, node, stack_state, hub
):
    made = some_work(node, "mesmac", f"era{uuid.uuid4().hex[:4]}")
    wait_until_hub_has_read_everything(endpoints, auth, hub)
    person = made["people"][0]
    pseudonyms = pseudonyms_of("mesmac")
    old, new = pseudonyms.person(person), pseudonyms.erased_person(person)

    def naming(pseudonym):
        return hub_rows(
            stack_state,
            "SELECT count(*) FROM reporting.facts WHERE partner_id = 'mesmac'"
            " AND (stream_id = %s OR fields->>'person_id' = %s)",
            pseudonym,
            pseudonym,
        )[0][0]

    counted = naming(old)
    assert counted >= 6  # attendance, measures, signposting
    assert naming(new) == 0
    erased = node("mesmac", "referrals", "partner_admin").post(
        f"/people/{person}/erasure", {"reason_code": "person_request", "reason": "asked"}
    )
    assert erased.status_code == 200, erased.text
    wait_for(lambda: naming(new) == counted, timeout=30, message="the erasure at the hub")
    wait_until_hub_has_read_everything(endpoints, auth, hub)
    assert old not in hub_text(stack_state)
    assert naming(new) == counted  # the counts they made stay
    # the hub's feed hands over the replacement from now on, so a rebuild brings the old back
    # nowhere either
    text = json.dumps([e for s in NODE_SERVICES for e in feed(endpoints, auth, "mesmac", s)])
    assert old not in text and new in text


# -- the attacks ---------------------------------------------------------------------------------

# tables whose rows are (partner, month): each cell is a smallest cell
MONTH_ROWS = {"referrals", "sessions_by_kind", "sessions_by_mode", "attendance", "transfers"}
# tables whose rows are partners, each cell the sum of the month's smallest cells of the period
MONTHLY = {"concerns_by_category"}
# counts of people: each period's own smallest cells, summed only across rows
PEOPLE = {"contacts", "wellbeing", "signposting"}
ADDITIVE_REPORTS = ("referrals", "sessions", "attendance", "transfers", "safeguarding", "waits")
PEOPLE_REPORTS = ("contacts", "wellbeing", "signposting")


@pytest.fixture(scope="module")
def published_year(endpoints, auth, node, hub):
    """Every table of every report published for a financial year with some work in it: each
    of its periods (12 months, 4 quarters, the year), the alliance and each partner."""
    for partner in PARTNERS:
        some_work(node, partner, f"atk{uuid.uuid4().hex[:4]}")
    cutoff = wait_until_hub_has_read_everything(endpoints, auth, hub)
    year = financial_year_of(TODAY)
    from services.reporting.grid import periods_of_year

    published = {}
    for period in periods_of_year(year):
        for partner in (None, *PARTNERS):
            for name in (*ADDITIVE_REPORTS, *PEOPLE_REPORTS):
                body = report(hub, name, period, cutoff, partner)
                published[(name, period, partner)] = body
    return {"year": year, "cutoff": cutoff, "published": published}


def _rows(body: dict, table: str) -> list[dict]:
    return next(t for t in body["tables"] if t["name"] == table)["rows"]


# counts of people that can only grow with the period: a person in a month's cell is in the
# cell of every period holding that month
GROWING = {
    "contacts": ("contacts", "two_or_more_contacts"),
    "signposting": ("signposting", "taken_up"),
}


def test_a_period_never_shows_fewer_people_than_a_period_inside_it(published_year):
    """Counts of people are not sums of months: rounded each by a draw of its own, a month
    could show 5 where its year shows 0, pinning a count between 1 and 4. Rounded to the
    nearest multiple the same way every time, a larger period never shows fewer."""
    published = published_year["published"]
    checked = 0
    for (name, inner, partner), body in published.items():
        if name not in GROWING:
            continue
        table, category = GROWING[name]
        for (other, outer, same), around in published.items():
            if other != name or same != partner or outer == inner:
                continue
            if not (outer.start <= inner.start and inner.end <= outer.end):
                continue
            small = {tuple(r.items())[:-2]: r for r in _rows(body, table)}
            for row in _rows(around, table):
                key = tuple(row.items())[:-2]
                assert row["counts"][category] >= small[key]["counts"][category], (
                    name,
                    inner.label,
                    outer.label,
                    key,
                )
                checked += 1
    assert checked > 100


def test_differencing_periods_and_partner_groupings_reveals_nothing_beyond_published_cells(
    published_year,
):
    """Every figure the grid publishes is the sum of the same published smallest cells, so the
    difference of any two (a quarter less its months, the alliance less two partners) is a sum
    of published cells: it reveals nothing that is not published already."""
    year, published = published_year["year"], published_year["published"]
    from services.reporting.grid import periods_of_year

    months = [p for p in periods_of_year(year) if p.kind == "month"]
    for (name, period, partner), body in published.items():
        for table in body["tables"]:
            if table["name"] in MONTH_ROWS:
                for row in table["rows"]:
                    month = next(m for m in months if m.label == row["month"])
                    [same] = [
                        r
                        for r in _rows(published[(name, month, None)], table["name"])
                        if r["partner_id"] == row["partner_id"]
                    ]
                    assert row["counts"] == same["counts"], (name, period, partner)
            if table["name"] in MONTHLY or table["name"] in ("waits", "timeliness"):
                for row in table["rows"]:
                    for key, value in row.items():
                        if key in ("partner_id",) or "median" in key or "p90" in key:
                            continue
                        by_month = [
                            next(
                                r
                                for r in _rows(published[(name, m, None)], table["name"])
                                if r["partner_id"] == row["partner_id"]
                            )[key]
                            for m in months
                            if period.start <= m.start <= period.end
                        ]
                        if isinstance(value, dict):
                            for category, count in value.items():
                                assert count == sum(b[category] for b in by_month), (name, key)
                        else:
                            assert value == sum(by_month), (name, period, key)
            if "categories" in table:
                for row in table["rows"]:
                    assert row["total"] == sum(row["counts"].values())
                for category in table["categories"]:
                    assert table["totals"]["counts"][category] == sum(
                        r["counts"][category] for r in table["rows"]
                    )
            if partner is not None:
                # a partner's rows are the alliance's rows for that partner
                alliance = next(
                    t
                    for t in published[(name, period, None)]["tables"]
                    if t["name"] == table["name"]
                )
                assert table["rows"] == [
                    r for r in alliance["rows"] if r["partner_id"] == partner
                ], (name, period, partner)


def _smallest_cells(name: str, row: dict, category: str, period: Period) -> list[tuple]:
    if name in MONTH_ROWS:
        return [(name, row["partner_id"], row["month"], category)]
    if name in MONTHLY or name in ("waits", "timeliness"):
        return [(name, row["partner_id"], m, category) for m in period.months()]
    rest = tuple(v for k, v in row.items() if k not in ("partner_id", "counts", "total"))
    rest = tuple(v for v in rest if isinstance(v, str))
    return [(name, row["partner_id"], *rest, period.label, category)]


def test_no_count_is_pinned_by_every_table_published_for_a_financial_year(
    published_year, stack_state
):
    """The attack of the linear programme: every published count of every table of the year
    (its months, quarters and itself; the alliance and each partner) as a constraint on the
    true counts, as the publication method says (each smallest cell within round_to - 1 of its
    rounded figure; every other figure the sum of the cells it covers), and each true count's
    least and greatest value asked for. None is pinned, and every true count lies within its
    bounds."""
    from tests.disclosure import Attack

    published = published_year["published"]
    policy = publication_policy(next(iter(published.values()))["disclosure"])
    error = policy.round_to - 1
    attacks: dict[str, Attack] = defaultdict(Attack)
    for (_, period, _), body in published.items():
        for table in body["tables"]:
            if "categories" in table:
                figures = [
                    (_smallest_cells(table["name"], row, c, period), row["counts"][c])
                    for row in table["rows"]
                    for c in table["categories"]
                ]
                for row in table["rows"]:
                    cells = [
                        cell
                        for c in table["categories"]
                        for cell in _smallest_cells(table["name"], row, c, period)
                    ]
                    figures.append((cells, row["total"]))
                for c in table["categories"]:
                    cells = [
                        cell
                        for row in table["rows"]
                        for cell in _smallest_cells(table["name"], row, c, period)
                    ]
                    figures.append((cells, table["totals"]["counts"][c]))
            elif table["name"] in ("waits", "timeliness"):
                figures = [
                    (_smallest_cells(table["name"], row, key, period), value)
                    for row in table["rows"]
                    for key, value in row.items()
                    if key in ("first_contacts", "concerns", "deadlines_missed")
                ]
            else:
                continue
            attack = attacks[table["name"]]
            for cells, shown in figures:
                slack = error * len(cells)
                attack.sum_between(cells, max(0, shown - slack), shown + slack)
    assert set(attacks) >= MONTH_ROWS | PEOPLE | {"waits"}
    for name, attack in attacks.items():
        assert not attack.disclosed(), name
    # sound: the true counts of this year's referrals, as the partners hold them, are allowed
    events = recorded_by(every_event(stack_state), published_year["cutoff"])
    truth = Counter()
    corrected = _corrected(events)
    for e in events:
        if e["event_type"] == "ReferralReceived":
            p = {**e["payload"], **corrected.get((e["partner_id"], e["stream_id"]), {})}
            day = date.fromisoformat(p["received_on"])
            if published_year["year"].start <= day <= published_year["year"].end:
                truth[("referrals", e["partner_id"], day.strftime("%Y-%m"), p["source"])] += 1
    bounds = attacks["referrals"].bounds(list(truth))
    for cell, count in truth.items():
        low, high = bounds[cell]
        assert low - 1e-6 <= count <= high + 1e-6, (cell, count, bounds[cell])
