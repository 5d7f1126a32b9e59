"""The referrals service's published contract: its code lists and stored events."""

# where a node keeps the referrals service's events: a node's services share one database, and
# the sessions service reads referral events (their stored contract, contracts.referrals.events)
# from it to know each referral's status without a copy fed by the broker
SCHEMA = "referrals"
