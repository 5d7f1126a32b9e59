"""The vault's rules and cryptography without a database: NHS numbers, master keys, sealing
and opening, associated data, blind-index digests."""

import base64
import uuid
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.vault import (
    IDENTIFIER_FIELDS,
    MASTER_KEY_DIR_ENV,
    MASTER_KEY_ENV,
    MASTER_KEY_FILE_ENV,
    MasterKeyError,
    MasterKeys,
    PersonKey,
    Sealed,
    VaultIntegrityError,
    generate_master_key,
    normalise_name,
    validate_identifiers,
    validate_nhs_number,
    vault_ddl,
)

pytestmark = pytest.mark.unit

# 943 476 591: 9*10 + 4*9 + 3*8 + 4*7 + 7*6 + 6*5 + 5*4 + 9*3 + 1*2 = 299, 299 mod 11 = 2, 11-2 = 9
VALID_NHS = "9434765919"
# 943 476 587: sum 308, 308 mod 11 = 0, 11-0 = 11, which stands for check digit 0
VALID_NHS_CHECK_ELEVEN = "9434765870"
# 943 476 503: sum 287, 287 mod 11 = 1, 11-1 = 10: no check digit makes a valid number
PREFIX_WITH_CHECK_TEN = "943476503"

PERSON = {
    "full_name": "José Smith",
    "preferred_name": "Jojo",
    "pronouns": "he/him",
    "date_of_birth": "1984-03-07",
    "nhs_number": VALID_NHS,
    "address": "12 Cardigan Road, Leeds",
    "postcode": "LS6 3AG",
    "phone": "07700 900123",
    "email": "jose.smith@example.org",
    "gp_practice": "Hyde Park Surgery",
    "emergency_contact": "Ana Smith, sister, 07700 900456",
    "communication_needs": "prefers text messages",
    "interpreter_language": "Portuguese",
}


PARTNER = "leeds-mind"


def new_keys(partner: str = PARTNER) -> MasterKeys:
    return MasterKeys.from_text(generate_master_key(), partner)


# -- NHS numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_number", "normalised"),
    [
        (VALID_NHS, VALID_NHS),
        (VALID_NHS_CHECK_ELEVEN, VALID_NHS_CHECK_ELEVEN),
        ("943 476 5919", VALID_NHS),
        ("943-476-5919", VALID_NHS),
        (" 943 476 5870 ", VALID_NHS_CHECK_ELEVEN),
    ],
)
def test_a_valid_nhs_number_is_normalised_to_ten_digits(given_number, normalised):
    assert validate_nhs_number(given_number) == normalised


@pytest.mark.parametrize(
    "wrong_shape",
    [
        "",
        "943476591",
        "94347659190",
        "94347659I9",
        "943.476.5919",
        "+449434765919",
        "٩٤٣٤٧٦٥٩١٩",  # Arabic-Indic digits: \d would take them, the NHS does not
    ],
)
def test_an_nhs_number_that_is_not_ten_digits_is_refused(wrong_shape):
    with pytest.raises(ValueError, match="must be 10 digits"):
        validate_nhs_number(wrong_shape)


@pytest.mark.parametrize("wrong_check", ["9434765918", "9434765871", "4934765919"])
def test_an_nhs_number_with_the_wrong_check_digit_is_refused(wrong_check):
    with pytest.raises(ValueError, match=r"check digit does not match \(modulus 11\)"):
        validate_nhs_number(wrong_check)


@pytest.mark.parametrize("last", "0123456789")
def test_no_nhs_number_is_valid_where_the_check_digit_would_be_ten(last):
    with pytest.raises(ValueError, match=r"check digit would be 10.*\(modulus 11\)"):
        validate_nhs_number(PREFIX_WITH_CHECK_TEN + last)


def _is_valid(number: str) -> bool:
    try:
        validate_nhs_number(number)
    except ValueError:
        return False
    return True


nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


@given(nine_digits)
def test_at_most_one_check_digit_completes_any_nine_digits(prefix):
    assert sum(_is_valid(prefix + last) for last in "0123456789") <= 1


@given(nine_digits, st.integers(0, 9), st.integers(1, 9))
def test_changing_one_digit_of_a_valid_nhs_number_is_always_caught(prefix, position, shift):
    valid = [prefix + last for last in "0123456789" if _is_valid(prefix + last)]
    for number in valid:
        changed = str((int(number[position]) + shift) % 10)
        mistyped = number[:position] + changed + number[position + 1 :]
        assert not _is_valid(mistyped)


