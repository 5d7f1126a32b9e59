"""The direct identifiers a person's record may hold: kept only in the people vault, under the
person's own key. An event may say which of them changed, never what they are."""

from __future__ import annotations

IDENTIFIER_FIELDS = (
    "full_name",
    "preferred_name",
    "pronouns",
    "date_of_birth",
    "nhs_number",
    "address",
    "postcode",
    "phone",
    "email",
    "gp_practice",
    "emergency_contact",
    "communication_needs",
    "interpreter_language",
)
