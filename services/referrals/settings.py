"""What a partner sets for its referrals service, read once as the service starts
(shared/settings.py): a setting missing or invalid stops it, naming the variable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shared.settings import iso_date, optional_http_url, positive, setting


@dataclass(frozen=True)
class ReferralSettings:
    # a worker over this many open referrals is named in a warning and on the caseload list
    caseload_cap: int = setting("PEERLINK_CASELOAD_CAP", "25", int, positive, "above 0")
    # No date a worker gives may be earlier than this: a typed year such as 0006 is refused,
    # not kept to skew every wait. A partner whose records start earlier sets it earlier.
    earliest_date: date = setting("PEERLINK_EARLIEST_DATE", "2000-01-01", iso_date)
    # first contact is due within this many working days of a referral's receipt
    first_contact_working_days: int = setting(
        "PEERLINK_FIRST_CONTACT_WORKING_DAYS", "5", int, positive, "above 0"
    )
    # a person is due for review this many years after their last contact
    retention_years: int = setting("PEERLINK_RETENTION_YEARS", "20", int, positive, "above 0")
    # the node's sessions service, asked for a person's open sessions and plans at discharge;
    # unset, a discharge warns that they were not checked
    sessions_url: str | None = setting("PEERLINK_SESSIONS_URL", "", optional_http_url)