# -- identifiers -----------------------------------------------------------------------------


def test_identifiers_are_normalised_and_blanks_mean_no_value():
    cleaned = validate_identifiers(
        {"nhs_number": "943 476 5919", "date_of_birth": date(1984, 3, 7), "phone": "  "}
    )
    assert cleaned == {"nhs_number": VALID_NHS, "date_of_birth": "1984-03-07", "phone": None}


def test_an_unknown_identifier_field_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown identifier field: shoe_size"):
        validate_identifiers({"full_name": "Jo", "shoe_size": "9"})


@pytest.mark.parametrize("dob", ["07/03/1984", "1984-02-30", "19840307", "yesterday"])
def test_a_date_of_birth_must_be_an_iso_date(dob):
    with pytest.raises(ValueError, match="date_of_birth must be an ISO date"):
        validate_identifiers({"date_of_birth": dob})


def test_identifier_values_must_be_text():
    with pytest.raises(ValueError, match="phone must be text"):
        validate_identifiers({"phone": 7700900123})


# -- master keys -----------------------------------------------------------------------------


def test_master_keys_load_from_the_environment_or_a_file(tmp_path):
    key = generate_master_key()
    path = tmp_path / "master.key"
    path.write_text(key + "\n")
    from_env = MasterKeys.from_environment(PARTNER, {MASTER_KEY_ENV: key})
    from_file = MasterKeys.from_environment(PARTNER, {MASTER_KEY_FILE_ENV: str(path)})
    assert from_env.nhs_number_digest(VALID_NHS) == from_file.nhs_number_digest(VALID_NHS)


def test_a_missing_master_key_names_both_ways_to_give_one():
    with pytest.raises(MasterKeyError, match=f"{MASTER_KEY_ENV}.*{MASTER_KEY_FILE_ENV}"):
        MasterKeys.from_environment(PARTNER, {})


def test_a_master_key_of_the_wrong_length_is_refused():
    short = base64.urlsafe_b64encode(b"k" * 16).decode()
    with pytest.raises(MasterKeyError, match="must decode to 32 bytes, it decodes to 16"):
        MasterKeys.from_environment(PARTNER, {MASTER_KEY_ENV: short})


def test_a_master_key_that_is_not_base64_is_refused():
    with pytest.raises(MasterKeyError, match="not urlsafe base64"):
        MasterKeys.from_environment(PARTNER, {MASTER_KEY_ENV: "not a key at all!"})


def test_an_unreadable_master_key_file_is_named(tmp_path):
    missing = tmp_path / "nowhere.key"
    with pytest.raises(MasterKeyError, match=str(missing)):
        MasterKeys.from_environment(PARTNER, {MASTER_KEY_FILE_ENV: str(missing)})


def test_a_master_key_given_twice_is_refused(tmp_path):
    with pytest.raises(MasterKeyError, match="only one of"):
        MasterKeys.from_environment(
            PARTNER,
            {MASTER_KEY_ENV: generate_master_key(), MASTER_KEY_FILE_ENV: str(tmp_path / "k")},
        )


def write_version(directory, version: int, partner: str = PARTNER) -> str:
    directory.mkdir(exist_ok=True)
    key = generate_master_key()
    (directory / f"master.{partner}.{version}.key").write_text(key + "\n")
    return key


def test_a_key_directory_gives_every_version_and_the_newest_wraps(tmp_path):
    directory = tmp_path / "keys"
    first, second = write_version(directory, 1), write_version(directory, 2)
    (directory / ".master.leeds-mind.3.key.partial").write_text("being written")
    keys = MasterKeys.from_environment(PARTNER, {MASTER_KEY_DIR_ENV: str(directory)})
    assert (keys.versions, keys.newest_version) == ((1, 2), 2)

    key = PersonKey.generate(uuid.uuid4())
    version, wrapped = keys.wrap_versioned(key)
    assert version == 2
    assert MasterKeys.from_text(second, PARTNER).unwrap(key.person_id, wrapped)._secret == (
        key._secret
    )
    older = MasterKeys.from_text(first, PARTNER).wrap(key)
    assert keys.unwrap(key.person_id, older, 1).master_version == 1
    with pytest.raises(VaultIntegrityError, match="version 2"):
        keys.unwrap(key.person_id, older, 2)


