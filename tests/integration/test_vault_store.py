"""The people vault on PostgreSQL: identifiers with history, blind-index search, sealed text,
and erasure that leaves nothing in any vault table that links back to the person."""

import uuid

import pytest

from shared.db import Database
from shared.vault import (
    ERASED,
    MasterKeys,
    PersonAlreadyRegistered,
    PersonErased,
    PersonNotFound,
    Vault,
    VaultIntegrityError,
    generate_master_key,
    vault_ddl,
)

pytestmark = pytest.mark.integration

SCHEMA = "people"
VAULT_TABLES = {"person_keys", "person_identifiers", "blind_index", "sensitive_texts"}

JOSE = {
    "full_name": "José Smith",
    "preferred_name": "Jojo",
    "date_of_birth": "1984-03-07",
    "nhs_number": "943 476 5919",
    "address": "12 Cardigan Road, Leeds",
    "postcode": "LS6 3AG",
    "phone": "07700 900123",
    "email": "jose.smith@example.org",
}
AMIRA = {
    "full_name": "Amira Khan",
    "date_of_birth": "1990-11-30",
    "nhs_number": "943 476 5870",
    "postcode": "LS7 4JE",
}


@pytest.fixture
def database(fresh_database):
    db = Database(fresh_database)
    with db.transaction() as cur:
        cur.execute(vault_ddl(SCHEMA))
        cur.execute(vault_ddl(SCHEMA))
    yield db
    db.close()


@pytest.fixture
def keys():
    return MasterKeys.from_text(generate_master_key(), "leeds-mind")


@pytest.fixture
def vault(keys):
    return Vault(SCHEMA, keys)


def registered(database, vault, identifiers) -> uuid.UUID:
    person_id = uuid.uuid4()
    with database.transaction() as cur:
        vault.register(cur, person_id, identifiers)
    return person_id


@pytest.fixture
def jose(database, vault):
    return registered(database, vault, JOSE)


@pytest.fixture
def amira(database, vault):
    return registered(database, vault, AMIRA)


def vault_contents(database) -> str:
    """Every row of every table in the vault's schema as text (bytea as hex), casefolded."""
    with database.transaction() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (SCHEMA,)
        )
        tables = {row[0] for row in cur.fetchall()}
        assert tables >= VAULT_TABLES
        rows = []
        for table in sorted(tables):
            cur.execute(f"SELECT t::text FROM {SCHEMA}.{table} t")
            rows += [row[0] for row in cur.fetchall()]
    return "\n".join(rows).casefold()


def traces_of(identifiers: dict, keys: MasterKeys) -> dict[str, str]:
    """What would link a dump of the vault to the person: their values as text and as the
    hex a bytea column shows, and their blind-index digests."""
    needles = {}
    for field in ("full_name", "nhs_number", "date_of_birth", "postcode"):
        value = identifiers[field]
        for form in {value, value.replace(" ", "")}:
            needles[f"{field} {form!r}"] = form.casefold()
            needles[f"{field} {form!r} as hex"] = form.encode().hex()
    for kind, digest in keys.index_digests(identifiers).items():
        needles[f"{kind} digest"] = digest.hex()
    return needles


def found(needles: dict[str, str], contents: str) -> list[str]:
    return [name for name, needle in needles.items() if needle in contents]


# -- identifiers -----------------------------------------------------------------------------


def test_a_registered_person_reads_back_normalised(database, vault, jose):
    with database.transaction() as cur:
        assert vault.read(cur, jose) == {**JOSE, "nhs_number": "9434765919"}
        assert vault.read(cur, uuid.uuid4()) is None


def test_identifiers_are_never_stored_in_plaintext(database, vault, keys, jose):
    needles = traces_of(JOSE, keys)
    digests = {name: n for name, n in needles.items() if name.endswith("digest")}
    values = {name: n for name, n in needles.items() if not name.endswith("digest")}
    contents = vault_contents(database)
    assert found(values, contents) == []
    assert found(digests, contents) == list(digests)


