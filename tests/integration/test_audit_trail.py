"""The audit trail cannot be rewritten by the services' own database role."""

import psycopg2
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def app_connection(stack_state):
    conn = psycopg2.connect(stack_state["app_dsn"]["peerlink_mesmac"])
    yield conn
    conn.close()


def insert_entry(cur) -> int:
    cur.execute(
        "INSERT INTO audit.entries (service, user_id, role, partner_id, action, record_type)"
        " VALUES ('test', 'auditor-test', 'partner_admin', 'mesmac', 'read', 'referral')"
        " RETURNING id"
    )
    return cur.fetchone()[0]


def test_the_services_role_can_add_and_read_entries(app_connection):
    with app_connection, app_connection.cursor() as cur:
        entry = insert_entry(cur)
        cur.execute("SELECT user_id FROM audit.entries WHERE id = %s", (entry,))
        assert cur.fetchone() == ("auditor-test",)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit.entries SET user_id = 'someone else' WHERE id = %s",
        "DELETE FROM audit.entries WHERE id = %s",
        "TRUNCATE audit.entries",
    ],
    ids=["update", "delete", "truncate"],
)
def test_the_services_role_cannot_change_or_remove_entries(app_connection, statement):
    with app_connection, app_connection.cursor() as cur:
        entry = insert_entry(cur)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege), app_connection.cursor() as cur:
        cur.execute(statement, (entry,) if "%s" in statement else None)
    app_connection.rollback()
    with app_connection.cursor() as cur:
        cur.execute("SELECT user_id FROM audit.entries WHERE id = %s", (entry,))
        assert cur.fetchone() == ("auditor-test",)


def test_even_the_owner_cannot_update_an_entry(stack_state):
    conn = psycopg2.connect(stack_state["owner_dsn"]["peerlink_mesmac"])
    try:
        with conn.cursor() as cur:
            entry = insert_entry(cur)
            with pytest.raises(psycopg2.errors.RaiseException, match="append-only"):
                cur.execute("UPDATE audit.entries SET reason = 'x' WHERE id = %s", (entry,))
    finally:
        conn.rollback()
        conn.close()


def _event(stream_id: str, version: int, payload: dict):
    import uuid
    from datetime import UTC, datetime

    from shared.events import Actor, RecordedEvent

    return RecordedEvent(
        uuid.uuid4(),
        "session",
        stream_id,
        version,
        version,
        "Something",
        1,
        "mesmac",
        datetime.now(UTC),
        datetime.now(UTC),
        Actor("auditor-test", "peer_worker"),
        uuid.uuid4(),
        None,
        payload,
    )


def test_an_append_becomes_one_change_entry_per_event_in_order(app_connection):
    import uuid

    from shared.audit import change_projector

    asked = []
    person, other = str(uuid.uuid4()), str(uuid.uuid4())
    first, second = f"audit-test-{uuid.uuid4()}", f"audit-test-{uuid.uuid4()}"

    def person_of(cur, event):
        asked.append(event.stream_id)
        return person if event.stream_id == first else None

    events = [
        _event(first, 1, {"kind": "group"}),
        _event(first, 2, {"person_id": other, "status": "attended"}),
        _event(first, 3, {"count": 4}),
        _event(second, 1, {"kind": "drop_in"}),
    ]
    with app_connection, app_connection.cursor() as cur:
        change_projector("test", person_of)(cur, events)
        cur.execute(
            "SELECT record_id, person_id::text, fields, detail->>'version' FROM audit.entries"
            " WHERE record_id IN (%s, %s) ORDER BY id",
            (first, second),
        )
        assert cur.fetchall() == [
            (first, person, ["kind"], "1"),
            (first, other, ["person_id", "status"], "2"),
            (first, person, ["count"], "3"),
            (second, None, ["kind"], "1"),
        ]
    assert asked == [first, second]  # once per stream
