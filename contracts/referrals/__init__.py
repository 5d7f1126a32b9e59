"""The referrals service's published contract: its code lists and stored events."""

# where a node keeps the referrals service's events. A node's services share one database: the
# sessions service's view of each referral's status (sessions.referral_status) is fed by the
# referral events the broker delivers to the node worker, which reads a gap in them (their
# stored contract, contracts.referrals.events) straight from this schema, as the sessions
# migrations' backfills of referral dates do
SCHEMA = "referrals"