def test_an_update_writes_a_new_version_and_keeps_the_old_one(database, vault, jose):
    with database.transaction() as cur:
        merged = vault.update(cur, jose, {"postcode": "LS2 9JT", "preferred_name": None})
    expected = {**JOSE, "nhs_number": "9434765919", "postcode": "LS2 9JT"}
    del expected["preferred_name"]
    assert merged == expected
    with database.transaction() as cur:
        assert vault.read(cur, jose) == expected
        history = vault.history(cur, jose)
    assert [entry["version"] for entry in history] == [1, 2]
    assert history[0]["identifiers"]["postcode"] == "LS6 3AG"
    assert history[1]["identifiers"] == expected
    assert history[0]["recorded_at"] <= history[1]["recorded_at"]


def test_an_update_that_changes_nothing_writes_no_version(database, vault, jose):
    with database.transaction() as cur:
        vault.update(cur, jose, {"postcode": " LS6 3AG ", "nhs_number": "9434765919"})
        assert len(vault.history(cur, jose)) == 1


def test_an_unknown_field_is_refused_by_name_and_nothing_is_written(database, vault, jose):
    with (
        pytest.raises(ValueError, match="unknown identifier field: religion"),
        database.transaction() as cur,
    ):
        vault.register(cur, uuid.uuid4(), {"full_name": "Sam Lee", "religion": "none"})
    with (
        pytest.raises(ValueError, match="unknown identifier field: religion"),
        database.transaction() as cur,
    ):
        vault.update(cur, jose, {"religion": "none"})
    with database.transaction() as cur:
        cur.execute(f"SELECT count(*) FROM {SCHEMA}.person_keys")
        assert cur.fetchone()[0] == 1
        assert len(vault.history(cur, jose)) == 1


def test_an_invalid_nhs_number_is_refused(database, vault):
    with (
        pytest.raises(ValueError, match="check digit does not match"),
        database.transaction() as cur,
    ):
        vault.register(cur, uuid.uuid4(), {"nhs_number": "943 476 5918"})


def test_registering_a_person_twice_is_refused(database, vault, jose):
    with pytest.raises(PersonAlreadyRegistered), database.transaction() as cur:
        vault.register(cur, jose, AMIRA)
    with database.transaction() as cur:
        assert vault.read(cur, jose)["full_name"] == "José Smith"


def test_updating_an_unknown_person_is_refused(database, vault):
    with pytest.raises(PersonNotFound), database.transaction() as cur:
        vault.update(cur, uuid.uuid4(), {"postcode": "LS1 1AA"})


def test_ciphertext_moved_to_another_person_does_not_open(database, vault, jose, amira):
    with database.transaction() as cur:
        cur.execute(
            f"UPDATE {SCHEMA}.person_identifiers a SET ciphertext = j.ciphertext, nonce = j.nonce "
            f"FROM {SCHEMA}.person_identifiers j WHERE a.person_id = %s AND j.person_id = %s",
            (amira, jose),
        )
        cur.execute(
            f"UPDATE {SCHEMA}.person_keys a SET wrapped_key = j.wrapped_key "
            f"FROM {SCHEMA}.person_keys j WHERE a.person_id = %s AND j.person_id = %s",
            (amira, jose),
        )
    with database.transaction() as cur, pytest.raises(VaultIntegrityError):
        Vault(SCHEMA, vault.keys).read(cur, amira)


def test_another_master_key_opens_nothing(database, jose):
    stranger = Vault(SCHEMA, MasterKeys.from_text(generate_master_key(), "leeds-mind"))
    with database.transaction() as cur:
        with pytest.raises(VaultIntegrityError, match="does not open with this master key"):
            stranger.read(cur, jose)
        assert stranger.find_by_nhs_number(cur, "9434765919") == []


# -- search ----------------------------------------------------------------------------------


def test_people_are_found_by_nhs_number_in_any_spacing(database, vault, jose, amira):
    with database.transaction() as cur:
        assert vault.find_by_nhs_number(cur, "9434765919") == [jose]
        assert vault.find_by_nhs_number(cur, "943-476-5870") == [amira]
        assert vault.find_by_nhs_number(cur, "401 023 2137") == []


def test_people_are_found_by_name_and_date_of_birth_as_typed_by_anyone(database, vault, jose):
    namesake = uuid.uuid4()
    with database.transaction() as cur:
        vault.register(cur, namesake, {"full_name": "JOSE SMITH", "date_of_birth": "1984-03-07"})
        vault.register(
            cur, uuid.uuid4(), {"full_name": "Jose Smith", "date_of_birth": "1985-03-07"}
        )
        assert vault.find_by_name_and_dob(cur, "josé  smith", "1984-03-07") == sorted(
            [jose, namesake]
        )
        assert vault.find_by_name_and_dob(cur, "Josie Smith", "1984-03-07") == []


