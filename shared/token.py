"""Prints a signed bearer token for local use (deploy/token)."""

from __future__ import annotations

import argparse

from shared.auth import ROLES, issue_token, secret_from_environment


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="deploy/token")
    parser.add_argument("--user", required=True)
    parser.add_argument("--role", required=True, choices=ROLES)
    parser.add_argument("--partner", required=True)
    parser.add_argument("--ttl-seconds", type=int, default=8 * 3600)
    args = parser.parse_args(argv)
    print(
        issue_token(secret_from_environment(), args.user, args.role, args.partner, args.ttl_seconds)
    )


if __name__ == "__main__":
    main()
