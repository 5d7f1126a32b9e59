"""Key hygiene of the people vault on PostgreSQL: versioned master keys and their rotation
(every key wrapped again, every person read back, an old version destroyed only once nothing
needs it), and erasure that leaves no copy of the person's wrapped key, nor their digests, in
any row version or page of the key tables."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
import pytest

from shared import key_rotation
from shared.db import Database
from shared.vault import (
    ERASED,
    MasterKeys,
    PersonKey,
    Vault,
    master_key_file_name,
    vault_ddl,
    versioned_keys_ddl,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "people"
PARTNER = "leeds-mind"
KEY_TABLES = ("person_keys", "blind_index")


def nhs_number(serial: int) -> str:
    """A valid NHS number (modulus 11) for each serial that has one."""
    digits = [int(d) for d in f"{400000000 + serial:09d}"]
    check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
    check = 0 if check == 11 else check
    return None if check == 10 else "".join(map(str, digits)) + str(check)


def identifiers(serial: int) -> dict:
    person = {"full_name": f"Person {serial} Example", "date_of_birth": "1980-01-01"}
    if nhs_number(serial):
        person["nhs_number"] = nhs_number(serial)
    return person


@pytest.fixture
def database(fresh_database):
    db = Database(fresh_database, maxconn=4)
    with db.transaction() as cur:
        cur.execute(vault_ddl(SCHEMA))
    yield db
    db.close()


@pytest.fixture
def key_dir(tmp_path) -> Path:
    directory = tmp_path / "master-keys"
    assert key_rotation.add_master_key_version(directory, PARTNER) == 1
    return directory


@pytest.fixture
def vault(key_dir) -> Vault:
    return Vault(SCHEMA, MasterKeys.from_directory(key_dir, PARTNER))


def register(database, vault, count: int, first: int = 0) -> dict[uuid.UUID, dict]:
    people = {}
    for serial in range(first, first + count):
        person_id = uuid.uuid4()
        with database.transaction() as cur:
            vault.register(cur, person_id, identifiers(serial))
            vault.seal_text(cur, person_id, f"note about person {serial}", person_id)
        people[person_id] = {**identifiers(serial), "serial": serial}
    return people


def key_versions(database) -> dict[int, int]:
    with database.transaction() as cur:
        cur.execute(
            f"SELECT key_version, count(*) FROM {SCHEMA}.person_keys"
            " WHERE wrapped_key IS NOT NULL GROUP BY 1"
        )
        return dict(cur.fetchall())


def reads_back(database, vault, people) -> None:
    with database.transaction() as cur:
        for person_id, person in people.items():
            expected = {k: v for k, v in person.items() if k != "serial"}
            assert vault.read(cur, person_id) == expected
            assert vault.open_text(cur, person_id) == f"note about person {person['serial']}"
            if "nhs_number" in person:
                assert vault.find_by_nhs_number(cur, person["nhs_number"]) == [person_id]
            found = vault.find_by_name_and_dob(cur, person["full_name"], "1980-01-01")
            assert found == [person_id]


# -- rotation --------------------------------------------------------------------------------


def test_a_rotation_rewraps_every_key_and_every_person_reads_back(database, key_dir, vault):
    people = register(database, vault, 23)
    erased = next(iter(people))
    with database.transaction() as cur:
        vault.erase(cur, erased, "asked to be forgotten")
    del people[erased]
    assert key_versions(database) == {1: 22}

    assert key_rotation.add_master_key_version(key_dir, PARTNER) == 2
    done = key_rotation.rewrap_all(database, vault, batch=5)

    assert (done.keys, done.swept, done.retired) == (22, True, [1])
    assert key_versions(database) == {2: 22}
    reads_back(database, vault, people)
    # a process holding the new version alone reads everyone: nothing needs version 1 now
    newest_only = Vault(SCHEMA, MasterKeys({2: key_bytes(key_dir, 2)}, PARTNER))
    reads_back(database, newest_only, people)
    with database.transaction() as cur:
        assert newest_only.read(cur, erased) is ERASED

    with pytest.raises(key_rotation.RotationRefused, match="kept until they expire"):
        key_rotation.destroy_master_key_version(database, vault, 1, kept_days=35)
    key_rotation.destroy_master_key_version(database, vault, 1, kept_days=0)

    assert not (key_dir / master_key_file_name(PARTNER, 1)).exists()
    assert MasterKeys.from_directory(key_dir, PARTNER).versions == (2,)
    assert vault.keys.versions == (2,)
    reads_back(database, vault, people)
    version_1 = next(row for row in key_rotation.status(database, vault) if row["version"] == 1)
    assert version_1["held"] is False and version_1["destroyed_at"] is not None


def key_bytes(key_dir: Path, version: int) -> bytes:
    text = (key_dir / master_key_file_name(PARTNER, version)).read_text().strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_version_that_still_wraps_keys_or_is_the_newest_is_never_destroyed(
    database, key_dir, vault
):
    register(database, vault, 3)
    key_rotation.add_master_key_version(key_dir, PARTNER)
    vault.keys.reload()

    with pytest.raises(key_rotation.RotationRefused, match="still wraps 3 person keys"):
        key_rotation.destroy_master_key_version(database, vault, 1, kept_days=0)
    with pytest.raises(key_rotation.RotationRefused, match="is the newest"):
        key_rotation.destroy_master_key_version(database, vault, 2, kept_days=0)
    assert MasterKeys.from_directory(key_dir, PARTNER).versions == (1, 2)


def test_new_keys_take_the_newest_version_and_search_finds_people_under_either(
    database, key_dir, vault
):
    [before] = register(database, vault, 1, first=40)
    key_rotation.add_master_key_version(key_dir, PARTNER)
    vault.keys.reload()  # what every process does by itself within seconds
    [after] = register(database, vault, 1, first=41)
    assert key_versions(database) == {1: 1, 2: 1}

    with database.transaction() as cur:
        # both share a name and date of birth: one is indexed under each version
        vault.update(cur, after, {"full_name": "Person 40 Example"})
        found = vault.find_by_name_and_dob(cur, "person 40 example", "1980-01-01")
    assert found == sorted([before, after])


def test_a_vault_from_before_versions_reads_as_version_1(fresh_database, key_dir):
    db = Database(fresh_database, maxconn=2)
    try:
        with db.transaction() as cur:
            cur.execute(vault_ddl(SCHEMA))
            cur.execute(f"ALTER TABLE {SCHEMA}.person_keys DROP COLUMN key_version")
            cur.execute(f"DROP TABLE {SCHEMA}.master_key_versions, {SCHEMA}.key_sweeps_due")
        keys = MasterKeys.from_directory(key_dir, PARTNER)
        person_id, person = uuid.uuid4(), identifiers(7)
        # written as the vault wrote before versions: the key alone
        key = PersonKey.generate(person_id)
        with db.transaction() as cur:
            cur.execute(
                f"INSERT INTO {SCHEMA}.person_keys (person_id, wrapped_key) VALUES (%s, %s)",
                (person_id, keys.wrap(key)),
            )
            sealed = key.seal_identifiers(1, {**person, "nhs_number": nhs_number(7)})
            cur.execute(
                f"INSERT INTO {SCHEMA}.person_identifiers (person_id, version, ciphertext, nonce)"
                " VALUES (%s, 1, %s, %s)",
                (person_id, sealed.ciphertext, sealed.nonce),
            )
        with db.transaction() as cur:
            cur.execute(versioned_keys_ddl(SCHEMA))
            cur.execute(versioned_keys_ddl(SCHEMA))  # safe to run again
        assert key_versions(db) == {1: 1}
        with db.transaction() as cur:
            assert Vault(SCHEMA, keys).read(cur, person_id)["full_name"] == "Person 7 Example"
    finally:
        db.close()


# -- erasure leaves no key behind ------------------------------------------------------------


@pytest.fixture
def inspector(stack_state, fresh_database):
    """A superuser's connection to the scratch database, with pageinspect, to read its pages
    as they are on disk."""
    password = (ROOT / "run" / stack_state["stack"] / "secrets" / "postgres_admin").read_text()
    parts = urlparse(fresh_database)
    conn = psycopg2.connect(
        host=parts.hostname,
        port=parts.port,
        dbname=parts.path.lstrip("/"),
        user="postgres",
        password=password.strip(),
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
    yield conn
    conn.close()


def pages(inspector, table: str) -> tuple[list[bytes], list[bytes]]:
    """Every tuple's data (heap_page_items, every line pointer: live, dead or unused) and every
    raw page of the table and of its indexes."""
    tuples, raw = [], []
    with inspector.cursor() as cur:
        cur.execute(
            "SELECT %s::regclass UNION ALL SELECT indexrelid::regclass FROM pg_index"
            " WHERE indrelid = %s::regclass",
            (f"{SCHEMA}.{table}", f"{SCHEMA}.{table}"),
        )
        relations = [row[0] for row in cur.fetchall()]
        for index, relation in enumerate(relations):
            cur.execute(
                "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int",
                (relation,),
            )
            for block in range(cur.fetchone()[0]):
                cur.execute("SELECT get_raw_page(%s, %s)", (relation, block))
                page = bytes(cur.fetchone()[0])
                raw.append(page)
                if index == 0:
                    cur.execute("SELECT t_data FROM heap_page_items(%s)", (psycopg2.Binary(page),))
                    tuples += [bytes(row[0]) for row in cur.fetchall() if row[0] is not None]
    return tuples, raw


def copies(inspector, needles: list[bytes]) -> dict[str, int]:
    found = {}
    for table in KEY_TABLES:
        tuples, raw = pages(inspector, table)
        found[f"{table} tuples"] = sum(n in t for n in needles for t in tuples)
        found[f"{table} pages"] = sum(n in p for n in needles for p in raw)
    return found


def secrets_of(database, person_id) -> list[bytes]:
    """What of the person the key tables hold: their wrapped key and their digests."""
    with database.transaction() as cur:
        cur.execute(
            f"SELECT wrapped_key FROM {SCHEMA}.person_keys WHERE person_id = %s", (person_id,)
        )
        needles = [bytes(cur.fetchone()[0])]
        cur.execute(f"SELECT digest FROM {SCHEMA}.blind_index WHERE person_id = %s", (person_id,))
        needles += [bytes(row[0]) for row in cur.fetchall()]
    assert len(needles) == 3  # the key, the NHS number's digest, the name and birth date's
    return needles


def test_after_an_erasure_is_swept_no_row_version_or_page_holds_the_persons_key(
    database, vault, inspector
):
    people = register(database, vault, 30)
    # the newest row sits lowest in its page: a plain vacuum would leave its bytes in the
    # page's free space
    person_id = list(people)[-1]
    needles = secrets_of(database, person_id)
    assert set(copies(inspector, needles).values()) != {0}  # the pages are read as they are

    with database.transaction() as cur:
        vault.erase(cur, person_id, "asked to be forgotten")
    assert sum(copies(inspector, needles).values()) > 0  # until the sweep, old rows keep it
    with database.autocommit() as conn:
        assert vault.sweep(conn) is True

    assert copies(inspector, needles) == dict.fromkeys(
        [f"{table} {part}" for table in KEY_TABLES for part in ("tuples", "pages")], 0
    )
    with database.transaction() as cur:
        cur.execute(f"SELECT count(*) FROM {SCHEMA}.key_sweeps_due")
        assert cur.fetchone() == (0,)
    del people[person_id]
    reads_back(database, vault, people)


def test_a_sweep_held_up_by_a_transaction_that_may_read_the_old_row_stays_due(
    database, vault, inspector, fresh_database
):
    person_id = next(iter(register(database, vault, 3)))
    needles = secrets_of(database, person_id)
    reader = psycopg2.connect(fresh_database)
    reader.set_session(isolation_level="REPEATABLE READ")
    try:
        with reader.cursor() as cur:  # a snapshot taken before the erasure, on another table
            cur.execute(f"SELECT count(*) FROM {SCHEMA}.sensitive_texts")
        with database.transaction() as cur:
            vault.erase(cur, person_id, "asked to be forgotten")
        with database.autocommit() as conn:
            assert vault.sweep(conn, attempts=1) is False
        with database.transaction() as cur:
            cur.execute(f"SELECT person_id FROM {SCHEMA}.key_sweeps_due")
            assert cur.fetchall() == [(person_id,)]
    finally:
        reader.close()

    with database.autocommit() as conn:
        assert vault.sweep(conn) is True
    assert sum(copies(inspector, needles).values()) == 0
