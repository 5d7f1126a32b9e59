"""deploy/rotate-master-key: rotates a partner's vault master key (shared.key_rotation).

    deploy/rotate-master-key --partner leeds-mind              add a version, rewrap every key
    deploy/rotate-master-key --partner leeds-mind rewrap       finish a rotation that stopped
    deploy/rotate-master-key --partner leeds-mind status       each version and what it wraps
    deploy/rotate-master-key --partner leeds-mind destroy --version 1

On the local stack (--stack, default $PEERLINK_STACK or dev) it finds the node's database and
key directory itself; elsewhere it reads them as the node's services do, from
PEERLINK_DATABASE_URL (or PEERLINK_DATABASE_URL_FILE) and PEERLINK_MASTER_KEY_DIR (or
--key-dir), which must be writable. The services take up a new version, and forget a destroyed
one, by themselves within seconds."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared import key_rotation  # noqa: E402
from shared.config import database_name  # noqa: E402
from shared.db import Database  # noqa: E402
from shared.settings import load  # noqa: E402
from shared.vault import MASTER_KEY_DIR_ENV, MasterKeyError, MasterKeys, Vault  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _local(stack: str, partner: str) -> tuple[str, str] | None:
    path = ROOT / "run" / stack / "stack.json"
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    if partner not in state.get("master_key_dirs", {}):
        raise SystemExit(f"deploy/rotate-master-key: {stack} has no partner {partner}")
    return state["app_dsn"][database_name(partner)], state["master_key_dirs"][partner]


def _database_url() -> str | None:
    """The node's database as its services are given it, if they are here."""
    path = os.environ.get("PEERLINK_DATABASE_URL_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get("PEERLINK_DATABASE_URL")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="deploy/rotate-master-key")
    parser.add_argument("--partner", required=True, help="the partner whose key rotates")
    parser.add_argument("--stack", default=os.environ.get("PEERLINK_STACK", "dev"))
    parser.add_argument("--key-dir", help=f"the key directory (default: ${MASTER_KEY_DIR_ENV})")
    parser.add_argument("--batch", type=int, default=key_rotation.REWRAP_BATCH)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("rotate", help="add a version and rewrap every key (the default)")
    commands.add_parser("rewrap", help="rewrap every key under the newest version, and sweep")
    commands.add_parser("status", help="each version: keys it wraps, added, retired, destroyed")
    destroy = commands.add_parser("destroy", help="destroy a retired version")
    destroy.add_argument("--version", type=int, required=True)
    destroy.add_argument(
        "--kept-days",
        type=int,
        default=None,
        help="how long a retired version is kept for the backups taken before (default:"
        " $PEERLINK_BACKUP_RETENTION_DAYS or 35)",
    )
    args = parser.parse_args(argv)
    config = load(key_rotation.KeyRotationSettings)
    kept_days = config.backup_retention_days if args.kept_days is None else args.kept_days

    dsn = _database_url()
    local = None if dsn else _local(args.stack, args.partner)
    if local:
        dsn = local[0]
    if not dsn:
        parser.error(f"no stack {args.stack} here: set PEERLINK_DATABASE_URL(_FILE)")
    directory = args.key_dir or (local[1] if local else os.environ.get(MASTER_KEY_DIR_ENV))
    if not directory:
        parser.error(f"give --key-dir or {MASTER_KEY_DIR_ENV}")

    command = args.command or "rotate"
    db = Database(dsn, maxconn=2, application_name="rotate-master-key")
    try:
        if command == "rotate":
            version = key_rotation.add_master_key_version(directory, args.partner)
            print(f"added version {version} of {args.partner}'s master key in {directory}")
        vault = Vault("vault", MasterKeys.from_directory(directory, args.partner))
        if command in ("rotate", "rewrap"):
            done = key_rotation.rewrap_all(db, vault, args.batch)
            print(f"rewrapped {done.keys} person keys under version {vault.keys.newest_version}")
            if not done.swept:
                sys.exit(
                    "deploy/rotate-master-key: the key tables could not be swept (a long"
                    " transaction or a lock held them); run `rewrap` again"
                )
            for retired in done.retired:
                print(
                    f"version {retired} is retired: destroy it once the backups taken until now"
                    f" have expired ({config.backup_retention_days} days)"
                )
        elif command == "destroy":
            key_rotation.destroy_master_key_version(db, vault, args.version, kept_days)
            print(f"destroyed version {args.version} of {args.partner}'s master key")
        for row in key_rotation.status(db, vault):
            print(
                f"version {row['version']}: {'held' if row['held'] else 'not held'},"
                f" wraps {row['keys']} keys, added {row['added_at'] or '-'},"
                f" retired {row['retired_at'] or '-'}, destroyed {row['destroyed_at'] or '-'}"
            )
    except (key_rotation.RotationRefused, MasterKeyError) as error:
        sys.exit(f"deploy/rotate-master-key: {error}")
    finally:
        db.close()


if __name__ == "__main__":
    main()
