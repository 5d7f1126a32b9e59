"""The sessions service's tables in its own schema of the node's database, as the migrations
(deploy/migrations.py) create them: what it knows of each referral, and the read models its
projections keep (lists, attendance, groups' people, plans, signposting, each person's
timeline, the claims on a group's start)."""

from __future__ import annotations

from contracts.referrals import SCHEMA as REFERRALS_SCHEMA
from contracts.sessions.codes import BOOKED, HELD

SCHEMA = "sessions"

DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.referral_status (
    referral_id  text PRIMARY KEY,
    person_id    uuid NOT NULL,
    status       text NOT NULL,
    worker_id    text,
    version      integer NOT NULL
);
"""

# the referral's own timeline, so a session for it is dated within it: the day it was received
# and, once it ended (discharged, closed or transferred), the day it ended
REFERRAL_DATES_DDL = f"""
ALTER TABLE {SCHEMA}.referral_status ADD COLUMN IF NOT EXISTS received_on date;
ALTER TABLE {SCHEMA}.referral_status ADD COLUMN IF NOT EXISTS ended_on date;
"""
# referrals learnt before their dates were kept take them from the referrals store (same
# database), the latest correction standing
REFERRAL_DATES_BACKFILL = f"""
UPDATE {SCHEMA}.referral_status r SET
    received_on = (
        SELECT (CASE e.event_type WHEN 'ReferralReceived' THEN e.payload->>'received_on'
                ELSE e.payload->>'value' END)::date
        FROM {REFERRALS_SCHEMA}.events e
        WHERE e.stream_type = 'referral' AND e.stream_id = r.referral_id
          AND (e.event_type = 'ReferralReceived' OR (e.event_type = 'ReferralCorrected'
               AND e.payload->>'field' = 'received_on'))
        ORDER BY e.version DESC LIMIT 1),
    ended_on = (
        SELECT (CASE e.event_type
                WHEN 'ReferralDischarged' THEN e.payload->>'discharged_on'
                WHEN 'ReferralClosedWithoutContact' THEN e.payload->>'closed_on'
                WHEN 'ReferralTransferred' THEN e.payload->>'transferred_on'
                ELSE e.payload->>'value' END)::date
        FROM {REFERRALS_SCHEMA}.events e
        WHERE e.stream_type = 'referral' AND e.stream_id = r.referral_id
          AND (e.event_type IN ('ReferralDischarged', 'ReferralClosedWithoutContact',
                                'ReferralTransferred')
               OR (e.event_type = 'ReferralCorrected' AND e.payload->>'field' IN
                   ('discharged_on', 'closed_on', 'transferred_on')))
        ORDER BY e.version DESC LIMIT 1);
"""

# the day of the referral's first contact (and its corrections): no one-to-one or carer session
# for it is dated earlier
FIRST_CONTACT_DDL = f"""
ALTER TABLE {SCHEMA}.referral_status ADD COLUMN IF NOT EXISTS first_contact_on date;
"""
FIRST_CONTACT_BACKFILL = f"""
UPDATE {SCHEMA}.referral_status r SET
    first_contact_on = (
        SELECT (CASE e.event_type WHEN 'FirstContactMade' THEN e.payload->>'contacted_on'
                ELSE e.payload->>'value' END)::date
        FROM {REFERRALS_SCHEMA}.events e
        WHERE e.stream_type = 'referral' AND e.stream_id = r.referral_id
          AND (e.event_type = 'FirstContactMade' OR (e.event_type = 'ReferralCorrected'
               AND e.payload->>'field' = 'first_contact_on'))
        ORDER BY e.version DESC LIMIT 1);
