"""Schema migrations for node and hub databases: ordered, recorded, applied once each.

Run as the owning role; the services' role gets only what it needs. It can append events but
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

APP_ROLE = "peerlink_app"


def _node_store(schema: str) -> str:
    return (
        EVENTS_DDL.format(schema=schema)
        + CONSUMER_DDL.format(schema=schema)
        + f"""
GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE};
GRANT SELECT, INSERT ON {schema}.events TO {APP_ROLE};
GRANT USAGE, SELECT ON SEQUENCE {schema}.event_position TO {APP_ROLE};
GRANT SELECT, INSERT, UPDATE ON {schema}.relay_checkpoint, {schema}.consumer_checkpoints
    TO {APP_ROLE};
GRANT SELECT, INSERT ON {schema}.dead_letters TO {APP_ROLE};
GRANT USAGE ON SEQUENCE {schema}.dead_letters_id_seq TO {APP_ROLE};
"""
    )


def _referral_list() -> str:
    from services.referrals.projections import DDL, SCHEMA

    return DDL + f"GRANT SELECT, INSERT, UPDATE, TRUNCATE ON {SCHEMA}.referral_list TO {APP_ROLE};"


def _incoming_offers() -> str:
    from services.referrals.projections import OFFERS_DDL, SCHEMA

    return OFFERS_DDL + (
        f"GRANT SELECT, INSERT, UPDATE, TRUNCATE ON {SCHEMA}.incoming_offers TO {APP_ROLE};"
    )


def _sessions_referral_status() -> str:
    from services.sessions.projections import DDL, SCHEMA

    return DDL + (
        f"GRANT SELECT, INSERT, UPDATE, TRUNCATE ON {SCHEMA}.referral_status TO {APP_ROLE};"
    )


def _sessions_read_model() -> str:
    from services.sessions.projections import READ_MODEL_DDL, READ_MODEL_TABLES, SCHEMA

    tables = ", ".join(f"{SCHEMA}.{table}" for table in READ_MODEL_TABLES)
    return READ_MODEL_DDL + (
        f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {tables} TO {APP_ROLE};"
    )


def _vault() -> str:
    from shared.vault import vault_ddl

    return vault_ddl("vault") + (
        f"GRANT USAGE ON SCHEMA vault TO {APP_ROLE};"
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA vault TO {APP_ROLE};"
    )


def _hub() -> str:
    return (
        CONSUMER_DDL.format(schema=HUB_SCHEMA)
        + hub_ddl()
        + f"""
GRANT USAGE ON SCHEMA {HUB_SCHEMA} TO {APP_ROLE};
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA {HUB_SCHEMA}
    TO {APP_ROLE};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA {HUB_SCHEMA} TO {APP_ROLE};
"""
    )


NODE_MIGRATIONS: list[tuple[str, str]] = [
    (f"0001_{service}_event_store", _node_store(service)) for service in NODE_SERVICES
]
NODE_MIGRATIONS.append(("0002_referral_list", _referral_list()))
NODE_MIGRATIONS.append(("0003_incoming_offers", _incoming_offers()))
NODE_MIGRATIONS.append(("0004_sessions_referral_status", _sessions_referral_status()))
NODE_MIGRATIONS.append(("0005_audit_trail", audit.DDL + audit.grants(APP_ROLE)))
NODE_MIGRATIONS.append(("0006_people_vault", _vault()))
NODE_MIGRATIONS.append(("0007_sessions_read_model", _sessions_read_model()))


def _safeguarding_read_model() -> str:
    from services.safeguarding import notifications, projections

    schema = projections.SCHEMA
    tables = ", ".join(f"{schema}.{t}" for t in (*projections.TABLES, *notifications.TABLES))
    sequences = ", ".join(f"{schema}.{s}" for s in notifications.SEQUENCES)
    return (
        projections.DDL
        + notifications.DDL
        + f"GRANT SELECT, INSERT, UPDATE, TRUNCATE ON {tables} TO {APP_ROLE};"
        + f"GRANT USAGE ON {sequences} TO {APP_ROLE};"
    )


NODE_MIGRATIONS.append(("0008_safeguarding_read_model", _safeguarding_read_model()))


def _hub_facts() -> str:
    from services.reporting.facts import FACTS_DDL

    # the hub's projections are replayed from the partners' feeds when the workers start, so
    # the new facts table holds every event already delivered too
    return FACTS_DDL + (
        f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {HUB_SCHEMA}.facts TO {APP_ROLE};"
        f"DELETE FROM {HUB_SCHEMA}.consumer_checkpoints WHERE consumer = 'hub-reports';"
        f"TRUNCATE {HUB_SCHEMA}.referrals_by_month;"
    )


HUB_MIGRATIONS: list[tuple[str, str]] = [("0001_reporting", _hub())]
HUB_MIGRATIONS.append(("0002_hub_facts", _hub_facts()))
HUB_MIGRATIONS.append(
    (
        "0003_facts_applied_at",
        f"ALTER TABLE {HUB_SCHEMA}.facts ADD COLUMN IF NOT EXISTS applied_at timestamptz"
        " NOT NULL DEFAULT clock_timestamp();",
    )
)
HUB_MIGRATIONS.append(
    (
        # a replay copies each page of facts through a temporary staging table
        "0004_hub_temporary_tables",
        "DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO "
        + APP_ROLE
        + "', current_database()); END $$;",
    )
)


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


def migrate_node(dsn: str) -> list[str]:
    return apply(dsn, NODE_MIGRATIONS)


def migrate_hub(dsn: str) -> list[str]:
    return apply(dsn, HUB_MIGRATIONS)
