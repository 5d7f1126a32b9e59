"""Schema migrations for node and hub databases: ordered, recorded, applied once each.

Run as the database's owning role; the services' role of that database (each database has
its own, see shared.config.database_roles) gets only what it needs. It can append events but
never update or delete them.
"""

from __future__ import annotations

import psycopg2

from services.reporting.projections import SCHEMA as HUB_SCHEMA
from services.reporting.projections import hub_ddl
from shared import audit
from shared.config import NODE_SERVICES
from shared.consumer import CONSUMER_DDL
from shared.eventstore import EVENTS_DDL


def _node_store(schema: str, app: str) -> str:
    return (
        EVENTS_DDL.format(schema=schema)
        + CONSUMER_DDL.format(schema=schema)
        + f"""
GRANT USAGE ON SCHEMA {schema} TO {app};
GRANT SELECT, INSERT ON {schema}.events TO {app};
GRANT USAGE, SELECT ON SEQUENCE {schema}.event_position TO {app};
GRANT SELECT, INSERT, UPDATE ON {schema}.relay_checkpoint, {schema}.consumer_checkpoints
    TO {app};
GRANT SELECT, INSERT ON {schema}.dead_letters TO {app};
GRANT USAGE ON SEQUENCE {schema}.dead_letters_id_seq TO {app};
"""
    )


def _referral_list(app: str) -> str:
    from services.referrals.projections import DDL, SCHEMA

    return DDL + f"GRANT SELECT, INSERT, UPDATE, TRUNCATE ON {SCHEMA}.referral_list TO {app};"


def _incoming_offers(app: str) -> str:
    from services.referrals.projections import OFFERS_DDL, SCHEMA

    return OFFERS_DDL + (
        f"GRANT SELECT, INSERT, UPDATE, TRUNCATE ON {SCHEMA}.incoming_offers TO {app};"
    )


def _transfers(app: str) -> str:
    from services.referrals.projections import OFFERS_ERASURE_NOTICE_DDL
    from services.referrals.transfers import OUTBOX_DDL, SCHEMA

    return (
        OUTBOX_DDL
        + OFFERS_ERASURE_NOTICE_DDL
        + f"GRANT SELECT, INSERT, DELETE ON {SCHEMA}.transfer_outbox TO {app};"
    )


def _sessions_referral_status(app: str) -> str:
    from services.sessions.tables import DDL, SCHEMA

    return DDL + (f"GRANT SELECT, INSERT, UPDATE, TRUNCATE ON {SCHEMA}.referral_status TO {app};")


def _sessions_read_model(app: str) -> str:
    from services.sessions.tables import READ_MODEL_DDL, READ_MODEL_TABLES, SCHEMA

    tables = ", ".join(f"{SCHEMA}.{table}" for table in READ_MODEL_TABLES)
    return READ_MODEL_DDL + (
        f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {tables} TO {app};"
    )


def _sessions_voids() -> str:
    from services.sessions.tables import VOIDS_DDL

    return VOIDS_DDL


def _sessions_referral_dates() -> str:
    from services.sessions.tables import REFERRAL_DATES_BACKFILL, REFERRAL_DATES_DDL

    return REFERRAL_DATES_DDL + REFERRAL_DATES_BACKFILL


def _sessions_first_contact() -> str:
    from services.sessions.tables import FIRST_CONTACT_BACKFILL, FIRST_CONTACT_DDL

    return FIRST_CONTACT_DDL + FIRST_CONTACT_BACKFILL


def _sessions_measure_referrals() -> str:
    from services.sessions.tables import MEASURE_REFERRALS_BACKFILL

    return MEASURE_REFERRALS_BACKFILL


def _sessions_group_starts(app: str) -> str:
    from services.sessions.tables import GROUP_STARTS_DDL, GROUP_STARTS_TABLE, SCHEMA

    return GROUP_STARTS_DDL + (
        f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {SCHEMA}.{GROUP_STARTS_TABLE} TO {app};"
    )


def _workers(app: str) -> str:
    from shared.workforce.roster import DDL, SCHEMA, TABLES

    tables = ", ".join(f"{SCHEMA}.{table}" for table in TABLES)
    return DDL + f"GRANT SELECT, INSERT, UPDATE, TRUNCATE ON {tables} TO {app};"


def _vault(app: str) -> str:
    from shared.vault import vault_ddl

    return vault_ddl("vault") + (
        f"GRANT USAGE ON SCHEMA vault TO {app};"
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA vault TO {app};"
    )