def test_search_follows_the_latest_identifiers(database, vault, jose):
    with database.transaction() as cur:
        vault.update(cur, jose, {"nhs_number": "401 023 2137", "full_name": "José Smith-Ortiz"})
        assert vault.find_by_nhs_number(cur, "9434765919") == []
        assert vault.find_by_nhs_number(cur, "4010232137") == [jose]
        assert vault.find_by_name_and_dob(cur, "José Smith", "1984-03-07") == []
        assert vault.find_by_name_and_dob(cur, "jose smith-ortiz", "1984-03-07") == [jose]


# -- sensitive text --------------------------------------------------------------------------


def test_sealed_text_opens_for_its_person_only_by_its_id(database, vault, jose):
    note = "Talked about José's move to LS6 3AG; agreed to meet at the café."
    with database.transaction() as cur:
        text_id = vault.seal_text(cur, jose, note)
    with database.transaction() as cur:
        assert vault.open_text(cur, text_id) == note
        assert vault.open_text(cur, uuid.uuid4()) is None
    assert "talked about" not in vault_contents(database)


def test_text_for_an_unknown_person_is_refused(database, vault):
    with pytest.raises(PersonNotFound), database.transaction() as cur:
        vault.seal_text(cur, uuid.uuid4(), "note")


def test_texts_about_a_subject_move_to_the_person_identified_and_are_erased_with_them(
    database, vault, jose, amira
):
    subject = uuid.uuid4()
    with database.transaction() as cur:
        vault.register(cur, subject, {})
        first = vault.seal_text(cur, subject, "a young man at the drop-in, upset")
        second = vault.seal_text(cur, subject, "he said he had nowhere to stay")
        amiras = vault.seal_text(cur, amira, "Amira's note")
    with database.transaction() as cur:
        assert vault.move_texts(cur, subject, jose) == 2
    with database.transaction() as cur:
        assert vault.text_owners(cur, [first, second, amiras]) == {
            first: jose,
            second: jose,
            amiras: amira,
        }
        assert vault.open_text(cur, second) == "he said he had nowhere to stay"
        assert vault.standing(cur, subject) == "erased"
        with pytest.raises(PersonErased):
            vault.seal_text(cur, subject, "a late note under the old subject")
    with database.transaction() as cur:
        vault.erase(cur, jose, "asked to be forgotten")
    with database.transaction() as cur:
        assert vault.open_text(cur, first) is ERASED
        assert vault.open_text(cur, second) is ERASED
        assert vault.open_text(cur, amiras) == "Amira's note"


def test_texts_do_not_move_to_an_erased_person_and_nothing_changes(database, vault, jose):
    subject = uuid.uuid4()
    with database.transaction() as cur:
        vault.register(cur, subject, {})
        text_id = vault.seal_text(cur, subject, "words")
        vault.erase(cur, jose, "asked to be forgotten")
    with pytest.raises(PersonErased), database.transaction() as cur:
        vault.move_texts(cur, subject, jose)
    with database.transaction() as cur:
        assert vault.text_owners(cur, [text_id]) == {text_id: subject}
        assert vault.open_text(cur, text_id) == "words"


# -- erasure ---------------------------------------------------------------------------------


def test_erasure_leaves_nothing_that_links_to_the_person(database, vault, keys, jose, amira):
    with database.transaction() as cur:
        text_id = vault.seal_text(cur, jose, "first session, went well")
        vault.update(cur, jose, {"phone": "07700 900999"})
    needles = traces_of(JOSE, keys)
    assert found(needles, vault_contents(database)) != []  # the digests, before erasure

    with database.transaction() as cur:
        vault.erase(cur, jose, "right to erasure request, ticket DP-2024-117")

    contents = vault_contents(database)
    assert found(needles, contents) == []
    assert "dp-2024-117" in contents  # the dump does read every table, reason included
    with database.transaction() as cur:
        assert vault.read(cur, jose) is ERASED
        assert vault.history(cur, jose) is ERASED
        assert vault.open_text(cur, text_id) is ERASED
        assert vault.find_by_nhs_number(cur, "9434765919") == []
        assert vault.find_by_name_and_dob(cur, "José Smith", "1984-03-07") == []
        cur.execute(
            f"SELECT wrapped_key, erased_at IS NOT NULL, erasure_reason "
            f"FROM {SCHEMA}.person_keys WHERE person_id = %s",
            (jose,),
        )
        assert cur.fetchone() == (None, True, "right to erasure request, ticket DP-2024-117")
        assert vault.read(cur, amira)["full_name"] == "Amira Khan"
        assert vault.find_by_nhs_number(cur, "9434765870") == [amira]


