"""What a worker records about a referral is kept whole, consistent in time and correctable:
free text sealed and read back, one timeline, corrections the hub follows, consent at any
time, what is still open at discharge, blank text refused, erasure reasons checked."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg2
import pytest
import requests

from tests.conftest import wait_for

pytestmark = pytest.mark.e2e

TODAY = date.today()


def days_ago(n: int) -> str:
    return (TODAY - timedelta(days=n)).isoformat()


@pytest.fixture(scope="module")
def api(endpoints, auth):
    def make(role="team_lead", partner="leeds-mind", user=None, service="referrals"):
        session = requests.Session()
        session.headers.update(auth(role, partner, user))
        base = (
            endpoints["hub"]["reporting"]
            if service == "hub"
            else endpoints["partners"][partner][service]
        )

        class Api:
            def get(self, path, **params):
                return session.get(base + path, params=params, timeout=10)

            def post(self, path, body=None):
                return session.post(base + path, json=body or {}, timeout=10)

        return Api()

    return make


def ok(response, status=200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def refused(response, status: int, rule: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["rule"] == rule, body
    return body


def referral(api, received=10, **over) -> dict:
    body = {
        "person": {"full_name": f"Tim Line {uuid.uuid4().hex[:8]}", "date_of_birth": "1979-03-03"},
        "source": "gp",
        "received_on": days_ago(received),
        **over,
    }
    return ok(api().post("/referrals", body), 201)


def active(api, register_worker, received=10, accepted=9, allocated=8, contacted=7, **over):
    lead = api()
    rid = referral(api, received, **over)["referral_id"]
    worker = register_worker(f"pw-timeline-{uuid.uuid4().hex[:6]}")
    ok(lead.post(f"/referrals/{rid}/accept", {"on": days_ago(accepted)}))
    ok(lead.post(f"/referrals/{rid}/allocate", {"on": days_ago(allocated), "worker_id": worker}))
    ok(lead.post(f"/referrals/{rid}/first-contact", {"on": days_ago(contacted)}))
    return rid, worker


# -- free text kept --------------------------------------------------------------------------


def test_every_field_of_a_referral_is_found_again_and_its_words_are_sealed_and_read_back(api):
    lead, admin = api(), api(role="partner_admin")
    body = {
        "person": {"full_name": f"Ada Words {uuid.uuid4().hex[:8]}", "date_of_birth": "1990-01-02"},
        "source": "gp",
        "received_on": days_ago(5),
        "urgency": "urgent",
        "referrer_organisation": "Chapeltown surgery",
        "referrer_contact": "Dr Okafor, 0113 496 0000",
        "needs": ["isolation", "low_mood"],
        "needs_notes": "  Lost her job and rarely leaves the flat.  ",
        "risk_level": "medium",
        "risk_notes": "Talked of not wanting to wake up; no plan.",
        "consent": {
            "to_share": True,
            "to_contact": True,
            "contact_methods": ["phone", "text"],
            "contact_times": "weekday evenings after six",
            "recorded_on": days_ago(5),
        },
        "preferred_contact_mode": "phone",
        "is_carer_referral": True,
        "cared_for_person": {
            "full_name": f"Cy Cared {uuid.uuid4().hex[:8]}",
            "date_of_birth": "1950-05-05",
        },
    }
    made = ok(lead.post("/referrals", body), 201)
    rid = made["referral_id"]
    record = ok(lead.get(f"/referrals/{rid}"))
    assert record["texts"] == {
        "needs_notes": "Lost her job and rarely leaves the flat.",
        "risk_notes": "Talked of not wanting to wake up; no plan.",
        "referrer_contact": "Dr Okafor, 0113 496 0000",
        "contact_times": "weekday evenings after six",
    }
    for name in ("source", "received_on", "urgency", "risk_level", "preferred_contact_mode"):
        assert record[name] == body[name], name
    assert sorted(record["needs"]) == sorted(body["needs"])
    assert record["is_carer_referral"] is True and record["cared_for_person_id"]
    assert record["referrer"]["organisation"] == "Chapeltown surgery"
    assert record["consent"]["contact_methods"] == ["phone", "text"]
    assert record["consent"]["to_share"] is True and record["consent"]["to_contact"] is True
    # the events name the texts by id only; the words are in the vault
    [received] = ok(lead.get(f"/referrals/{rid}/history"))["events"]
    payload = received["payload"]
    assert payload["needs_text_id"] and payload["risk_text_id"]
    assert payload["referrer"]["contact_text_id"] and payload["consent"]["contact_times_text_id"]
    assert "rarely leaves" not in str(payload) and "evenings" not in str(payload)
    # the subject access export has the words
    export = ok(admin.get(f"/people/{record['person_id']}/export"))
    assert set(record["texts"].values()) <= set(export["texts"].values())


# -- one timeline ------------------------------------------------------------------------------


def test_dates_that_contradict_the_timeline_are_refused_naming_the_rule(api, register_worker):
    lead = api()
    rid = referral(api, received=3)["referral_id"]
    refused(
        lead.post(f"/referrals/{rid}/accept", {"on": days_ago(6)}),
        409,
        "ReferralTimelineRunsForward",
    )
    ok(lead.post(f"/referrals/{rid}/accept", {"on": days_ago(2)}))
    first, second = (register_worker(f"pw-realloc-{uuid.uuid4().hex[:6]}") for _ in range(2))
    ok(lead.post(f"/referrals/{rid}/allocate", {"on": days_ago(1), "worker_id": first}))
    refused(
        lead.post(f"/referrals/{rid}/allocate", {"on": days_ago(2), "worker_id": second}),
        409,
        "ReferralTimelineRunsForward",
    )
    rid, worker = active(api, register_worker)
    refused(
        lead.post(f"/referrals/{rid}/discharge", {"on": days_ago(8), "reason": "goals_met"}),
        409,
        "ReferralTimelineRunsForward",
    )
    assert ok(lead.get(f"/referrals/{rid}"))["status"] == "active"


@pytest.mark.parametrize(
    ("received_on", "rule"),
    [
        ("0006-01-07", "DateMustNotPrecedeTheEarliestDate"),
        ((TODAY + timedelta(days=3)).isoformat(), "DateMustNotBeInTheFuture"),
    ],
    ids=["year-six", "in-the-future"],
)
def test_a_date_before_the_partners_earliest_or_in_the_future_is_a_422(api, received_on, rule):
    body = {
        "person": {"full_name": "Dee Date", "date_of_birth": "1970-01-01"},
        "source": "gp",
        "received_on": received_on,
    }
    answer = refused(api().post("/referrals", body), 422, rule)
    assert "received_on" in answer["fields"]


# -- corrections the hub follows -----------------------------------------------------------------


def hub_rows(stack_state, name: str, day: date) -> list[dict]:
    """The hub's report for mesmac over the month of `day` (the financial year for waits),
    worked out from its facts as at a cut-off published now, unrounded: what its published
    figures are rounded from."""
    from services.reporting import reports
    from services.reporting.cutoffs import Cutoffs
    from services.reporting.grid import financial_year_of, month_of
    from services.reporting.suppression import Policy

    period = financial_year_of(day) if name == "waits" else month_of(day)
    conn = psycopg2.connect(stack_state["owner_dsn"]["peerlink_hub"])
    try:
        with conn, conn.cursor() as cur:
            scope = reports.Scope(("mesmac",), period, Cutoffs(cur).publish("operator"))
            body = reports.REPORTS[name](cur, scope, Policy(up_to=0, round_to=1))
    finally:
        conn.close()
    return body["tables"][0]["rows"]


def test_a_wrong_date_and_source_are_corrected_with_a_reason_and_the_hub_follows(
    api, register_worker, stack_state
):
    lead = api(partner="mesmac")
    worker = register_worker(f"pw-correct-{uuid.uuid4().hex[:6]}", partner="mesmac")
    long_ago = (TODAY.replace(day=1) - timedelta(days=400)).replace(day=15)
    body = {
        "person": {"full_name": f"Cora Rect {uuid.uuid4().hex[:8]}", "date_of_birth": "1985-01-01"},
        "source": "crisis_service",
        "received_on": long_ago.isoformat(),
    }
    rid = ok(lead.post("/referrals", body), 201)["referral_id"]
    ok(lead.post(f"/referrals/{rid}/accept", {"on": days_ago(3)}))
    ok(lead.post(f"/referrals/{rid}/allocate", {"on": days_ago(3), "worker_id": worker}))
    ok(lead.post(f"/referrals/{rid}/first-contact", {"on": days_ago(2)}))

    def hub_counts_it_in(day: date, source):
        def seen():
            return any(r["counts"][source] for r in hub_rows(stack_state, "referrals", day))

        return seen

    wait_for(hub_counts_it_in(long_ago, "crisis_service"), timeout=30, message="the referral")
    rows_then = hub_rows(stack_state, "referrals", long_ago)
    refused(
        lead.post(
            f"/referrals/{rid}/correct",
            {"field": "received_on", "value": days_ago(1), "reason": "typed the wrong year"},
        ),
        409,
        "ReferralTimelineRunsForward",
    )
    refused(
        lead.post(
            f"/referrals/{rid}/correct",
            {"field": "received_on", "value": "0006-01-07", "reason": "typo"},
        ),
        422,
        "DateMustNotPrecedeTheEarliestDate",
    )
    fixed = ok(
        lead.post(
            f"/referrals/{rid}/correct",
            {"field": "received_on", "value": days_ago(4), "reason": "typed the wrong year"},
        )
    )
    assert fixed["received_on"] == days_ago(4)
    ok(
        lead.post(
            f"/referrals/{rid}/correct",
            {"field": "source", "value": "gp", "reason": "the GP referred, not the crisis team"},
        )
    )
    record = ok(lead.get(f"/referrals/{rid}"))
    assert [(c["field"], c["previous_value"], c["value"]) for c in record["corrections"]] == [
        ("received_on", long_ago.isoformat(), days_ago(4)),
        ("source", "crisis_service", "gp"),
    ]
    assert record["corrections"][0]["reason"] == "typed the wrong year"
    history = ok(lead.get(f"/referrals/{rid}/history"))
    corrected = [e for e in history["events"] if e["event_type"] == "ReferralCorrected"]
    assert len(corrected) == 2
    assert history["texts"][corrected[0]["payload"]["reason_text_id"]] == "typed the wrong year"
    # the hub counts the referral in its corrected month and source, and waits follow
    wait_for(
        hub_counts_it_in(TODAY - timedelta(days=4), "gp"),
        timeout=30,
        message="the hub to follow the correction",
    )
    before = sum(r["counts"]["crisis_service"] for r in rows_then)

    def old_month_gone():
        now = sum(
            r["counts"]["crisis_service"] for r in hub_rows(stack_state, "referrals", long_ago)
        )
        return now == before - 1

    wait_for(old_month_gone, timeout=30, message="the hub to drop the wrong month")
    waits = hub_rows(stack_state, "waits", TODAY)
    assert waits and all(r["median_days"] == "*" or float(r["median_days"]) < 300 for r in waits), (
        waits
    )


def test_the_hubs_referral_counter_moves_a_referral_its_corrections_move(api, endpoints, auth):
    # two months long past, of this test's own, at mesmac
    rng = random.Random(uuid.uuid4().int)
    first, second = rng.sample(
        [date(y, m, 12) for y in range(2001, 2020) for m in (2, 5, 8, 11)], 2
    )
    counter = f"{endpoints['hub']['reporting']}/internal/referral-counts"

    def counts() -> dict:
        answer = requests.get(
            counter, params={"partner": "mesmac"}, headers=auth("service", "alliance"), timeout=10
        )
        rows = {(r["month"], r["source"]): r["referrals"] for r in ok(answer)["rows"]}
        return {
            (day, source): rows.get((day.replace(day=1).isoformat(), source), 0)
            for day in (first, second)
            for source in ("carer", "cmht")
        }

    def counted_in(before: dict, day: date, source: str):
        """Wait until the counter shows `before` with this referral counted in one place."""
        wanted = {**before, (day, source): before[(day, source)] + 1}
        wait_for(lambda: counts() == wanted, timeout=30, message=lambda: f"{counts()} {wanted}")

    before = counts()
    lead = api(partner="mesmac")
    body = {
        "person": {
            "full_name": f"Cal Counter {uuid.uuid4().hex[:8]}",
            "date_of_birth": "1990-01-01",
        },
        "source": "carer",
        "received_on": first.isoformat(),
    }
    rid = ok(lead.post("/referrals", body), 201)["referral_id"]
    counted_in(before, first, "carer")
    # the received date was wrong: the counter moves it to the month it was received in
    change = {"field": "received_on", "value": second.isoformat(), "reason": "wrong year"}
    ok(lead.post(f"/referrals/{rid}/correct", change))
    counted_in(before, second, "carer")
    # and the source too
    change = {"field": "source", "value": "cmht", "reason": "the CMHT referred"}
    ok(lead.post(f"/referrals/{rid}/correct", change))
    counted_in(before, second, "cmht")


def test_a_correction_needs_a_reason_and_a_known_field(api):
    lead = api()
    rid = referral(api)["referral_id"]
    answer = lead.post(
        f"/referrals/{rid}/correct", {"field": "received_on", "value": days_ago(9), "reason": "   "}
    )
    assert answer.status_code == 422 and "reason" in answer.json()["fields"]
    answer = lead.post(
        f"/referrals/{rid}/correct", {"field": "worker_id", "value": "x", "reason": "why not"}
    )
    assert answer.status_code == 422 and "field" in answer.json()["fields"]
    refused(
        lead.post(
            f"/referrals/{rid}/correct",
            {"field": "first_contact_on", "value": days_ago(1), "reason": "no contact yet"},
        ),
        409,
        "CorrectionNeedsTheStepRecorded",
    )


# -- consent at any time -------------------------------------------------------------------------


def test_consent_recorded_later_lets_a_referral_be_offered_and_withdrawal_blocks_it(api):
    lead = api()
    rid = referral(api)["referral_id"]
    refused(
        lead.post(f"/referrals/{rid}/offer", {"to_partner": "mesmac"}),
        409,
        "TransferNeedsConsentToShare",
    )
    consent = {
        "to_share": True,
        "to_contact": True,
        "contact_methods": ["phone"],
        "contact_times": "mornings",
        "recorded_on": days_ago(1),
    }
    given = ok(lead.post(f"/referrals/{rid}/consent", consent))
    assert given["consent"]["to_share"] is True
    withdrawn = ok(lead.post(f"/referrals/{rid}/consent/withdraw", {}))
    assert withdrawn["consent"]["to_share"] is False
    assert withdrawn["consent_withdrawn_on"] == TODAY.isoformat()
    refused(
        lead.post(f"/referrals/{rid}/offer", {"to_partner": "mesmac"}),
        409,
        "OfferNeedsConsentNotWithdrawn",
    )
    ok(lead.post(f"/referrals/{rid}/consent", consent))
    assert ok(lead.post(f"/referrals/{rid}/offer", {"to_partner": "mesmac"}))["offered_to"] == (
        "mesmac"
    )
    types = [e["event_type"] for e in ok(lead.get(f"/referrals/{rid}/history"))["events"]]
    assert types.count("ConsentRecorded") == 2 and "ConsentWithdrawn" in types


def test_withdrawing_consent_withdraws_the_offer_still_open(api, stack_state):
    # given a referral with consent to share, offered to mesmac and not yet answered
    lead = api()
    consent = {"to_share": True, "to_contact": True, "recorded_on": days_ago(2)}
    rid = referral(api, consent=consent)["referral_id"]
    offered = ok(lead.post(f"/referrals/{rid}/offer", {"to_partner": "mesmac"}))
    assert offered["offered_to"] == "mesmac"
    # when the person withdraws their consent
    withdrawn = ok(lead.post(f"/referrals/{rid}/consent/withdraw", {}))
    # then the offer is withdrawn with it, as an event naming the offer and why
    assert withdrawn["offered_to"] is None
    events = ok(lead.get(f"/referrals/{rid}/history"))["events"]
    [offer] = [e["payload"] for e in events if e["event_type"] == "ReferralOffered"]
    [gone] = [e["payload"] for e in events if e["event_type"] == "ReferralOfferWithdrawn"]
    assert gone["offer_id"] == offer["offer_id"] and gone["to_partner"] == "mesmac"
    assert gone["reason"] == "consent_withdrawn" and gone["withdrawn_on"] == TODAY.isoformat()
    # and the hub learns that something happened to the referral, never the offer: the hub holds
    # no offer's id, nor whom it was offered to
    from tests.disclosure import pseudonyms_of

    pseudonym = pseudonyms_of("leeds-mind").stream("referral", rid)
    lm = psycopg2.connect(stack_state["owner_dsn"]["peerlink_leeds_mind"])
    try:
        with lm, lm.cursor() as cur:
            cur.execute("SELECT max(position) FROM referrals.events")
            [head] = cur.fetchone()
    finally:
        lm.close()
    conn = psycopg2.connect(stack_state["owner_dsn"]["peerlink_hub"])
    conn.autocommit = True
    try:
        with conn.cursor() as cur:

            def hub_has_read_it():
                cur.execute(
                    "SELECT position FROM reporting.consumer_checkpoints"
                    " WHERE consumer = 'hub-reports' AND source = 'leeds-mind/referrals'"
                )
                row = cur.fetchone()
                return row is not None and row[0] >= head

            wait_for(hub_has_read_it, timeout=20, message="the hub to read the withdrawal")
            cur.execute(
                "SELECT event_type FROM reporting.facts WHERE partner_id = 'leeds-mind'"
                " AND stream_id = %s",
                (pseudonym,),
            )
            kept = {row[0] for row in cur.fetchall()}
            assert "ReferralReceived" in kept
            assert not kept & {"ReferralOffered", "ReferralOfferWithdrawn"}
            cur.execute(
                "SELECT count(*) FROM reporting.facts WHERE strpos(fields::text, %s) > 0",
                (offer["offer_id"],),
            )
            assert cur.fetchone()[0] == 0
    finally:
        conn.close()
    # offering again needs consent again
    refused(
        lead.post(f"/referrals/{rid}/offer", {"to_partner": "mesmac"}),
        409,
        "OfferNeedsConsentNotWithdrawn",
    )


# -- discharge shows what is still open ------------------------------------------------------------


def book_ahead(api, referral_id: str, worker: str, days: int) -> str:
    """A one-to-one booked `days` ahead by the referral's worker, once the sessions service
    knows the referral is active."""
    body = {
        "kind": "one_to_one",
        "referral_id": referral_id,
        "mode": "phone",
        "location": "remote",
        "worker_ids": [worker],
        "planned_start_at": (datetime.now(UTC) + timedelta(days=days)).isoformat(),
    }
    sessions = api(role="peer_worker", user=worker, service="sessions")
    answer = {}

    def book():
        answer["r"] = sessions.post("/sessions", body)
        return answer["r"].status_code == 201

    wait_for(book, timeout=20, message=lambda: answer["r"].text)
    return answer["r"].json()["session_id"]


def test_discharge_lists_the_future_sessions_still_booked(api, register_worker):
    rid, worker = active(api, register_worker)
    pw = api(role="peer_worker", user=worker)
    sid = book_ahead(api, rid, worker, days=7)
    items = ok(pw.get(f"/referrals/{rid}/open-items"))["open_items"]
    assert [i["id"] for i in items if i["kind"] == "session"] == [sid]
    discharged = ok(pw.post(f"/referrals/{rid}/discharge", {"reason": "goals_met"}))
    assert discharged["status"] == "discharged"
    assert [i["id"] for i in discharged["open_items"]] == [sid]
    assert any(f"/sessions/{sid}/cancel" in w for w in discharged["warnings"])


def test_discharge_asked_to_close_cancels_the_referrals_sessions_and_closes_its_plans(
    api, register_worker
):
    # given an active referral with two one-to-ones booked ahead, a crisis plan drafted for it,
    # and a recovery plan of the person's drafted for no referral
    rid, worker = active(api, register_worker)
    pw = api(role="peer_worker", user=worker)
    sessions = api(role="peer_worker", user=worker, service="sessions")
    person = ok(pw.get(f"/referrals/{rid}"))["person_id"]
    booked = [book_ahead(api, rid, worker, days) for days in (3, 10)]
    crisis = {
        "person_id": person,
        "referral_id": rid,
        "kind": "crisis_safety",
        "content": {"services": [{"type": "crisis_line"}]},
    }
    plan = ok(sessions.post("/plans", crisis), 201)["plan_id"]
    goal = ok(sessions.post("/texts", {"person_id": person, "text": "Walk to the park"}), 201)
    own = {
        "person_id": person,
        "kind": "recovery_wellbeing",
        "content": {
            "goals": [
                {
                    "goal_id": str(uuid.uuid4()),
                    "life_area": "physical_health",
                    "text_id": goal["text_id"],
                }
            ]
        },
    }
    unreferred = ok(sessions.post("/plans", own), 201)["plan_id"]

    # when the worker discharges, asking for what is open to be closed
    discharged = ok(
        pw.post(f"/referrals/{rid}/discharge", {"reason": "goals_met", "close_open_items": True})
    )

    # then the answer says which items close with it, and warns only of the one left open
    closing = {i["id"]: i["is_closing"] for i in discharged["open_items"]}
    assert closing == {booked[0]: True, booked[1]: True, plan: True, unreferred: False}
    assert [w for w in discharged["warnings"] if "still open" in w] == [
        w for w in discharged["warnings"] if unreferred in w
    ]
    lead_sessions = api(service="sessions")

    def closed():
        statuses = [ok(lead_sessions.get(f"/sessions/{sid}"))["status"] for sid in booked]
        return statuses == ["cancelled", "cancelled"] and (
            ok(lead_sessions.get(f"/plans/{plan}"))["status"] == "closed"
        )

    wait_for(closed, timeout=20, message="the sessions service to close the referral's items")
    # each as an event of its own, by the worker who discharged, with a coded reason
    for sid in booked:
        events = ok(lead_sessions.get(f"/sessions/{sid}/history"))["events"]
        cancelled = [e for e in events if e["event_type"] == "SessionCancelled"]
        assert len(cancelled) == 1
        assert cancelled[0]["payload"]["reason"] == "support_ended"
        assert cancelled[0]["payload"]["cancelled_by"] == "service"
        assert cancelled[0]["actor"]["user_id"] == worker
    history = ok(lead_sessions.get(f"/plans/{plan}/history"))["events"]
    assert [e["payload"]["reason"] for e in history if e["event_type"] == "PlanClosed"] == [
        "support_ended"
    ]
    # the person's own plan, drafted for no referral, stays open
    assert ok(lead_sessions.get(f"/plans/{unreferred}"))["status"] == "open"
    left = ok(api().get(f"/referrals/{rid}/open-items"))["open_items"]
    assert [i["id"] for i in left] == [unreferred]


def test_discharge_not_asked_to_close_leaves_the_sessions_booked(api, register_worker, stack_state):
    rid, worker = active(api, register_worker)
    sid = book_ahead(api, rid, worker, days=5)
    pw = api(role="peer_worker", user=worker)
    discharged = ok(pw.post(f"/referrals/{rid}/discharge", {"reason": "goals_met"}))
    assert [i["is_closing"] for i in discharged["open_items"]] == [False]
    assert any(f"/sessions/{sid}/cancel" in w for w in discharged["warnings"])
    # once the sessions service has taken in the discharge (what closes items is done before
    # its status is), the session is still booked
    conn = psycopg2.connect(stack_state["owner_dsn"]["peerlink_leeds_mind"])
    conn.autocommit = True
    try:
        with conn.cursor() as cur:

            def discharge_seen():
                cur.execute(
                    "SELECT status FROM sessions.referral_status WHERE referral_id = %s", (rid,)
                )
                return cur.fetchone() == ("discharged",)

            wait_for(discharge_seen, timeout=20, message="the sessions service to see it")
    finally:
        conn.close()
    assert ok(api(service="sessions").get(f"/sessions/{sid}"))["status"] == "booked"


# -- blank values and erasure reasons --------------------------------------------------------------


def test_a_blank_name_or_worker_is_refused(api):
    lead = api()
    answer = lead.post("/people", {"full_name": "   ", "date_of_birth": "1980-01-01"})
    assert answer.status_code == 422 and "TextMustHaveContent" in str(answer.json()["fields"])
    rid = referral(api)["referral_id"]
    ok(lead.post(f"/referrals/{rid}/accept", {}))
    answer = lead.post(f"/referrals/{rid}/allocate", {"worker_id": "   "})
    assert answer.status_code == 422 and "worker_id" in answer.json()["fields"]


def test_erasing_with_a_reason_that_names_the_person_is_a_422_naming_the_rule(api):
    admin = api(role="partner_admin")
    name = f"Ernestine Rasure {uuid.uuid4().hex[:6]}"
    person = ok(admin.post("/people", {"full_name": name, "date_of_birth": "1966-06-06"}), 201)
    answer = admin.post(
        f"/people/{person['person_id']}/erasure",
        {"reason_code": "person_request", "reason": f"{name} asked us to"},
    )
    body = refused(answer, 422, "ErasureReasonMustNotIdentify")
    assert "reason" in body["fields"]
    erased = admin.post(
        f"/people/{person['person_id']}/erasure",
        {"reason_code": "person_request", "reason": "asked in writing"},
    )
    assert ok(erased)["status"] == "erased"


def test_a_surname_alone_in_an_erasure_reason_is_refused(api):
    admin = api(role="partner_admin")
    surname = f"Rasure{uuid.uuid4().hex[:6]}"
    person = ok(
        admin.post("/people", {"full_name": f"Dana {surname}", "date_of_birth": "1970-02-01"}),
        201,
    )
    answer = admin.post(
        f"/people/{person['person_id']}/erasure",
        {"reason_code": "person_request", "reason": f"{surname} was registered twice"},
    )
    refused(answer, 422, "ErasureReasonMustNotIdentify")


def test_an_erased_persons_referral_can_only_be_ended(api):
    lead, admin = api(), api(role="partner_admin")
    made = referral(api)
    rid = made["referral_id"]
    ok(
        admin.post(
            f"/people/{made['person_id']}/erasure",
            {"reason_code": "person_request", "reason": "asked in writing"},
        )
    )
    refused(lead.post(f"/referrals/{rid}/accept", {}), 409, "NoSupportForAnErasedPerson")
    closed = ok(lead.post(f"/referrals/{rid}/close", {"reason": "other"}))
    assert closed["status"] == "closed_without_contact"


def test_a_referral_cannot_be_received_before_its_person_was_born(api):
    answer = api().post(
        "/referrals",
        {
            "person": {"full_name": "Born Later", "date_of_birth": "2020-01-01"},
            "source": "gp",
            "received_on": "2019-01-01",
        },
    )
    assert answer.status_code == 422 and "received_on" in answer.json()["fields"], answer.text
