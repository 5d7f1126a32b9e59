"""Brings a local alliance up and down on one machine: PostgreSQL and RabbitMQ on loopback,
databases, vhosts, topology and federation, migrations, and every service of three partner
nodes and the hub. `deploy/up`, `deploy/test` and `deploy/down` call this.

Stacks never collide: `dev` (the ports in README.md), `test` (the same map + 10000) and the
spare `alt` (+2000), `alt2` (+3000), `alt3` (+4000), `alt4` (+5000), `alt5` (+6000) and `alt6`
(+7000).
Everything a stack starts is recorded in run/<stack>/pids and only that is ever stopped.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy import idp  # noqa: E402
from shared.auth import HUB_PARTNER  # noqa: E402
from shared.config import (  # noqa: E402
    HUB_AUDIENCE,
    HUB_BROKER_USER,
    HUB_VHOST,
    NODE_SERVICES,
    PARTNERS,
    broker_user,
    database_name,
    database_roles,
    federation_user,
    hub_ports,
    node_audience,
    node_ports,
    vault_keeper_role,
)
from shared.topology import broker_users, definitions  # noqa: E402
from shared.transfer_keys import generate_transfer_key, public_key_of  # noqa: E402

HUB_DATABASE = "peerlink_hub"
SERVICE_CLASSES = {
    "referrals": "services.referrals.service:ReferralsService",
    "sessions": "services.sessions.service:SessionsService",
    "safeguarding": "services.safeguarding.service:SafeguardingService",
    "reporting": "services.reporting.service:ReportingService",
    "web": "services.web.service:WebService",
}


def service_command(service: str) -> list[str]:
    """How a nameko service of this checkout is run (its HTTP address and the rest come from
    the PEERLINK_* environment): as `nameko run` runs it, but stopping at once on SIGTERM."""
    return [
        str(ROOT / ".venv" / "bin" / "python"),
        "-m",
        "shared.runner",
        "--config",
        str(ROOT / "deploy" / "nameko.yml"),
        SERVICE_CLASSES[service],
    ]


@dataclass(frozen=True)
class Stack:
    name: str
    port_base: int
    pg_port: int
    amqp_port: int

    @property
    def run(self) -> Path:
        return ROOT / "run" / self.name

    @property
    def rabbit_node(self) -> str:
        return f"peerlink-{self.name}@localhost"


# Server ports sit below Linux's ephemeral range (32768+), where a client's own outgoing
# connection could already hold them.
STACKS = {
    "dev": Stack("dev", 0, 15432, 15600),
    "test": Stack("test", 10000, 25432, 25600),
    # spare stacks for working on the stack itself beside a running dev and test stack
    "alt": Stack("alt", 2000, 17432, 17600),
    "alt2": Stack("alt2", 3000, 18432, 18600),
    "alt3": Stack("alt3", 4000, 19432, 19600),
    "alt4": Stack("alt4", 5000, 20432, 20600),
    "alt5": Stack("alt5", 6000, 21432, 21600),
    "alt6": Stack("alt6", 7000, 22432, 22600),
}


def say(message: str) -> None:
    print(f"[peerlink] {message}", flush=True)


def run(cmd: list[str], check=True, env=None, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, **kw)
    if check and result.returncode != 0:
        raise SystemExit(
            f"command failed ({result.returncode}): {' '.join(cmd)}\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


def secret(stack: Stack, name: str, make=lambda: secrets.token_urlsafe(32)) -> str:
    path = stack.run / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


# -- PostgreSQL --------------------------------------------------------------------------------


def pg_bin(tool: str) -> str:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"), key=lambda p: int(p.parts[-3])
    )
    if not candidates:
        raise SystemExit("PostgreSQL is not installed: run deploy/up or deploy/test")
    return str(candidates[-1])


def as_postgres(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return run(["runuser", "-u", "postgres", "--", *cmd], cwd="/", **kw)


def start_postgres(stack: Stack) -> None:
    pg = stack.run / "pg"
    data = pg / "data"
    pg.mkdir(parents=True, exist_ok=True)
    shutil.chown(pg, "postgres", "postgres")
    if not (data / "PG_VERSION").exists():
        say(f"initialising PostgreSQL in {data}")
        admin_pw = secret(stack, "postgres_admin")
        pwfile = pg / "pwfile"
        pwfile.write_text(admin_pw)
        shutil.chown(pwfile, "postgres", "postgres")
        as_postgres(
            [
                pg_bin("initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
            ]
        )
        pwfile.unlink()
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# Peerlink: loopback only\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {stack.pg_port}\n"
                f"unix_socket_directories = '{pg}'\n"
                "max_connections = 300\n"
                # a forgotten open transaction would hold event followers at a hole
                "idle_in_transaction_session_timeout = '60s'\n"
                "shared_buffers = '256MB'\n"
            )
    if _running(_postmaster_pid(data)):
        say(f"PostgreSQL already running on 127.0.0.1:{stack.pg_port}")
        wait_for_postgres(stack)  # still recovering, perhaps, from a crash
        return
    clear_after_crash(stack)
    say(f"starting PostgreSQL on 127.0.0.1:{stack.pg_port}")
    (stack.run / "pids").mkdir(exist_ok=True)
    (stack.run / "pids" / "postgres.managed").write_text(str(data))
    as_postgres(
        [
            pg_bin("pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(pg / "postgres.log"),
            "-w",
            "-t",
            "60",
            "start",
        ]
    )
    (stack.run / "pids").mkdir(exist_ok=True)
    (stack.run / "pids" / "postgres.managed").write_text(str(data))
    wait_for_postgres(stack)


# How long a crashed server's backends may take to notice and exit before they are ended, and
# how long a server may take to accept connections (crash recovery replays the WAL first).
LEFTOVER_SECONDS = 15.0
POSTGRES_READY_SECONDS = 90.0


def _postmaster_pid(data: Path) -> int:
    try:
        return int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return 0


def _running(pid: int) -> bool:
    """Alive and not a zombie (a killed process its parent has not reaped yet still answers
    signal 0, and would pass for a running server)."""
    if not _alive(pid):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _processes_in(directory: Path) -> list[int]:
    """The processes whose working directory is `directory` (a server's are in its data)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "cwd")) == directory and _running(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def clear_after_crash(stack: Stack) -> None:
    """What a server killed outright (SIGKILL, a power cut) leaves behind: its backends, which
    exit once they notice (ended after LEFTOVER_SECONDS), and its postmaster.pid and socket lock
    files, which name a process that is gone. A new server refuses to start beside either."""
    pg = stack.run / "pg"
    data = (pg / "data").resolve()
    if not (data / "postmaster.pid").exists():
        return
    say("PostgreSQL was not stopped cleanly: clearing what it left behind")
    deadline = time.monotonic() + LEFTOVER_SECONDS
    while _processes_in(data) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in _processes_in(data):
        say(f"ending process {pid}, left behind by the crashed server")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    while _processes_in(data) and time.monotonic() < deadline + 5:
        time.sleep(0.1)
    (data / "postmaster.pid").unlink(missing_ok=True)
    for lock in pg.glob(".s.PGSQL.*.lock"):
        if not _running(_postmaster_pid_in_lock(lock)):
            lock.unlink(missing_ok=True)
            Path(str(lock).removesuffix(".lock")).unlink(missing_ok=True)


def _postmaster_pid_in_lock(lock: Path) -> int:
    try:
        return int(lock.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return 0


def wait_for_postgres(stack: Stack, timeout: float = POSTGRES_READY_SECONDS) -> None:
    """Until the server accepts connections on its socket and its port (not merely started:
    after a crash it first replays its WAL)."""
    deadline = time.monotonic() + timeout
    while True:
        ready = [
            as_postgres(
                [pg_bin("pg_isready"), "-h", host, "-p", str(stack.pg_port), "-t", "2", "-q"],
                check=False,
            ).returncode
            == 0
            for host in (str(stack.run / "pg"), "127.0.0.1")
        ]
        if all(ready):
            return
        if time.monotonic() > deadline:
            raise SystemExit(
                f"PostgreSQL did not accept connections in {timeout:.0f}s;"
                f" see {stack.run / 'pg' / 'postgres.log'}"
            )
        time.sleep(0.3)


def psql(stack: Stack, sql: str, database: str = "postgres") -> str:
    result = as_postgres(
        [
            pg_bin("psql"),
            "-h",
            str(stack.run / "pg"),
            "-p",
            str(stack.pg_port),
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-qAt",
            "-c",
            sql,
        ]
    )
    return result.stdout.strip()


# The deploy step's own login: creates scratch databases for the tests and opens none of the
# alliance's. No service is ever given it.
ADMIN_ROLE = "peerlink_admin"


def alliance_databases(partners=PARTNERS) -> list[str]:
    return [*(database_name(p) for p in partners), HUB_DATABASE]


def database_logins(partners=PARTNERS) -> list[str]:
    """Every login role of the alliance's databases: an owner and a services' role each."""
    return [role for db in alliance_databases(partners) for role in database_roles(db)]


def create_roles_and_databases(sql, passwords: dict[str, str], partners=PARTNERS) -> None:
    """Roles and databases of an alliance; `sql(statement)` runs as a superuser and returns
    what the statement selected (falsy when nothing). `passwords` holds one for ADMIN_ROLE and
    for each role of `database_logins()`.

    Each database is a tenant of its own: its owner (migrations) and its services' role may
    connect to it, nobody else (not PUBLIC, not the other databases' roles, not the admin)."""

    def login(role: str, extra: str = "") -> None:
        verb = "ALTER" if sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'") else "CREATE"
        sql(f"{verb} ROLE {role} LOGIN PASSWORD '{passwords[role]}'{extra}")

    login(ADMIN_ROLE, " CREATEDB")
    # dropping a scratch database ends what still holds it, whichever role that is
    sql(f"GRANT pg_signal_backend TO {ADMIN_ROLE}")
    # the maintenance database is for the admin alone
    sql("REVOKE CONNECT ON DATABASE postgres FROM PUBLIC")
    sql(f"GRANT CONNECT ON DATABASE postgres TO {ADMIN_ROLE}")
    for db in alliance_databases(partners):
        owner, app = database_roles(db)
        login(owner)
        login(app)
        found = sql(f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{db}'")
        found = found[0] if isinstance(found, tuple) else found
        if not found:
            sql(f"CREATE DATABASE {db} OWNER {owner}")
        elif found != owner:
            raise SystemExit(
                f"database {db} belongs to {found}, from before each database had roles of its"
                " own (and each partner its own vault key): stop this stack and remove its data"
                " (deploy/stack.py down, then delete run/<stack>) to start it afresh"
            )
        sql(f"REVOKE ALL ON DATABASE {db} FROM PUBLIC")
        sql(f"GRANT CONNECT ON DATABASE {db} TO {owner}, {app}")
        if db != HUB_DATABASE:
            # owns the vault's key tables (a migration hands them over), so that the services
            # may vacuum them once an erasure commits
            keeper = vault_keeper_role(db)
            if not sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{keeper}'"):
                sql(f"CREATE ROLE {keeper} NOLOGIN")
            sql(f"GRANT {keeper} TO {owner}, {app}")


def master_key_dir(stack: Stack, partner: str) -> Path:
    """A partner's own people-vault master key directory, one file per version (the hub keeps
    no vault; deploy/rotate-master-key adds and destroys versions)."""
    return stack.run / "secrets" / "master-keys" / partner


def ensure_master_keys(stack: Stack) -> None:
    """A first master key version for each partner that has none. A stack from before
    versions kept a single key in secrets/master.<partner>.key: it moves in as version 1."""
    from shared.key_rotation import add_master_key_version
    from shared.vault import master_key_file_name, master_key_versions_in

    for partner in PARTNERS:
        directory = master_key_dir(stack, partner)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if master_key_versions_in(directory, partner):
            continue
        single = stack.run / "secrets" / f"master.{partner}.key"
        if single.exists():
            os.link(single, directory / master_key_file_name(partner, 1))
            single.unlink()  # one copy of a key, so that destroying it destroys it
        else:
            add_master_key_version(directory, partner)


def transfer_key_file(stack: Stack, partner: str) -> Path:
    """A partner's own private key for the records other partners seal for it."""
    return stack.run / "secrets" / f"transfer.{partner}.key"


def hub_pseudonym_key_file(stack: Stack, partner: str) -> Path:
    """A partner's own key for the pseudonyms its node sends the hub (made when missing); the
    hub never holds it."""
    name = f"hub-pseudonyms.{partner}.key"
    secret(stack, name)
    return stack.run / "secrets" / name


def rounding_key_file(stack: Stack) -> Path:
    """The hub's own key for rounding published counts (made when missing)."""
    secret(stack, "hub.rounding.key")
    return stack.run / "secrets" / "hub.rounding.key"


def transfer_public_keys(stack: Stack) -> dict[str, str]:
    """Every partner's public transfer key, each made with its private half when missing:
    what every node is told (PEERLINK_TRANSFER_PUBLIC_KEYS) to seal for the others."""
    public = {}
    for partner in PARTNERS:
        private = secret(stack, transfer_key_file(stack, partner).name, generate_transfer_key)
        public[partner] = secret(
            stack, f"transfer.{partner}.pub", lambda private=private: public_key_of(private)
        )
    return public


def database_password(stack: Stack, role: str) -> str:
    return secret(stack, "db_admin" if role == ADMIN_ROLE else f"db.{role}")


def ensure_databases(stack: Stack) -> None:
    create_roles_and_databases(
        lambda statement: psql(stack, statement),
        {role: database_password(stack, role) for role in [ADMIN_ROLE, *database_logins()]},
    )
    idp.create_database(lambda statement: psql(stack, statement), stack)


def dsn(stack: Stack, database: str, role: str | None = None) -> str:
    """A login to `database`: as its services' role unless another role is named."""
    role = role or database_roles(database)[1]
    pw = database_password(stack, role)
    return f"postgresql://{role}:{pw}@127.0.0.1:{stack.pg_port}/{database}"


def owner_dsn(stack: Stack, database: str) -> str:
    return dsn(stack, database, database_roles(database)[0])


# -- RabbitMQ ----------------------------------------------------------------------------------

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


def rabbit_env(stack: Stack) -> dict:
    base = stack.run / "rabbitmq"
    return {
        **os.environ,
        "RABBITMQ_NODENAME": stack.rabbit_node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(stack.amqp_port),
        "RABBITMQ_DIST_PORT": str(stack.amqp_port + 1),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "HOME": os.environ.get("HOME", "/root"),
    }


def rabbitmqctl(stack: Stack, *args: str, check=True) -> subprocess.CompletedProcess:
    return run(
        [str(RABBIT_BIN / "rabbitmqctl"), "-n", stack.rabbit_node, *args],
        env=rabbit_env(stack),
        check=check,
    )


def start_rabbitmq(stack: Stack) -> None:
    base = stack.run / "rabbitmq"
    (base / "log").mkdir(parents=True, exist_ok=True)
    (base / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{stack.amqp_port}\n"
        "loopback_users.guest = true\n"
        f"prometheus.tcp.port = {stack.amqp_port + 2}\n"
        "prometheus.tcp.ip = 127.0.0.1\n"
        "log.file.level = warning\n"
    )
    (base / "enabled_plugins").write_text(
        "[rabbitmq_federation,rabbitmq_shovel,rabbitmq_prometheus].\n"
    )
    pidfile = base / "rabbitmq.pid"
    if pidfile.exists() and _running(int(pidfile.read_text().strip() or 0)):
        say(f"RabbitMQ already running on 127.0.0.1:{stack.amqp_port}")
    else:
        say(f"starting RabbitMQ on 127.0.0.1:{stack.amqp_port} (about 20 s)")
        (stack.run / "pids").mkdir(exist_ok=True)
        (stack.run / "pids" / "rabbitmq.managed").write_text(str(pidfile))
        run([str(RABBIT_BIN / "rabbitmq-server"), "-detached"], env=rabbit_env(stack))
    rabbitmqctl(stack, "wait", "--timeout", "120", str(pidfile))
    rabbitmqctl(stack, "await_startup", "--timeout", "120")


def rabbit_password_hash(password: str) -> str:
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def broker_password(stack: Stack, user: str) -> str:
    return secret(stack, f"amqp.{user}")


def amqp_url(stack: Stack, vhost: str, user: str | None = None) -> str:
    """A login to a vhost: as the user of its partner's node (or the hub's) unless another
    user is named."""
    user = user or (HUB_BROKER_USER if vhost == HUB_VHOST else broker_user(vhost))
    password = broker_password(stack, user)
    return f"amqp://{user}:{password}@127.0.0.1:{stack.amqp_port}/{vhost}"


def ensure_topology(stack: Stack) -> None:
    spec = definitions(
        {user: rabbit_password_hash(broker_password(stack, user)) for user in broker_users()},
        lambda partner: amqp_url(stack, partner, federation_user(partner)),
    )
    path = stack.run / "secrets" / "definitions.json"
    path.write_text(json.dumps(spec, indent=2))
    path.chmod(0o600)
    say("declaring users, vhosts, exchanges, queues, dead-lettering and federation")
    rabbitmqctl(stack, "import_definitions", str(path))
    # the users of the alliance are the only ones: not `guest` (made on a broker's first
    # start), nor any user an older layout had
    listed = rabbitmqctl(stack, "list_users", "--formatter", "json").stdout
    for user in json.loads(listed):
        if user["user"] not in broker_users():
            rabbitmqctl(stack, "delete_user", user["user"])


# -- schema ------------------------------------------------------------------------------------


def migrate(stack: Stack) -> None:
    from deploy.migrations import migrate_hub, migrate_node

    for partner in PARTNERS:
        db = database_name(partner)
        migrate_node(owner_dsn(stack, db), app_role=database_roles(db)[1])
    migrate_hub(owner_dsn(stack, HUB_DATABASE), app_role=database_roles(HUB_DATABASE)[1])


# -- services ----------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a process that exited but is not yet reaped by its parent (a zombie) has stopped too
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# the processes of a node or of the hub that answer /health, /metrics and /openapi.json
SERVED = ("worker", "referrals", "sessions", "safeguarding", "web", "reporting")


def endpoints(stack: Stack) -> dict:
    hub = hub_ports(stack.port_base)
    return {
        "stack": stack.name,
        "hub": {name: f"http://127.0.0.1:{port}" for name, port in hub.items() if name in SERVED},
        "partners": {
            partner: {
                name: f"http://127.0.0.1:{port}"
                for name, port in node_ports(index, stack.port_base).items()
                if name in SERVED
            }
            for index, partner in enumerate(PARTNERS)
        },
        # each partner's identity provider (and the hub's, `alliance`): issuer URLs
        "identity": {partner: issuer_url(stack, partner) for partner in [*PARTNERS, HUB_PARTNER]},
    }


def mail_sink(stack: Stack) -> dict:
    """The stack's SMTP sink (dev and test only): where safeguarding e-mail is delivered."""
    return {
        "host": "127.0.0.1",
        "port": 8025 + stack.port_base,
        "health_port": 8026 + stack.port_base,
        "mailbox": str(stack.run / "mail" / "mailbox.jsonl"),
    }


def issuer_url(stack: Stack, partner: str) -> str:
    """The local identity provider's issuer of a partner (or of the hub, `alliance`)."""
    if partner == HUB_PARTNER:
        return f"http://127.0.0.1:{hub_ports(stack.port_base)['idp']}"
    return f"http://127.0.0.1:{node_ports(PARTNERS.index(partner), stack.port_base)['idp']}"


def oidc_env(stack: Stack, partner: str) -> dict:
    """Whose tokens a process trusts: its own partner's provider, and on a node the hub's."""
    if partner == HUB_PARTNER:
        return {
            "PEERLINK_OIDC_ISSUER": issuer_url(stack, HUB_PARTNER),
            "PEERLINK_OIDC_AUDIENCE": HUB_AUDIENCE,
        }
    return {
        "PEERLINK_OIDC_ISSUER": issuer_url(stack, partner),
        "PEERLINK_OIDC_AUDIENCE": node_audience(partner),
        "PEERLINK_HUB_ISSUER": issuer_url(stack, HUB_PARTNER),
    }


def process_table(stack: Stack) -> list[dict]:
    """Every process of the alliance with its command and environment."""
    sink = mail_sink(stack)
    common = {
        "PEERLINK_ENDPOINTS_FILE": str(stack.run / "endpoints.json"),
        "PEERLINK_STACK": stack.name,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    python = str(ROOT / ".venv" / "bin" / "python")
    transfer_keys = json.dumps(transfer_public_keys(stack), sort_keys=True)
    mail = {"PEERLINK_SMTP_HOST": sink["host"], "PEERLINK_SMTP_PORT": str(sink["port"])}
    table = [
        idp.process_spec(stack),  # first: every service finds its issuer through discovery
        {
            "name": "mailsink",
            "cmd": [
                python,
                "-m",
                "deploy.mailsink",
                "--smtp",
                f"{sink['host']}:{sink['port']}",
                "--http",
                f"{sink['host']}:{sink['health_port']}",
                "--mailbox",
                sink["mailbox"],
            ],
            "env": common,
            "health": f"http://{sink['host']}:{sink['health_port']}/health",
        },
    ]
    for index, partner in enumerate(PARTNERS):
        ports = node_ports(index, stack.port_base)
        env = {
            **common,
            "PEERLINK_PARTNER": partner,
            **oidc_env(stack, partner),
            # the partner's own database role, broker user and vault key
            "PEERLINK_DATABASE_URL": dsn(stack, database_name(partner)),
            "PEERLINK_AMQP_URL": amqp_url(stack, partner),
            "PEERLINK_MASTER_KEY_DIR": str(master_key_dir(stack, partner)),
            # its own key for what other partners seal for it, and every partner's public key
            "PEERLINK_TRANSFER_KEY_FILE": str(transfer_key_file(stack, partner)),
            "PEERLINK_TRANSFER_PUBLIC_KEYS": transfer_keys,
            # its own key for the pseudonyms the hub is sent instead of ids
            "PEERLINK_HUB_PSEUDONYM_KEY_FILE": str(hub_pseudonym_key_file(stack, partner)),
        }
        # the SMTP sink, and the web app whose concern pages every safeguarding e-mail links to
        safeguarding_env = {
            **mail,
            "PEERLINK_SAFEGUARDING_INBOX_URL": f"http://127.0.0.1:{ports['web']}",
            "PEERLINK_SAFEGUARDING_RECIPIENTS": ",".join(
                f"{rung}={rung.replace('_', '-')}@{partner}.peerlink.test"
                for rung in ("duty_lead", "deputy_lead", "head_of_service")
            ),
        }
        for service in NODE_SERVICES:
            table.append(
                {
                    "name": f"{partner}-{service}",
                    "cmd": service_command(service),
                    "env": {
                        **env,
                        "PEERLINK_SERVICE": service,
                        "PEERLINK_HTTP_ADDRESS": f"127.0.0.1:{ports[service]}",
                        **(safeguarding_env if service == "safeguarding" else {}),
                        # a person's open sessions and plans, read at discharge
                        **(
                            {"PEERLINK_SESSIONS_URL": f"http://127.0.0.1:{ports['sessions']}"}
                            if service == "referrals"
                            else {}
                        ),
                    },
                    "health": f"http://127.0.0.1:{ports[service]}/health",
                }
            )
        table.append(
            {
                "name": f"{partner}-worker",
                "cmd": [python, "-m", "services.node_worker"],
                "env": {
                    **env,
                    "PEERLINK_SERVICE": "worker",
                    "PEERLINK_HTTP_ADDRESS": f"127.0.0.1:{ports['worker']}",
                },
                "health": f"http://127.0.0.1:{ports['worker']}/health",
            }
        )
        # the people's pages, a client of the partner's own provider
        table.append(
            {
                "name": f"{partner}-web",
                "cmd": service_command("web"),
                "env": {
                    **env,
                    "PEERLINK_SERVICE": "web",
                    "PEERLINK_HTTP_ADDRESS": f"127.0.0.1:{ports['web']}",
                    "PEERLINK_WEB_URL": f"http://127.0.0.1:{ports['web']}",
                    "PEERLINK_REFERRALS_URL": f"http://127.0.0.1:{ports['referrals']}",
                    "PEERLINK_SESSIONS_URL": f"http://127.0.0.1:{ports['sessions']}",
                    "PEERLINK_SAFEGUARDING_URL": f"http://127.0.0.1:{ports['safeguarding']}",
                    "PEERLINK_WEB_CLIENT_SECRET_FILE": str(
                        stack.run / "secrets" / "idp" / f"{partner}.peerlink-web"
                    ),
                },
                "health": f"http://127.0.0.1:{ports['web']}/health",
            }
        )
    hub = hub_ports(stack.port_base)
    hub_env = {
        **common,
        "PEERLINK_PARTNER": HUB_PARTNER,
        **oidc_env(stack, HUB_PARTNER),
        # the hub's own machine credential, for reading the partners' event feeds
        "PEERLINK_OIDC_CLIENT_ID": "hub-worker",
        "PEERLINK_OIDC_CLIENT_SECRET_FILE": str(
            stack.run / "secrets" / "idp" / "alliance.hub-worker"
        ),
        "PEERLINK_DATABASE_URL": dsn(stack, HUB_DATABASE),
        "PEERLINK_AMQP_URL": amqp_url(stack, HUB_VHOST),
        # the key published counts are rounded under
        "PEERLINK_ROUNDING_KEY_FILE": str(rounding_key_file(stack)),
    }
    table.append(
        {
            "name": "hub-reporting",
            "cmd": service_command("reporting"),
            "env": {
                **hub_env,
                "PEERLINK_SERVICE": "reporting",
                "PEERLINK_HTTP_ADDRESS": f"127.0.0.1:{hub['reporting']}",
            },
            "health": f"http://127.0.0.1:{hub['reporting']}/health",
        }
    )
    table.append(
        {
            "name": "hub-worker",
            "cmd": [python, "-m", "services.hub_worker"],
            "env": {
                **hub_env,
                "PEERLINK_SERVICE": "worker",
                "PEERLINK_HTTP_ADDRESS": f"127.0.0.1:{hub['worker']}",
            },
            "health": f"http://127.0.0.1:{hub['worker']}/health",
        }
    )
    return table


def start_process(stack: Stack, spec: dict) -> None:
    pids = stack.run / "pids"
    logs = stack.run / "logs"
    pids.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    pidfile = pids / f"{spec['name']}.pid"
    if pidfile.exists():
        pid = int(pidfile.read_text().split()[0])
        if _alive(pid) and spec["cmd"][-1] in _cmdline(pid):
            return
    with open(logs / f"{spec['name']}.log", "ab") as log:
        process = subprocess.Popen(
            spec["cmd"],
            cwd=ROOT,
            env={**os.environ, **spec["env"]},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pidfile.write_text(f"{process.pid}\n")


def wait_healthy(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except Exception as error:  # noqa: BLE001
            last = str(error)
        time.sleep(0.3)
    raise SystemExit(f"{url} did not become healthy in {timeout:.0f}s: {last}")


# How long stopping waits, after SIGTERM, before it kills what still runs: every process bounds
# its own stop to a few seconds (shared/runner.py, shared/worker.py, deploy/mailsink.py,
# deploy/idp/server.js), and a container runtime gives it as long (docker-compose.yml).
STOP_SECONDS = 10.0


def _running_pid(stack: Stack, name: str) -> int | None:
    """The pid of a process this stack started that still runs (pid file, command line
    checked); a stale pid file is removed."""
    pidfile = stack.run / "pids" / f"{name}.pid"
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text().split()[0])
    if not _alive(pid) or str(ROOT) not in _cmdline(pid) and ".venv" not in _cmdline(pid):
        pidfile.unlink()
        return None
    return pid


def stop_processes(
    stack: Stack, names, sig=signal.SIGTERM, timeout: float = STOP_SECONDS
) -> list[str]:
    """Stop processes this stack started, side by side: the signal to every one, then one wait
    for all of them; SIGKILL only for those still running after `timeout`. Returns the names
    of those that ran."""
    running = {}
    for name in names:
        pid = _running_pid(stack, name)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)
            running[name] = pid
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in running.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    for name, pid in running.items():
        if _alive(pid):
            say(f"{name} still running {timeout:.0f} s after {signal.Signals(sig).name}: killed")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        (stack.run / "pids" / f"{name}.pid").unlink(missing_ok=True)
    killed = time.monotonic() + 5  # a killed process's port is free once it is gone
    while any(_alive(pid) for pid in running.values()) and time.monotonic() < killed:
        time.sleep(0.05)
    return list(running)


def stop_process(
    stack: Stack, name: str, sig=signal.SIGTERM, timeout: float = STOP_SECONDS
) -> bool:
    """Stop a process this stack started (pid file, command line checked); True if it ran."""
    return bool(stop_processes(stack, [name], sig, timeout))


def write_state(stack: Stack) -> None:
    eps = endpoints(stack)
    (stack.run / "endpoints.json").write_text(json.dumps(eps, indent=2))
    state = {
        "stack": stack.name,
        "admin_dsn": dsn(stack, "postgres", ADMIN_ROLE),
        "owner_dsn": {db: owner_dsn(stack, db) for db in alliance_databases()},
        "app_dsn": {db: dsn(stack, db) for db in alliance_databases()},
        # each vhost as the user of its node (or the hub's)
        "amqp": {vhost: amqp_url(stack, vhost) for vhost in [*PARTNERS, HUB_VHOST]},
        "amqp_port": stack.amqp_port,
        "rabbit_node": stack.rabbit_node,
        "pg_port": stack.pg_port,
        "master_key_dirs": {p: str(master_key_dir(stack, p)) for p in PARTNERS},
        "transfer_key_files": {p: str(transfer_key_file(stack, p)) for p in PARTNERS},
        "smtp": mail_sink(stack),
        "endpoints": eps,
        "idp": idp.state(stack),
    }
    path = stack.run / "stack.json"
    path.write_text(json.dumps(state, indent=2))
    path.chmod(0o600)


def restart_services(stack: Stack) -> None:
    """New code and migrations without touching the servers."""
    stop_processes(stack, [spec["name"] for spec in process_table(stack)])
    ensure_databases(stack)  # a role a new migration needs
    ensure_master_keys(stack)
    ensure_topology(stack)
    migrate(stack)
    write_state(stack)
    idp.write_config(stack)
    for spec in process_table(stack):
        start_process(stack, spec)
    for spec in process_table(stack):
        wait_healthy(spec["health"])


def rebuild_hub(stack: Stack) -> None:
    """Stop the hub worker, rebuild every hub projection from the partners' feeds, start it."""
    spec = next(p for p in process_table(stack) if p["name"] == "hub-worker")
    stop_process(stack, spec["name"])
    try:
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "-m", "services.reporting.rebuild"],
            env={**os.environ, **spec["env"]},
            check=True,
        )
    finally:
        start_process(stack, spec)
        wait_healthy(spec["health"])


def up(stack: Stack, demo: bool) -> None:
    stack.run.mkdir(parents=True, exist_ok=True)
    ensure_master_keys(stack)
    start_postgres(stack)
    start_rabbitmq(stack)
    ensure_databases(stack)
    ensure_topology(stack)
    migrate(stack)
    write_state(stack)
    idp.write_config(stack)
    if demo:
        idp.ensure_demo_users(stack)
    table = process_table(stack)
    say(f"starting {len(table)} service processes")
    for spec in table:
        start_process(stack, spec)
    for spec in table:
        wait_healthy(spec["health"])
    if demo:
        from deploy.demo import load_demo

        load_demo(stack.run / "stack.json")
    print_summary(stack)


def print_summary(stack: Stack) -> None:
    eps = endpoints(stack)
    print()
    print(
        f"Peerlink ({stack.name}) is running. Every service answers /health, /metrics "
        "(operator token), /openapi.json."
    )
    print(f"  hub reporting        {eps['hub']['reporting']}   (worker {eps['hub']['worker']})")
    for partner, node in eps["partners"].items():
        print(
            f"  {partner:<12} worker {node['worker']}  referrals {node['referrals']}  "
            f"sessions {node['sessions']}  safeguarding {node['safeguarding']}"
        )
        print(f"  {'':<12} people's pages (sign in here) {node['web']}/")
    print(f"Endpoint map: {stack.run / 'endpoints.json'}")
    for line in idp.summary_lines(stack):
        print(line)
    print("A token: TOKEN=$(deploy/token --user alex --partner leeds-mind)")
    print(
        'Then:    curl -H "Authorization: Bearer $TOKEN" '
        f"{eps['partners']['leeds-mind']['referrals']}/openapi.json"
    )
    print()


def down(stack: Stack) -> None:
    pids = stack.run / "pids"
    if not pids.exists():
        say("nothing to stop")
        return
    started = time.monotonic()
    stopped = stop_processes(stack, sorted(pidfile.stem for pidfile in pids.glob("*.pid")))
    if stopped:
        say(f"stopped {len(stopped)} processes in {time.monotonic() - started:.1f} s")
    # the servers last, once nothing uses them, side by side too
    with ThreadPoolExecutor(2) as pool:
        for stopping in [pool.submit(stop_rabbitmq, stack), pool.submit(stop_postgres, stack)]:
            stopping.result()


def stop_rabbitmq(stack: Stack) -> None:
    managed = stack.run / "pids" / "rabbitmq.managed"
    if managed.exists():
        say("stopping RabbitMQ")
        rabbitmqctl(stack, "stop", check=False)
        managed.unlink()


def stop_postgres(stack: Stack) -> None:
    managed = stack.run / "pids" / "postgres.managed"
    if managed.exists():
        say("stopping PostgreSQL")
        as_postgres(
            [pg_bin("pg_ctl"), "-D", str(stack.run / "pg" / "data"), "-m", "fast", "-w", "stop"],
            check=False,
        )
        managed.unlink()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="deploy/stack.py")
    parser.add_argument(
        "command",
        choices=["up", "down", "restart", "servers", "status", "summary", "rebuild-hub"],
    )
    parser.add_argument("--stack", choices=sorted(STACKS), default="dev")
    parser.add_argument("--no-demo", action="store_true")
    args = parser.parse_args(argv)
    stack = STACKS[args.stack]
    if args.command == "up":
        up(stack, demo=not args.no_demo)
    elif args.command == "servers":
        stack.run.mkdir(parents=True, exist_ok=True)
        start_postgres(stack)
        start_rabbitmq(stack)
        ensure_databases(stack)
        ensure_topology(stack)
        migrate(stack)
        write_state(stack)
    elif args.command == "down":
        down(stack)
    elif args.command == "restart":
        restart_services(stack)
        print_summary(stack)
    elif args.command == "summary":
        print_summary(stack)
    elif args.command == "rebuild-hub":
        rebuild_hub(stack)
    else:
        for spec in process_table(stack):
            pidfile = stack.run / "pids" / f"{spec['name']}.pid"
            pid = int(pidfile.read_text().split()[0]) if pidfile.exists() else 0
            print(f"{spec['name']:<26} {'running' if _alive(pid) else 'stopped'}")


if __name__ == "__main__":
    main()