"""

READ_MODEL_DDL = f"""
CREATE INDEX IF NOT EXISTS referral_status_person ON {SCHEMA}.referral_status (person_id);
CREATE TABLE IF NOT EXISTS {SCHEMA}.session_list (
    session_id          text PRIMARY KEY,
    kind                text NOT NULL,
    status              text NOT NULL,
    mode                text NOT NULL,
    medium_code         text NOT NULL,
    location            text NOT NULL,
    worker_ids          text[] NOT NULL,
    referral_id         text,
    person_id           uuid,
    group_id            text,
    -- when it started, or is planned to
    starts_at           timestamptz NOT NULL,
    duration_minutes    integer NOT NULL,
    anonymous_attendees integer,
    cancelled_by        text,
    version             integer NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS session_list_starts ON {SCHEMA}.session_list (starts_at);
CREATE INDEX IF NOT EXISTS session_list_workers ON {SCHEMA}.session_list USING gin (worker_ids);
CREATE INDEX IF NOT EXISTS session_list_group ON {SCHEMA}.session_list (group_id, starts_at);
CREATE INDEX IF NOT EXISTS session_list_person ON {SCHEMA}.session_list (person_id);
CREATE TABLE IF NOT EXISTS {SCHEMA}.attendance (
    session_id       text NOT NULL,
    person_id        uuid NOT NULL,
    status           text NOT NULL,
    attendance_code  text NOT NULL,
    is_corrected     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (session_id, person_id)
);
CREATE INDEX IF NOT EXISTS attendance_person ON {SCHEMA}.attendance (person_id);
CREATE TABLE IF NOT EXISTS {SCHEMA}.group_list (
    group_id          text PRIMARY KEY,
    name              text NOT NULL,
    kind              text NOT NULL,
    status            text NOT NULL,
    capacity          integer NOT NULL,
    members           integer NOT NULL DEFAULT 0,
    waiting           integer NOT NULL DEFAULT 0,
    facilitator_ids   text[] NOT NULL,
    sessions_planned  integer,
    created_on        date NOT NULL,
    version           integer NOT NULL
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.group_people (
    group_id   text NOT NULL,
    person_id  uuid NOT NULL,
    place      text NOT NULL CHECK (place IN ('member', 'waiting')),
    since      date NOT NULL,
    PRIMARY KEY (group_id, person_id)
);
CREATE INDEX IF NOT EXISTS group_people_person ON {SCHEMA}.group_people (person_id);
CREATE TABLE IF NOT EXISTS {SCHEMA}.plan_list (
    plan_id               text PRIMARY KEY,
    person_id             uuid NOT NULL,
    kind                  text NOT NULL,
    status                text NOT NULL,
    revision              integer NOT NULL,
    referral_id           text,
    drafted_on            date NOT NULL,
    last_reviewed_on      date,
    review_interval_days  integer NOT NULL,
    review_due_on         date,
    version               integer NOT NULL
);
CREATE INDEX IF NOT EXISTS plan_list_person ON {SCHEMA}.plan_list (person_id);
CREATE INDEX IF NOT EXISTS plan_list_due ON {SCHEMA}.plan_list (review_due_on)
    WHERE status = 'open';
CREATE TABLE IF NOT EXISTS {SCHEMA}.signposting_list (
    signposting_id  text PRIMARY KEY,
    person_id       uuid NOT NULL,
    destination     text NOT NULL,
    outcome         text NOT NULL,
    signposted_on   date NOT NULL,
    referral_id     text,
    session_id      text,
    version         integer NOT NULL
);
CREATE INDEX IF NOT EXISTS signposting_list_person ON {SCHEMA}.signposting_list (person_id);
-- one row per event about a person: what their timeline shows, coded, never free text
CREATE TABLE IF NOT EXISTS {SCHEMA}.timeline (
    position     bigint NOT NULL,
    person_id    uuid NOT NULL,
    happened_at  timestamptz NOT NULL,
    stream_type  text NOT NULL,
    stream_id    text NOT NULL,
    event_type   text NOT NULL,
    detail       jsonb NOT NULL,
    PRIMARY KEY (person_id, position)
);
CREATE INDEX IF NOT EXISTS timeline_when ON {SCHEMA}.timeline (person_id, happened_at);
"""

# records withdrawn as made in error stay, marked, so lists and timelines can leave them out
VOIDS_DDL = f"""
ALTER TABLE {SCHEMA}.signposting_list ADD COLUMN IF NOT EXISTS is_voided boolean NOT NULL
    DEFAULT false;
ALTER TABLE {SCHEMA}.timeline ADD COLUMN IF NOT EXISTS is_voided boolean NOT NULL DEFAULT false;
"""

# a group meets once at a time: each standing (booked or held) session of a group claims its
# start, and the primary key refuses a second claim even when two requests pass the domain's
# check at the same moment. Sessions recorded twice before the claims existed keep standing
# (the first of each pair claims the start); they are voided as duplicates by a worker.
GROUP_STARTS_TABLE = "group_session_starts"
# a measure's referral and day on its timeline row, so a referral's first measure is read from
# the read model (the referrals service bounds a correction of first contact by it); rows made
# before take them from this service's own events
MEASURE_REFERRALS_BACKFILL = f"""
UPDATE {SCHEMA}.timeline t SET detail = t.detail || jsonb_build_object(
    'referral_id', e.payload->'referral_id', 'taken_on', e.payload->'taken_on')
FROM {SCHEMA}.events e
WHERE e.position = t.position AND t.stream_type = 'person_measures'
  AND t.event_type = 'MeasureRecorded' AND NOT (t.detail ? 'taken_on');
"""

GROUP_STARTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.group_session_starts (
    group_id    text NOT NULL,
    starts_at   timestamptz NOT NULL,
    session_id  text NOT NULL UNIQUE,
    PRIMARY KEY (group_id, starts_at)
);
INSERT INTO {SCHEMA}.group_session_starts (group_id, starts_at, session_id)
SELECT DISTINCT ON (group_id, starts_at) group_id, starts_at, session_id
FROM {SCHEMA}.session_list
WHERE group_id IS NOT NULL AND status IN ('{BOOKED}', '{HELD}')
ORDER BY group_id, starts_at, session_id
ON CONFLICT DO NOTHING;
"""

READ_MODEL_TABLES = (
    "session_list",
    "attendance",
    "group_list",
    "group_people",
    "plan_list",
    "signposting_list",
    "timeline",
)
