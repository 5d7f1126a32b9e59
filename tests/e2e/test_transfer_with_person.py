"""A referral transferred to a partner arrives with its person, end to end over the running
alliance: offered while the receiving node is down, accepted when it is back, the person
registered there from the record sealed for that partner alone, and worked with at once. The
hub counts the transfer from coded facts, and the person's identifiers are nowhere but in the
two partners' vaults. Declined or withdrawn offers leave nothing identifiable behind; linking to
someone registered there fills in what their record lacks; a withdrawal crossing an acceptance
ends with the acceptance refused and nothing of the person kept; an erasure at the sending
partner reaches the receiving one as a notice; and the inbound queue refuses what does not come
from the partner it names."""

from __future__ import annotations

import json
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from services.referrals.transfers import offer_subject
from shared.config import PARTNERS, broker_user, database_name
from shared.events import derived_id
from shared.relay import amqp_connection
from shared.topology import INBOUND_EXCHANGE
from tests.conftest import STACK, broker_login, wait_for
from tests.disclosure import pseudonyms_of
from tests.e2e.test_sessions import Api, ok, swemwbs

pytestmark = pytest.mark.e2e

TODAY = datetime.now(UTC).date()
HUB_DATABASE = "peerlink_hub"


def nhs_number() -> str:
    """A random NHS number whose modulus 11 check digit holds."""
    while True:
        digits = [random.randint(0, 9) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def someone() -> dict:
    """A person no other test names: every identifier searchable as text."""
    tag = uuid.uuid4().hex[:8]
    return {
        "full_name": f"Marisol Quenby-{tag}",
        # before any date the partners record, so no event date can look like it
        "date_of_birth": f"1961-0{random.randint(1, 9)}-{random.randint(10, 28)}",
        "nhs_number": nhs_number(),
        "phone": f"07700 9{random.randint(10000, 99999)}",
        "email": f"marisol.{tag}@example.org",
        "postcode": "LS7 3HB",
        "gender": "woman",
        "ethnicity": "mixed",
    }


@pytest.fixture(scope="module")
def node(endpoints, auth):
    def make(partner: str, service: str = "referrals", role: str = "team_lead", user=None):
        return Api(endpoints["partners"][partner][service], auth(role, partner, user))

    return make


def refer(node, person: dict, **consent) -> dict:
    """A referral at Leeds Mind with the person registered with it, their words and consent."""
    received = (TODAY - timedelta(days=12)).isoformat()
    body = {
        "person": person,
        "source": "cmht",
        "received_on": received,
        "urgency": "soon",
        "needs": ["isolation", "identity"],
        "needs_notes": f"Wants an LGBT+ group near {person['postcode']}",
        "risk_level": "low",
        "risk_notes": "No current risk; once described a crisis in 2019",
        "preferred_contact_mode": "text",
        "consent": {
            "to_share": True,
            "to_contact": True,
            "contact_methods": ["text", "phone"],
            "contact_times": "weekday evenings",
            "recorded_on": received,
            **consent,
        },
    }
    referral = ok(node("leeds-mind").post("/referrals", body), 201)
    ok(node("leeds-mind").post(f"/referrals/{referral['referral_id']}/accept", {"on": received}))
    return referral


def arrived(node, partner: str, referral_id: str, status: str = "received") -> dict:
    def offer():
        page = ok(node(partner).get("/offers", status=status, limit=500))
        found = [o for o in page["items"] if o["referral_id"] == referral_id]
        return found[0] if found and found[0]["person_record"] != "awaited" else None

    return wait_for(offer, timeout=45, message=f"the offer and its record at {partner}")


def _node_processes(partner: str) -> list[str]:
    return [f"{partner}-referrals", f"{partner}-worker"]


class NodeDown:
    """The receiving partner's referrals service and worker stopped (through the pids the stack
    recorded) and started again on leaving."""

    def __init__(self, partner: str):
        from deploy import stack as local

        self.local = local
        self.alliance = local.STACKS[STACK]
        self.specs = {spec["name"]: spec for spec in local.process_table(self.alliance)}
        self.names = _node_processes(partner)

    def __enter__(self):
        for name in self.names:
            assert self.local.stop_process(self.alliance, name), name
        return self

    def __exit__(self, *exc):
        for name in self.names:
            self.local.start_process(self.alliance, self.specs[name])
        for name in self.names:
            self.local.wait_healthy(self.specs[name]["health"])


class WorkerDown(NodeDown):
    """A partner's node worker alone stopped (its inbound queue's consumer and its relays),
    and started again on leaving: what it would receive or send waits in the meantime."""

    def __init__(self, partner: str):
        super().__init__(partner)
        self.names = [f"{partner}-worker"]


def query(stack_state, database: str, sql: str, *args) -> list[tuple]:
    conn = psycopg2.connect(stack_state["owner_dsn"][database])
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def hub_transfers(stack_state) -> dict[tuple[str, str], int]:
    """What the hub's transfers report counts from, before publication: (partner, direction) ->
    referrals, every month."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for partner, out, received in query(
        stack_state,
        HUB_DATABASE,
        "SELECT partner_id, count(*) FILTER (WHERE event_type = 'ReferralTransferred'),"
        " count(*) FILTER (WHERE event_type = 'ReferralReceived'"
        "   AND fields->>'transferred_from' IS NOT NULL)"
        " FROM reporting.facts GROUP BY 1",
    ):
        counts[(partner, "transferred_out")] = out
        counts[(partner, "received_in")] = received
    return counts


def found_as_text(stack_state, database: str, values: list[str]) -> list[str]:
    """Every table outside the vault, in every schema of the database, searched as text for
    each value: the tables (and values) where one is found."""
    tables = query(
        stack_state,
        database,
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE'"
        " AND table_schema NOT IN ('pg_catalog', 'information_schema', 'vault')",
    )
    assert any(name == "events" for _, name in tables) or database == HUB_DATABASE
    patterns = [f"%{value}%" for value in values]
    found = []
    for schema, table in tables:
        [(count,)] = query(
            stack_state,
            database,
            f'SELECT count(*) FROM "{schema}"."{table}" t WHERE t::text ILIKE ANY(%s)',
            patterns,
        )
        if count:
            found.append(f"{schema}.{table}")
    return found


def identifiers_of(person: dict) -> list[str]:
    return [
        person["full_name"],
        person["nhs_number"],
        person["date_of_birth"],
        person["phone"],
        person["phone"].replace(" ", ""),
        person["email"],
    ]


# -- the transfer ------------------------------------------------------------------------------


def test_a_referral_transferred_while_the_partner_is_down_arrives_with_its_person(
    node, stack_state, register_worker
):
    person = someone()
    referral = refer(node, person, share_with=["mesmac"])
    rid = referral["referral_id"]
    leeds, mesmac = node("leeds-mind"), node("mesmac")
    # the person consented to mesmac only: an offer to anyone else is refused, naming the rule
    elsewhere = leeds.post(f"/referrals/{rid}/offer", {"to_partner": "lslcs"})
    assert elsewhere.status_code == 409 and elsewhere.json()["rule"] == (
        "OfferMustStayWithinConsent"
    )
    counted_before = hub_transfers(stack_state)

    # offered while MESMAC's referrals service and worker are down
    with NodeDown("mesmac"):
        offered = ok(leeds.post(f"/referrals/{rid}/offer", {"to_partner": "mesmac"}))
        assert offered["offered_to"] == "mesmac"
        # the record sealed for MESMAC leaves Leeds Mind's outbox once the broker has it
        wait_for(
            lambda: (
                query(
                    stack_state,
                    database_name("leeds-mind"),
                    "SELECT count(*) FROM referrals.transfer_outbox WHERE referral_id = %s",
                    rid,
                )
                == [(0,)]
            ),
            timeout=30,
            message="the sealed record to leave Leeds Mind",
        )

    # back up, MESMAC has the offer and the record it brought; the lead reads it (audited)
    offer = arrived(node, "mesmac", rid)
    assert offer["person_record"] == "arrived" and offer["from_partner"] == "leeds-mind"
    record = ok(mesmac.get(f"/offers/{offer['offer_id']}"))["record"]
    assert record["identifiers"]["full_name"] == person["full_name"]
    assert record["contact"]["phone"] == person["phone"]
    assert record["shares"] == ["identifiers", "contact", "needs", "risk", "history"]

    # accepted: the person registered at MESMAC with the referral, nothing typed again
    accepted = ok(mesmac.post(f"/offers/{offer['offer_id']}/accept"))
    assert accepted["person"] == "registered" and accepted["person_record"] == "destroyed"
    person_id, new_id = accepted["person_id"], accepted["new_referral_id"]
    here = ok(mesmac.get(f"/people/{person_id}"))
    for name in ("full_name", "date_of_birth", "nhs_number", "phone", "email", "postcode"):
        assert here["identifiers"][name] == person[name], name
    assert (here["gender"], here["ethnicity"]) == ("woman", "mixed")
    moved = ok(mesmac.get(f"/referrals/{new_id}"))
    assert moved["person_id"] == person_id and moved["transferred_from"] == "leeds-mind"
    assert moved["texts"]["needs_notes"].startswith("Wants an LGBT+ group")
    assert moved["texts"]["contact_times"] == "weekday evenings"
    assert moved["consent"]["to_contact"] and not moved["consent"]["to_share"]
    assert [s["event"] for s in moved["transfer"]["history"]][:2] == [
        "ReferralReceived",
        "ReferralAccepted",
    ]

    # usable at once: accepted, allocated, seen one to one, measured, a concern raised
    worker = register_worker(f"pw-transfer-{uuid.uuid4().hex[:6]}", "mesmac")
    ok(mesmac.post(f"/referrals/{new_id}/accept"))
    ok(mesmac.post(f"/referrals/{new_id}/allocate", {"worker_id": worker}))
    ok(node("mesmac", role="peer_worker", user=worker).post(f"/referrals/{new_id}/first-contact"))
    sessions = node("mesmac", "sessions", "peer_worker", worker)
    # ten minutes, over by now, and on the day the referral arrived here (today)
    midnight = datetime.combine(TODAY, datetime.min.time(), UTC)
    started = max(midnight + timedelta(minutes=1), datetime.now(UTC) - timedelta(minutes=20))
    held = {}

    def seen():
        held["r"] = sessions.post(
            "/sessions/held",
            {
                "kind": "one_to_one",
                "referral_id": new_id,
                "mode": "phone",
                "location": "remote",
                "worker_ids": [worker],
                "actual_start_at": started.isoformat(),
                "duration_minutes": 10,
                "attendance": [{"person_id": person_id, "status": "attended"}],
            },
        )
        return held["r"].status_code == 201

    wait_for(seen, timeout=20, message="the one-to-one recorded once the referral is active")
    measure = {
        "measure": "swemwbs",
        "timepoint": "start",
        "taken_on": TODAY.isoformat(),
        "answers": swemwbs(21),
    }
    ok(sessions.post(f"/people/{person_id}/measures", measure), 201)
    concern = {
        "person_id": person_id,
        "age_group": "adult",
        "categories": ["self_neglect"],
        "severity": "standard",
        "immediate_risk": False,
        "what_happened": "Has not eaten properly this week, says the fridge is empty.",
        "actions_taken": ["none"],
        "consent_given": True,
    }
    ok(node("mesmac", "safeguarding", "peer_worker", worker).post("/concerns", concern), 201)

    # Leeds Mind's referral shows it transferred
    wait_for(
        lambda: ok(leeds.get(f"/referrals/{rid}"))["status"] == "transferred",
        timeout=30,
        message="Leeds Mind sees the transfer",
    )
    assert ok(leeds.get(f"/referrals/{rid}"))["transferred_to"] == "mesmac"

    # the hub counts one referral transferred out of Leeds Mind and one received in at MESMAC
    def counted():
        now = hub_transfers(stack_state)
        return (
            now[("leeds-mind", "transferred_out")]
            - counted_before[("leeds-mind", "transferred_out")],
            now[("mesmac", "received_in")] - counted_before[("mesmac", "received_in")],
        ) == (1, 1)

    wait_for(counted, timeout=30, message="the hub to count the transfer")
    # the hub knows each referral by its own partner's pseudonym, and nothing pairs the two
    sent = pseudonyms_of("leeds-mind").stream("referral", rid)
    received = pseudonyms_of("mesmac").stream("referral", new_id)
    facts = query(
        stack_state,
        HUB_DATABASE,
        "SELECT partner_id, stream_id, event_type, fields::text FROM reporting.facts"
        " WHERE (partner_id, stream_id) IN (('leeds-mind', %s), ('mesmac', %s))"
        " ORDER BY partner_id, position",
        sent,
        received,
    )
    assert ("leeds-mind", "ReferralTransferred") in {(p, t) for p, _, t, _ in facts}
    assert ("mesmac", "ReferralReceived") in {(p, t) for p, _, t, _ in facts}
    assert not any("sealed" in fields or "shares" in fields for *_, fields in facts)
    [moved] = [fields for p, _, t, fields in facts if t == "ReferralTransferred"]
    assert json.loads(moved) == {"transferred_on": TODAY.replace(day=1).isoformat()}
    linking = [rid, new_id, offer["offer_id"], str(derived_id(offer["offer_id"], "person"))]
    assert found_as_text(stack_state, HUB_DATABASE, linking) == []

    # and no identifier anywhere but the two vaults: the event stores and every other table
    # of both nodes, the third partner's, and the hub's
    values = identifiers_of(person)
    for database in [*(database_name(p) for p in PARTNERS), HUB_DATABASE]:
        assert found_as_text(stack_state, database, values) == [], database
    for partner in ("leeds-mind", "mesmac"):
        [(keys,)] = query(
            stack_state,
            database_name(partner),
            "SELECT count(*) FROM vault.person_keys WHERE wrapped_key IS NOT NULL"
            " AND person_id = ANY(%s::uuid[])",
            [referral["person_id"], person_id],
        )
        assert keys == 1, partner  # each holds its own copy in its own vault

    # erased at Leeds Mind afterwards: MESMAC is told, and keeps its own copy until it decides
    admin = node("leeds-mind", role="partner_admin")
    erased = admin.post(
        f"/people/{referral['person_id']}/erasure",
        {"reason_code": "person_request", "reason": "asked to be forgotten by us"},
    )
    assert erased.status_code == 200, erased.text
    history = ok(leeds.get(f"/referrals/{rid}/history"))["events"]
    assert history[-1]["event_type"] == "TransferredPersonErased"

    def noticed():
        page = ok(node("mesmac", role="partner_admin").get("/offers", erasure_noticed="true"))
        return [o for o in page["items"] if o["offer_id"] == offer["offer_id"]]

    [notice] = wait_for(noticed, timeout=30, message="the erasure notice at MESMAC")
    assert notice["erasure_noticed_on"] == TODAY.isoformat()
    assert ok(mesmac.get(f"/people/{person_id}"))["status"] == "active"


def test_a_person_registered_there_already_is_linked_once_the_worker_confirms(node, stack_state):
    person = someone()
    referral = refer(node, person)
    mesmac = node("mesmac")
    # MESMAC met them before, with the same name and date of birth, and another phone
    known = ok(
        mesmac.post(
            "/people",
            {
                "full_name": person["full_name"],
                "date_of_birth": person["date_of_birth"],
                "phone": "07700 900001",
            },
        ),
        201,
    )["person_id"]
    ok(
        node("leeds-mind").post(
            f"/referrals/{referral['referral_id']}/offer", {"to_partner": "mesmac"}
        )
    )
    offer = arrived(node, "mesmac", referral["referral_id"])
    unsure = mesmac.post(f"/offers/{offer['offer_id']}/accept")
    assert unsure.status_code == 409, unsure.text
    assert unsure.json()["rule"] == "TransferredPersonMayBeRegisteredHere"
    assert unsure.json()["candidates"] == [known]
    assert ok(mesmac.get(f"/offers/{offer['offer_id']}"))["status"] == "received"
    linked = ok(mesmac.post(f"/offers/{offer['offer_id']}/accept", {"person_id": known}))
    assert linked["person"] == "linked" and linked["person_id"] == known
    moved = ok(mesmac.get(f"/referrals/{linked['new_referral_id']}"))
    assert moved["person_id"] == known
    # what MESMAC's record lacked is filled in; what it holds differently is kept, and shown
    assert linked["link"]["filled"] == [
        "email",
        "ethnicity",
        "gender",
        "nhs_number",
        "postcode",
    ]
    assert linked["link"]["differing"] == [
        {"field": "phone", "here": "07700 900001", "shared": person["phone"]}
    ]
    here = ok(mesmac.get(f"/people/{known}"))
    for name in ("nhs_number", "email", "postcode"):
        assert here["identifiers"][name] == person[name], name
    assert here["identifiers"]["phone"] == "07700 900001"
    assert (here["gender"], here["ethnicity"], here["postcode_district"]) == (
        "woman",
        "mixed",
        "LS7",
    )
    # as an event in the person's stream, naming the fields and never their values
    [(event_type, payload)] = query(
        stack_state,
        database_name("mesmac"),
        "SELECT event_type, payload FROM referrals.events WHERE stream_type = 'person'"
        " AND stream_id = %s ORDER BY version DESC LIMIT 1",
        known,
    )
    assert event_type == "PersonDetailsChanged"
    assert payload["changed"] == ["email", "nhs_number", "postcode"]
    assert person["email"] not in json.dumps(payload)


def test_registering_someone_new_despite_a_namesake_is_the_workers_call(node):
    person = someone()
    referral = refer(node, person)
    mesmac = node("mesmac")
    ok(
        mesmac.post(
            "/people",
            {"full_name": person["full_name"], "date_of_birth": person["date_of_birth"]},
        ),
        201,
    )
    ok(
        node("leeds-mind").post(
            f"/referrals/{referral['referral_id']}/offer", {"to_partner": "mesmac"}
        )
    )
    offer = arrived(node, "mesmac", referral["referral_id"])
    both = mesmac.post(
        f"/offers/{offer['offer_id']}/accept",
        {"person_id": str(uuid.uuid4()), "register_person": True},
    )
    assert both.status_code == 422 and "person_id" in both.json()["fields"]
    new = ok(mesmac.post(f"/offers/{offer['offer_id']}/accept", {"register_person": True}))
    assert new["person"] == "registered"
    assert (
        ok(mesmac.get(f"/people/{new['person_id']}"))["identifiers"]["phone"] == (person["phone"])
    )


def _nothing_of(stack_state, partner: str, offer_id: str, person: dict) -> None:
    """The offer's record destroyed at `partner` and nothing of the person found as text."""
    [(wrapped,)] = query(
        stack_state,
        database_name(partner),
        "SELECT wrapped_key FROM vault.person_keys WHERE person_id = %s",
        str(offer_subject(offer_id)),
    )
    assert wrapped is None
    assert found_as_text(stack_state, database_name(partner), identifiers_of(person)) == []


def test_a_declined_offer_leaves_nothing_identifiable_at_the_partner(node, stack_state):
    person = someone()
    referral = refer(node, person, shares=["identifiers", "needs"])
    offered = node("leeds-mind").post(
        f"/referrals/{referral['referral_id']}/offer",
        {"to_partner": "lslcs", "share": ["identifiers", "contact"]},
    )
    assert offered.status_code == 409 and offered.json()["rule"] == "OfferMustStayWithinConsent"
    ok(
        node("leeds-mind").post(
            f"/referrals/{referral['referral_id']}/offer", {"to_partner": "lslcs"}
        )
    )
    lslcs = node("lslcs")
    offer = arrived(node, "lslcs", referral["referral_id"])
    record = ok(lslcs.get(f"/offers/{offer['offer_id']}"))["record"]
    assert record["shares"] == ["identifiers", "needs"] and "contact" not in record
    declined = ok(lslcs.post(f"/offers/{offer['offer_id']}/decline", {"reason": "no_capacity"}))
    assert declined["person_record"] == "destroyed"
    assert ok(lslcs.get(f"/offers/{offer['offer_id']}"))["record"] is None
    _nothing_of(stack_state, "lslcs", offer["offer_id"], person)


def test_an_offer_withdrawn_while_the_partner_is_down_leaves_nothing_there(node, stack_state):
    person = someone()
    referral = refer(node, person)
    rid = referral["referral_id"]
    leeds = node("leeds-mind")
    with NodeDown("mesmac"):
        ok(leeds.post(f"/referrals/{rid}/offer", {"to_partner": "mesmac"}))
        withdrawn = ok(
            leeds.post(f"/referrals/{rid}/offer/withdraw", {"reason": "offered_in_error"})
        )
        assert withdrawn["offered_to"] is None
    offer = arrived(node, "mesmac", rid, status="withdrawn")
    assert offer["person_record"] == "destroyed"
    accepting = node("mesmac").post(f"/offers/{offer['offer_id']}/accept")
    assert accepting.status_code == 409 and accepting.json()["rule"] == "OfferMustBeOpen"
    _nothing_of(stack_state, "mesmac", offer["offer_id"], person)


# -- a withdrawal crossing an acceptance (docs/decisions/0011) ----------------------------------


def transfers_counted(stack_state) -> dict[tuple[str, str], int]:
    """The hub's transfers report for this month, worked out from its facts as at a cut-off
    published now, unrounded (what its published figures are rounded from): (partner,
    direction) -> referrals."""
    from services.reporting import reports
    from services.reporting.cutoffs import Cutoffs
    from services.reporting.grid import month_of
    from services.reporting.suppression import Policy

    conn = psycopg2.connect(stack_state["owner_dsn"][HUB_DATABASE])
    try:
        with conn, conn.cursor() as cur:
            scope = reports.Scope(
                ("leeds-mind", "mesmac"), month_of(TODAY), Cutoffs(cur).publish("operator")
            )
            [table] = reports.transfers(cur, scope, Policy(up_to=0, round_to=1))["tables"]
    finally:
        conn.close()
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for row in table["rows"]:
        for direction, count in row["counts"].items():
            counts[(row["partner_id"], direction)] += count
    return counts


@pytest.mark.parametrize("down", ["leeds-mind", "mesmac"])
def test_an_acceptance_crossing_a_withdrawal_is_refused_and_the_person_erased_there(
    node, stack_state, down
):
    """MESMAC accepts while Leeds Mind withdraws the offer (the person withdrew consent), with
    one of the two workers stopped so that the messages cross: Leeds Mind's record decides. It
    refuses the acceptance; MESMAC closes the referral it made and erases the person its
    acceptance registered; the hub counts no transfer."""
    person = someone()
    referral = refer(node, person, share_with=["mesmac"])
    rid = referral["referral_id"]
    leeds, mesmac = node("leeds-mind"), node("mesmac")
    ok(leeds.post(f"/referrals/{rid}/offer", {"to_partner": "mesmac"}))
    offer = arrived(node, "mesmac", rid)
    offer_id = offer["offer_id"]
    counted_before = transfers_counted(stack_state)

    with WorkerDown(down):
        accepted = ok(mesmac.post(f"/offers/{offer_id}/accept"))
        assert accepted["person"] == "registered"
        withdrawn = ok(leeds.post(f"/referrals/{rid}/consent/withdraw", {}))
        assert withdrawn["offered_to"] is None
    person_id, new_id = accepted["person_id"], accepted["new_referral_id"]

    # Leeds Mind refused the acceptance: its referral shows the offer withdrawn, not transferred
    def refused():
        events = ok(leeds.get(f"/referrals/{rid}/history"))["events"]
        return [e["event_type"] for e in events][-3:]

    assert wait_for(
        lambda: refused()[-1] == "OfferAcceptanceRefused" and refused(),
        timeout=45,
        message="Leeds Mind to refuse the acceptance",
    ) == ["ConsentWithdrawn", "ReferralOfferWithdrawn", "OfferAcceptanceRefused"]
    there = ok(leeds.get(f"/referrals/{rid}"))
    assert there["status"] == "accepted" and there["transferred_to"] is None
    assert there["offered_to"] is None

    # MESMAC shows the offer withdrawn, its referral closed and the person erased
    gone = wait_for(
        lambda: (o := ok(mesmac.get(f"/offers/{offer_id}")))["status"] == "withdrawn" and o,
        timeout=45,
        message="MESMAC to learn the offer was withdrawn",
    )
    assert gone["person_erased"] is True and gone["new_referral_id"] == new_id
    assert ok(mesmac.get(f"/referrals/{new_id}"))["status"] == "transfer_withdrawn"
    erased = ok(mesmac.get(f"/people/{person_id}"))
    assert erased["status"] == "erased" and erased["identifiers"] is None
    # told twice (the withdrawal and the refusal), MESMAC recorded each step once
    assert query(
        stack_state,
        database_name("mesmac"),
        "SELECT stream_type, event_type FROM referrals.events WHERE (stream_type, stream_id) IN"
        " (('offer', %s), ('referral', %s), ('person', %s)) ORDER BY stream_type, version",
        offer_id,
        new_id,
        person_id,
    ) == [
        ("offer", "OfferReceived"),
        ("offer", "OfferAccepted"),
        ("offer", "OfferWithdrawnAfterAcceptance"),
        ("person", "PersonRegistered"),
        ("person", "PersonErased"),
        ("referral", "ReferralReceived"),
        ("referral", "ReferralTransferWithdrawn"),
    ]
    # no identifier of the person is left at MESMAC: their key and the offer's are destroyed,
    # no blind index names them, and nothing outside the vault holds them
    [(key, indexed)] = query(
        stack_state,
        database_name("mesmac"),
        "SELECT k.wrapped_key IS NOT NULL,"
        " (SELECT count(*) FROM vault.blind_index b WHERE b.person_id = k.person_id)"
        " FROM vault.person_keys k WHERE k.person_id = %s",
        person_id,
    )
    assert (key, indexed) == (False, 0)
    _nothing_of(stack_state, "mesmac", offer_id, person)
    for search in (
        {"nhs_number": person["nhs_number"]},
        {"full_name": person["full_name"], "date_of_birth": person["date_of_birth"]},
    ):
        assert ok(mesmac.post("/people/search", search))["people"] == [], search

    # the hub: MESMAC's closing has reached it, and neither side counts a transfer
    closed = pseudonyms_of("mesmac").stream("referral", new_id)
    wait_for(
        lambda: (
            query(
                stack_state,
                HUB_DATABASE,
                "SELECT count(*) FROM reporting.facts WHERE partner_id = 'mesmac'"
                " AND stream_id = %s AND event_type = 'ReferralTransferWithdrawn'",
                closed,
            )
            == [(1,)]
        ),
        timeout=45,
        message="the hub to have MESMAC's referral closed",
    )
    assert transfers_counted(stack_state) == counted_before


# -- the inbound queue, through the real broker ------------------------------------------------


def test_the_inbound_queue_refuses_what_another_broker_user_sends_in_a_partners_name(
    node, stack_state
):
    """A broker user with every right on MESMAC's vhost, but no partner's node user, publishes
    an offer in Leeds Mind's name and a 'sealed record' for it: MESMAC's worker refuses both."""
    offer_id, referral_id = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC).isoformat()
    forged_offer = {
        "event_id": str(uuid.uuid4()),
        "stream_type": "referral",
        "stream_id": referral_id,
        "version": 2,
        "position": 1,
        "event_type": "ReferralOffered",
        "schema_version": 1,
        "partner_id": "leeds-mind",
        "occurred_at": now,
        "recorded_at": now,
        "actor": {"user_id": "lead", "role": "team_lead"},
        "correlation_id": str(uuid.uuid4()),
        "causation_id": None,
        "payload": {
            "to_partner": "mesmac",
            "offer_id": offer_id,
            "offered_on": TODAY.isoformat(),
            "source": "gp",
            "urgency": "routine",
            "needs": [],
            "risk_level": "low",
            "is_carer_referral": False,
        },
        "source": "leeds-mind/referrals",
        "previous_position": 0,
    }
    forged_record = {
        "event_id": str(uuid.uuid4()),
        "event_type": "PersonRecordSealed",
        "partner_id": "leeds-mind",
        "source": "leeds-mind/referrals",
        "to_partner": "mesmac",
        "offer_id": offer_id,
        "referral_id": referral_id,
        "sealed": "AQ" + "A" * 200,
    }
    with broker_login(stack_state, "mesmac") as url:
        import amqp

        conn = amqp_connection(url)
        conn.connect()
        channel = conn.channel()
        user = url.split("://", 1)[1].split(":", 1)[0]
        assert user != broker_user("leeds-mind")
        for key, body in (
            # an offer comes from its partner over the transfers exchange, as a record does
            ("leeds-mind.transfers.mesmac", forged_offer),
            ("leeds-mind.transfers.mesmac", forged_record),
        ):
            channel.basic_publish(
                amqp.Message(json.dumps(body), content_type="application/json", user_id=user),
                exchange=INBOUND_EXCHANGE,
                routing_key=key,
            )
        conn.close()

    def refused():
        return query(
            stack_state,
            database_name("mesmac"),
            "SELECT event_type, error, envelope::text FROM referrals.dead_letters"
            " WHERE consumer = 'referrals-inbound' AND envelope->>'event_id' = ANY(%s)",
            [forged_offer["event_id"], forged_record["event_id"]],
        )

    rows = wait_for(lambda: len(refused()) == 2 and refused(), timeout=30, message="refusals")
    assert {event_type for event_type, _, _ in rows} == {"ReferralOffered", "PersonRecordSealed"}
    assert all("refused (sender)" in error for _, error, _ in rows)
    assert all('"sealed"' not in envelope for _, _, envelope in rows)
    assert node("mesmac").get(f"/offers/{offer_id}").status_code == 404
    [(standing,)] = query(
        stack_state,
        database_name("mesmac"),
        "SELECT count(*) FROM vault.person_keys WHERE person_id = %s",
        str(offer_subject(offer_id)),
    )
    assert standing == 0