def test_a_key_directory_followed_by_a_process_takes_up_and_forgets_versions(tmp_path):
    directory = tmp_path / "keys"
    write_version(directory, 1)
    keys = MasterKeys.from_directory(directory, PARTNER)
    key = PersonKey.generate(uuid.uuid4())
    wrapped_under_1 = keys.wrap(key)

    write_version(directory, 2)
    wrapped_under_2 = MasterKeys.from_directory(directory, PARTNER).wrap(key)
    # a key wrapped under a version this process has not seen yet makes it look again
    assert keys.unwrap(key.person_id, wrapped_under_2, 2)._secret == key._secret
    assert keys.newest_version == 2

    (directory / f"master.{PARTNER}.1.key").unlink()
    keys.reload()
    assert keys.versions == (2,)
    with pytest.raises(MasterKeyError, match="version 1 of leeds-mind's master key is not held"):
        keys.unwrap(key.person_id, wrapped_under_1, 1)


def test_a_key_directory_holds_its_own_partners_keys_only(tmp_path):
    directory = tmp_path / "keys"
    write_version(directory, 1)
    write_version(directory, 1, partner="mesmac")
    with pytest.raises(MasterKeyError, match="master.mesmac.1.key, a key of another partner"):
        MasterKeys.from_directory(directory, PARTNER)


def test_an_empty_key_directory_names_the_file_to_put_in_it(tmp_path):
    with pytest.raises(MasterKeyError, match="master.leeds-mind.1.key"):
        MasterKeys.from_directory(tmp_path, PARTNER)
    with pytest.raises(MasterKeyError, match="cannot be read"):
        MasterKeys.from_directory(tmp_path / "nowhere", PARTNER)


def test_a_blind_index_digest_differs_between_versions(tmp_path):
    directory = tmp_path / "keys"
    write_version(directory, 1)
    write_version(directory, 2)
    keys = MasterKeys.from_directory(directory, PARTNER)
    assert keys.nhs_number_digest(VALID_NHS, 1) != keys.nhs_number_digest(VALID_NHS, 2)
    assert keys.nhs_number_digest(VALID_NHS) == keys.nhs_number_digest(VALID_NHS, 2)


def test_master_keys_do_not_show_themselves():
    assert repr(new_keys()) == "MasterKeys(...)"


# -- sealing ---------------------------------------------------------------------------------


def test_identifiers_round_trip_and_the_ciphertext_holds_none_of_them():
    key = PersonKey.generate(uuid.uuid4())
    sealed = key.seal_identifiers(1, PERSON)
    assert key.open_identifiers(1, sealed) == PERSON
    for value in PERSON.values():
        assert value.encode() not in sealed.ciphertext
        assert value.encode("utf-16-le") not in sealed.ciphertext


def test_ciphertext_is_padded_so_its_length_does_not_give_a_names_length():
    key = PersonKey.generate(uuid.uuid4())
    short = key.seal_identifiers(1, {"full_name": "Al Wu"})
    longer = key.seal_identifiers(1, {"full_name": "Alexandra Wulfstan"})
    assert len(short.ciphertext) == len(longer.ciphertext)


def test_sealing_the_same_text_twice_gives_different_ciphertext():
    key = PersonKey.generate(uuid.uuid4())
    text_id = uuid.uuid4()
    assert key.seal_text(text_id, "same") != key.seal_text(text_id, "same")


def test_identifiers_sealed_for_one_person_do_not_open_as_another():
    secret = PersonKey.generate(uuid.uuid4())._secret
    alice, bob = PersonKey(uuid.uuid4(), secret), PersonKey(uuid.uuid4(), secret)
    sealed = alice.seal_identifiers(1, PERSON)
    with pytest.raises(VaultIntegrityError, match=str(bob.person_id)):
        bob.open_identifiers(1, sealed)


def test_an_old_version_copied_over_a_newer_one_does_not_open():
    key = PersonKey.generate(uuid.uuid4())
    first = key.seal_identifiers(1, {"postcode": "LS6 3AG"})
    with pytest.raises(VaultIntegrityError):
        key.open_identifiers(2, first)


def test_text_does_not_open_under_another_text_id():
    key = PersonKey.generate(uuid.uuid4())
    sealed = key.seal_text(uuid.uuid4(), "talked about the move")
    with pytest.raises(VaultIntegrityError):
        key.open_text(uuid.uuid4(), sealed)


def test_an_altered_ciphertext_does_not_open():
    key = PersonKey.generate(uuid.uuid4())
    text_id = uuid.uuid4()
    sealed = key.seal_text(text_id, "note")
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(VaultIntegrityError):
        key.open_text(text_id, Sealed(sealed.nonce, flipped))


