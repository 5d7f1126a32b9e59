"""An erasure through the API returns only once the vault's key tables are swept: the person's
wrapped key is gone from the live row and no sweep is left due: the service's role vacuumed
the tables and no old row version was left (tests/integration/test_vault_key_hygiene.py reads
the pages themselves)."""

from __future__ import annotations

import psycopg2
import pytest
import requests

from shared.config import database_name

pytestmark = pytest.mark.e2e

PARTNER = "leeds-mind"


def test_an_erasure_returns_with_the_key_tables_swept(
    endpoints, auth, register_person, stack_state
):
    person_id = register_person(PARTNER)
    dsn = stack_state["owner_dsn"][database_name(PARTNER)]
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT key_version > 0, wrapped_key IS NOT NULL FROM vault.person_keys"
            " WHERE person_id = %s",
            (person_id,),
        )
        assert cur.fetchone() == (True, True)
    conn.close()

    answer = requests.post(
        f"{endpoints['partners'][PARTNER]['referrals']}/people/{person_id}/erasure",
        json={"reason_code": "person_request", "reason": "asked in writing"},
        headers=auth("partner_admin", PARTNER),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text

    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT wrapped_key, key_version, erased_at IS NOT NULL FROM vault.person_keys"
            " WHERE person_id = %s",
            (person_id,),
        )
        assert cur.fetchone() == (None, None, True)
        cur.execute("SELECT person_id FROM vault.key_sweeps_due")
        assert cur.fetchall() == []
    conn.close()
