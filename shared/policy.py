"""Who may do what: every role rule of Peerlink in one place, each named after what it allows.

Routes name one of these (`@route(..., roles=policy.MAY_...)`); `tests/e2e/test_access_matrix.py`
tries every role against every route of every service. Record-level rules, which need the
record (a peer worker sees the people on their own caseload), live beside the service that holds
the records (`services/sessions/access.py`, `PeopleApi._may_see`, `ReferralsService._load`)
and build on these. A token's partner must be the node's (another partner's record is 404).
"""

from __future__ import annotations

PEER_WORKER = "peer_worker"
TEAM_LEAD = "team_lead"
PARTNER_ADMIN = "partner_admin"
SAFEGUARDING_LEAD = "safeguarding_lead"
ALLIANCE_ANALYST = "alliance_analyst"
OPERATOR = "operator"
SERVICE = "service"

# -- referrals ---------------------------------------------------------------------------------
MAY_RECORD_REFERRALS = (PEER_WORKER, TEAM_LEAD, PARTNER_ADMIN)
MAY_READ_REFERRALS = (PEER_WORKER, TEAM_LEAD, PARTNER_ADMIN, SAFEGUARDING_LEAD)
MAY_DECIDE_REFERRALS = (TEAM_LEAD, PARTNER_ADMIN)  # accept, decline, allocate, offer, close
MAY_WORK_REFERRALS = (PEER_WORKER, TEAM_LEAD, PARTNER_ADMIN)  # first contact, hold, discharge
MAY_READ_CASELOADS = (TEAM_LEAD, PARTNER_ADMIN)

# -- the workforce (who may be named as a worker) ------------------------------------------------
MAY_MANAGE_WORKERS = (PARTNER_ADMIN,)
MAY_READ_WORKERS = (TEAM_LEAD, PARTNER_ADMIN)

# -- people ------------------------------------------------------------------------------------
MAY_READ_PEOPLE = (PEER_WORKER, TEAM_LEAD, PARTNER_ADMIN, SAFEGUARDING_LEAD)
MAY_CHANGE_PEOPLE = (PEER_WORKER, TEAM_LEAD, PARTNER_ADMIN)
MAY_SEARCH_PEOPLE = (PEER_WORKER, TEAM_LEAD, PARTNER_ADMIN)
MAY_READ_PERSON_HISTORY = (TEAM_LEAD, PARTNER_ADMIN)
MAY_ERASE_PEOPLE = (PARTNER_ADMIN,)
MAY_EXPORT_PEOPLE = (PARTNER_ADMIN,)
MAY_REVIEW_RETENTION = (PARTNER_ADMIN,)
MAY_READ_AUDIT = (PARTNER_ADMIN,)

# -- sessions, groups, plans, signposting, measures ------------------------------------------------
MAY_READ_SESSIONS = (PEER_WORKER, TEAM_LEAD, PARTNER_ADMIN)
MAY_RECORD_SESSIONS = (PEER_WORKER, TEAM_LEAD, PARTNER_ADMIN)

# -- safeguarding ------------------------------------------------------------------------------
# any worker raises a concern (or flags a suggested one) and follows those they raised
MAY_RAISE_CONCERNS = (PEER_WORKER, TEAM_LEAD, SAFEGUARDING_LEAD, PARTNER_ADMIN)
# acknowledge, decide, act, close, and see every concern of the partner; team leads deputise
MAY_LEAD_SAFEGUARDING = (SAFEGUARDING_LEAD, TEAM_LEAD)

# -- the hub -----------------------------------------------------------------------------------
MAY_READ_REPORTS = (ALLIANCE_ANALYST,)
MAY_READ_REPORT_FRESHNESS = (ALLIANCE_ANALYST, OPERATOR)
# exact positions in each partner's stores say how much it records and when: operators only
MAY_READ_SOURCE_POSITIONS = (OPERATOR,)
MAY_READ_CUTOFFS = (ALLIANCE_ANALYST, OPERATOR)
# publishing a cut-off freezes a new set of figures: the hub's operators (and a daily schedule)
MAY_PUBLISH_CUTOFFS = (OPERATOR,)
MAY_READ_INTERNAL_COUNTS = (SERVICE,)

# -- operations --------------------------------------------------------------------------------
MAY_READ_METRICS = (OPERATOR,)
MAY_READ_EVENT_FEED = (SERVICE,)