def _vault_key_versions(app: str) -> str:
    from shared.config import VAULT_KEEPER_SUFFIX
    from shared.vault import versioned_keys_ddl

    # The key tables pass to the database's vault keeper (shared.config.vault_keeper_role),
    # whose member the services' role is, so that the services may vacuum them after an
    # erasure. A database without that role (a scratch one) keeps its tables as they are.
    return versioned_keys_ddl("vault") + (
        f"GRANT SELECT, INSERT, UPDATE ON vault.master_key_versions TO {app};"
        f"GRANT SELECT, INSERT, DELETE ON vault.key_sweeps_due TO {app};"
        f"""
DO $$
DECLARE keeper text := current_database() || '{VAULT_KEEPER_SUFFIX}';
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = keeper) THEN
        -- the foreign keys to its tables are checked as their owner
        EXECUTE format('GRANT USAGE ON SCHEMA vault TO %I', keeper);
        -- a new owner needs CREATE on the schema at the moment it takes a table, no longer
        EXECUTE format('GRANT CREATE ON SCHEMA vault TO %I', keeper);
        EXECUTE format('ALTER TABLE vault.person_keys OWNER TO %I', keeper);
        EXECUTE format('ALTER TABLE vault.blind_index OWNER TO %I', keeper);
        EXECUTE format('REVOKE CREATE ON SCHEMA vault FROM %I', keeper);
    END IF;
END $$;
"""
    )


def _hub(app: str) -> str:
    return (
        CONSUMER_DDL.format(schema=HUB_SCHEMA)
        + hub_ddl()
        + f"""
GRANT USAGE ON SCHEMA {HUB_SCHEMA} TO {app};
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA {HUB_SCHEMA}
    TO {app};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA {HUB_SCHEMA} TO {app};
"""
    )


def _safeguarding_read_model(app: str) -> str:
    from services.safeguarding import notifications, projections

    schema = projections.SCHEMA
    tables = ", ".join(f"{schema}.{t}" for t in (*projections.TABLES, *notifications.TABLES))
    sequences = ", ".join(f"{schema}.{s}" for s in notifications.SEQUENCES)
    return (
        projections.DDL
        + notifications.DDL
        + f"GRANT SELECT, INSERT, UPDATE, TRUNCATE ON {tables} TO {app};"
        + f"GRANT USAGE ON {sequences} TO {app};"
    )


def _hub_facts(app: str) -> str:
    from services.reporting.facts import FACTS_DDL

    # the hub's projections are replayed from the partners' feeds when the workers start, so
    # the new facts table holds every event already delivered too
    return FACTS_DDL + (
        f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {HUB_SCHEMA}.facts TO {app};"
        f"DELETE FROM {HUB_SCHEMA}.consumer_checkpoints WHERE consumer = 'hub-reports';"
        f"TRUNCATE {HUB_SCHEMA}.referrals_by_month;"
    )


def _hub_referral_counter(app: str) -> str:
    from services.reporting.projections import ReferralsByMonth

    # the counter moves each referral its corrections move; where each is counted comes from
    # the facts, which hold every referral event the counter was built from
    return ReferralsByMonth.counted_ddl + (
        f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {HUB_SCHEMA}.referral_counted TO {app};"
    )


def _hub_publishes_on_the_grid(app: str) -> str:
    from services.reporting.facts import CUTOFFS_DDL
    from services.reporting.freshness import SOURCE_READS_DDL

    s = HUB_SCHEMA
    # The facts held the nodes' person and referral ids, staff user names and exact moments: they
    # are emptied and read again from the partners' feeds, which now hand over each event in
    # its hub shape (pseudonyms under each partner's own key, dates). Dead letters keep what
    # happened to them, not the envelope. Each fact read again waits for the next cut-off.
    return (
        f"ALTER TABLE {s}.facts DROP COLUMN IF EXISTS occurred_at,"
        " DROP COLUMN IF EXISTS recorded_at, DROP COLUMN IF EXISTS applied_at;"
        f"ALTER TABLE {s}.facts ADD COLUMN IF NOT EXISTS cutoff_at timestamptz;"
        f"TRUNCATE {s}.facts, {s}.referral_counted, {s}.referrals_by_month;"
        f"DELETE FROM {s}.consumer_checkpoints WHERE consumer = 'hub-reports';"
        f"UPDATE {s}.dead_letters SET envelope = jsonb_build_object('event_type', event_type)"
        " WHERE consumer = 'hub-reports';"
        + CUTOFFS_DDL
        + SOURCE_READS_DDL
        + f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {s}.cutoffs, {s}.erased_pseudonyms,"
        f" {s}.source_reads TO {app};"
    )