def test_a_wrapped_key_opens_only_for_its_person_and_its_master_key():
    keys = new_keys()
    key = PersonKey.generate(uuid.uuid4())
    wrapped = keys.wrap(key)
    text_id = uuid.uuid4()
    sealed = key.seal_text(text_id, "note")
    assert keys.unwrap(key.person_id, wrapped).open_text(text_id, sealed) == "note"
    with pytest.raises(VaultIntegrityError):
        keys.unwrap(uuid.uuid4(), wrapped)
    with pytest.raises(VaultIntegrityError):
        new_keys().unwrap(key.person_id, wrapped)


def test_a_key_wrapped_for_one_partner_does_not_open_as_another_partners():
    master = generate_master_key()
    leeds = MasterKeys.from_text(master, "leeds-mind")
    mesmac = MasterKeys.from_text(master, "mesmac")
    key = PersonKey.generate(uuid.uuid4())
    wrapped = leeds.wrap(key)
    assert leeds.unwrap(key.person_id, wrapped)._secret == key._secret
    # the same master key, another partner's id: the wrapping names its partner
    with pytest.raises(VaultIntegrityError, match="mesmac"):
        mesmac.unwrap(key.person_id, wrapped)
    with pytest.raises(VaultIntegrityError):
        new_keys("mesmac").unwrap(key.person_id, wrapped)


def test_a_master_key_names_its_partner():
    with pytest.raises(MasterKeyError, match="partner"):
        MasterKeys.from_text(generate_master_key(), "")


identifier_values = st.dictionaries(st.sampled_from(IDENTIFIER_FIELDS), st.text(max_size=200))


@given(identifier_values, st.integers(1, 2**31 - 1))
def test_any_identifiers_round_trip(identifiers, version):
    key = PersonKey.generate(uuid.uuid4())
    assert key.open_identifiers(version, key.seal_identifiers(version, identifiers)) == identifiers


@given(st.text())
def test_any_text_round_trips(text):
    key = PersonKey.generate(uuid.uuid4())
    text_id = uuid.uuid4()
    assert key.open_text(text_id, key.seal_text(text_id, text)) == text


# -- blind index -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("José  Smith", "jose smith"),
        ("  JOSÉ\tSMITH ", "José Smith"),
        ("Zoë Brontë", "zoe bronte"),
        ("Straße", "STRASSE"),
    ],
)
def test_equivalent_names_normalise_alike(one, other):
    assert normalise_name(one) == normalise_name(other)


def test_the_name_and_dob_digest_is_the_same_for_equivalent_names():
    keys = new_keys()
    assert keys.name_and_dob_digest("José  Smith", "1984-03-07") == keys.name_and_dob_digest(
        "jose smith", date(1984, 3, 7)
    )


def test_the_name_and_dob_digest_tells_people_apart():
    keys = new_keys()
    digest = keys.name_and_dob_digest("Jose Smith", "1984-03-07")
    assert digest != keys.name_and_dob_digest("Josie Smith", "1984-03-07")
    assert digest != keys.name_and_dob_digest("Jose Smith", "1984-03-08")


def test_the_nhs_number_digest_ignores_spacing():
    keys = new_keys()
    assert keys.nhs_number_digest("943 476 5919") == keys.nhs_number_digest(VALID_NHS)
    assert keys.nhs_number_digest(VALID_NHS) != keys.nhs_number_digest(VALID_NHS_CHECK_ELEVEN)


def test_digests_differ_between_master_keys():
    one, other = new_keys(), new_keys()
    assert one.nhs_number_digest(VALID_NHS) != other.nhs_number_digest(VALID_NHS)
    assert one.name_and_dob_digest("Jo", "1984-03-07") != other.name_and_dob_digest(
        "Jo", "1984-03-07"
    )


def test_a_person_is_indexed_by_nhs_number_and_by_name_with_date_of_birth():
    keys = new_keys()
    digests = keys.index_digests(PERSON)
    assert digests == {
        "nhs_number": keys.nhs_number_digest(VALID_NHS),
        "name_dob": keys.name_and_dob_digest("José Smith", "1984-03-07"),
    }
    assert keys.index_digests({"full_name": "José Smith"}) == {}


def test_the_schema_name_must_be_a_plain_identifier():
    with pytest.raises(ValueError, match="lower-case SQL identifier"):
        vault_ddl("people; DROP TABLE x")
    assert "CREATE TABLE IF NOT EXISTS people.person_keys" in vault_ddl("people")