def test_an_erasure_is_seen_by_a_vault_that_had_the_key_cached(database, keys, jose):
    reader, eraser = Vault(SCHEMA, keys), Vault(SCHEMA, keys)
    with database.transaction() as cur:
        assert reader.read(cur, jose)["full_name"] == "José Smith"
    with database.transaction() as cur:
        eraser.erase(cur, jose, "asked to be forgotten")
    with database.transaction() as cur:
        assert reader.read(cur, jose) is ERASED


def test_a_rolled_back_erasure_changes_nothing(database, vault, jose):
    with pytest.raises(RuntimeError), database.transaction() as cur:
        vault.erase(cur, jose, "asked to be forgotten")
        raise RuntimeError("the request failed after the erasure")
    with database.transaction() as cur:
        assert vault.read(cur, jose)["full_name"] == "José Smith"
        assert vault.find_by_nhs_number(cur, "9434765919") == [jose]


def test_an_erased_person_takes_no_new_identifiers_or_text(database, vault, jose):
    with database.transaction() as cur:
        vault.erase(cur, jose, "asked to be forgotten")
    for write in (
        lambda cur: vault.update(cur, jose, {"postcode": "LS1 1AA"}),
        lambda cur: vault.seal_text(cur, jose, "note"),
    ):
        with pytest.raises(PersonErased), database.transaction() as cur:
            write(cur)
    with pytest.raises(PersonAlreadyRegistered), database.transaction() as cur:
        vault.register(cur, jose, JOSE)


def test_erasing_twice_keeps_the_first_reason(database, vault, jose):
    with database.transaction() as cur:
        vault.erase(cur, jose, "asked to be forgotten")
    with database.transaction() as cur:
        vault.erase(cur, jose, "second request")
        cur.execute(
            f"SELECT erasure_reason FROM {SCHEMA}.person_keys WHERE person_id = %s", (jose,)
        )
        assert cur.fetchone() == ("asked to be forgotten",)


@pytest.mark.parametrize(
    "reason",
    [
        "",
        "   ",
        "request from José Smith",
        "NHS 943-476-5919 asked",
        "lives at ls6 3ag",
        "Smith was registered twice",
    ],
)
def test_an_erasure_needs_a_reason_that_does_not_identify_the_person(database, vault, jose, reason):
    with (
        pytest.raises(ValueError, match="needs a reason|must not identify"),
        database.transaction() as cur,
    ):
        vault.erase(cur, jose, reason)
    with database.transaction() as cur:
        assert vault.read(cur, jose) is not ERASED


def test_erasing_an_unknown_person_is_refused(database, vault):
    with pytest.raises(PersonNotFound), database.transaction() as cur:
        vault.erase(cur, uuid.uuid4(), "asked to be forgotten")


def test_a_record_that_no_longer_opens_can_still_be_erased(database, vault, jose):
    with database.transaction() as cur:
        cur.execute(
            f"UPDATE {SCHEMA}.person_identifiers SET ciphertext = 'altered' WHERE person_id = %s",
            (jose,),
        )
    with database.transaction() as cur:
        vault.erase(cur, jose, "asked to be forgotten")
        assert vault.read(cur, jose) is ERASED


def test_standings_of_several_people_come_from_one_statement(database, vault, jose, amira):
    never = uuid.uuid4()
    with database.transaction() as cur:
        vault.erase(cur, amira, "asked to be forgotten")
    with database.transaction() as cur:
        standings = vault.standings(cur, [jose, str(amira), never])
        assert standings == {jose: "registered", amira: "erased"}
        assert all(vault.standing(cur, p) == standings.get(p) for p in (jose, amira, never))
        assert vault.standings(cur, []) == {}