def _web_sessions(app: str) -> str:
    from services.web import sessions

    tables = ", ".join(f"{sessions.SCHEMA}.{t}" for t in sessions.TABLES)
    return sessions.DDL + (
        f"GRANT USAGE ON SCHEMA {sessions.SCHEMA} TO {app};"
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {app};"
    )


def _web_form_keys(app: str) -> str:
    from services.web import form_keys

    tables = ", ".join(f"{form_keys.SCHEMA}.{t}" for t in form_keys.TABLES)
    return form_keys.DDL + f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {app};"


def _web_staff_names(app: str) -> str:
    from services.web import sessions

    tables = ", ".join(f"{sessions.SCHEMA}.{t}" for t in sessions.NAMES_TABLES)
    return sessions.NAMES_DDL + f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {app};"


def node_migrations(app: str) -> list[tuple[str, str]]:
    """A node database's migrations, granting to `app` (its services' role)."""
    return [
        *((f"0001_{service}_event_store", _node_store(service, app)) for service in NODE_SERVICES),
        ("0002_referral_list", _referral_list(app)),
        ("0003_incoming_offers", _incoming_offers(app)),
        ("0004_sessions_referral_status", _sessions_referral_status(app)),
        ("0005_audit_trail", audit.DDL + audit.grants(app)),
        ("0006_people_vault", _vault(app)),
        ("0007_sessions_read_model", _sessions_read_model(app)),
        ("0008_safeguarding_read_model", _safeguarding_read_model(app)),
        ("0009_web_sessions", _web_sessions(app)),
        ("0010_workers", _workers(app)),
        ("0011_sessions_voids", _sessions_voids()),
        ("0012_sessions_referral_dates", _sessions_referral_dates()),
        ("0013_sessions_first_contact", _sessions_first_contact()),
        ("0014_sessions_group_starts", _sessions_group_starts(app)),
        ("0015_transfers_with_the_person", _transfers(app)),
        ("0016_vault_master_key_versions_and_keeper", _vault_key_versions(app)),
        ("0017_web_form_keys", _web_form_keys(app)),
        ("0018_web_staff_names", _web_staff_names(app)),
        ("0019_sessions_measure_referrals", _sessions_measure_referrals()),
    ]


def hub_migrations(app: str) -> list[tuple[str, str]]:
    """The hub database's migrations, granting to `app` (the hub services' role)."""
    return [
        ("0001_reporting", _hub(app)),
        ("0002_hub_facts", _hub_facts(app)),
        (
            "0003_facts_applied_at",
            f"ALTER TABLE {HUB_SCHEMA}.facts ADD COLUMN IF NOT EXISTS applied_at timestamptz"
            " NOT NULL DEFAULT clock_timestamp();",
        ),
        (
            # a replay copies each page of facts through a temporary staging table
            "0004_hub_temporary_tables",
            "DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO "
            + app
            + "', current_database()); END $$;",
        ),
        ("0005_hub_referral_counter_follows_corrections", _hub_referral_counter(app)),
        ("0006_hub_pseudonyms_cutoffs_and_the_grid", _hub_publishes_on_the_grid(app)),
    ]


def apply(dsn: str, migrations: list[tuple[str, str]]) -> list[str]:
    applied = []
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS public.schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            # one migrator at a time per database
            cur.execute("SELECT pg_advisory_xact_lock(727274)")
            cur.execute("SELECT name FROM public.schema_migrations")
            done = {row[0] for row in cur.fetchall()}
            for name, sql in migrations:
                if name in done:
                    continue
                cur.execute(sql)
                cur.execute("INSERT INTO public.schema_migrations (name) VALUES (%s)", (name,))
                applied.append(name)
    finally:
        conn.close()
    return applied


def migrate_node(dsn: str, app_role: str) -> list[str]:
    """Migrate a node database as its owner; `app_role` is the role its services log in as."""
    return apply(dsn, node_migrations(app_role))


def migrate_hub(dsn: str, app_role: str) -> list[str]:
    """Migrate the hub database as its owner; `app_role` is the role its services log in as."""
    return apply(dsn, hub_migrations(app_role))
