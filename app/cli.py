"""The `symphony` command: serve the proxy, and manage API keys directly in the store
(`SYMPHONY_*` settings).

    symphony serve [--bind 127.0.0.1:8787]   (gunicorn, one gevent worker: app/serving.py)
    symphony keys create --name gov-team --role governor [--role operator] [--team t]
                         [--expires-in-days 90]
    symphony keys list
    symphony keys revoke <key id>

It talks to the same database as the proxies (SYMPHONY_DATABASE_URL, else the SQLite file in
SYMPHONY_DATA_DIR), so it works with no proxy running; the change is recorded in the audit
trail with the actor `cli:<user>`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from app.adapters.sql.database import database_url, migrate, open_engine
from app.adapters.sql.identity import SqlAuditLog, SqlKeyStore
from app.core.identity import GRANTABLE, Identities, KeyRejected
from app.serving import serve_argv
from app.settings import Settings


def _identities(settings: Settings) -> Identities:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = open_engine(database_url(settings.database_url, settings.data_dir))
    migrate(engine)
    return Identities(SqlKeyStore(engine), SqlAuditLog(engine))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="symphony", description="Symphony administration")
    areas = parser.add_subparsers(dest="area", required=True)
    keys = areas.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create a key (printed once)")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--role",
        action="append",
        required=True,
        choices=[str(r) for r in GRANTABLE],
        help="repeat for several roles",
    )
    create.add_argument("--team")
    create.add_argument("--expires-in-days", type=float)
    create.add_argument("--json", action="store_true", help="print the record as JSON")
    listing = keys.add_parser("list", help="every key (never the key itself)")
    listing.add_argument("--json", action="store_true")
    revoke = keys.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    serve = areas.add_parser("serve", help="run the proxy (gunicorn), as every script does")
    serve.add_argument("--bind", help="host:port (default SYMPHONY_BIND)")
    serve.add_argument("--graceful-timeout", type=float, default=5.0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `symphony` console script."""
    args = _parser().parse_args(argv)
    settings = Settings.from_env(os.environ)
    if args.area == "serve":
        command = [sys.executable, *serve_argv(settings, args.bind, args.graceful_timeout)]
        os.execv(command[0], command)  # the same pid: start scripts keep it in their pidfile
    identities = _identities(settings)
    actor = f"cli:{getpass.getuser()}"
    if args.action == "create":
        expires = (
            datetime.now(UTC) + timedelta(days=args.expires_in_days)
            if args.expires_in_days
            else None
        )
        try:
            record, key = identities.create(args.name, args.role, actor, None, args.team, expires)
        except KeyRejected as exc:
            print(f"error: {exc.field}: {exc.message}", file=sys.stderr)
            return 2
        if args.json:
            print(json.dumps({**record.as_dict(), "key": key}))
        else:
            print(f"created {record.id} ({record.name}, {', '.join(args.role)})")
            print(f"key (shown once): {key}")
        return 0
    if args.action == "list":
        records = [k.as_dict() for k in identities.all_keys()]
        if args.json:
            print(json.dumps(records))
            return 0
        for r in records:
            state = "revoked" if r["revoked_at"] else "active"
            print(
                f"{r['id']}  {r['name']:<24} {','.join(r['roles']):<28} "
                f"team={r['team'] or '-'}  {state}  last used {r['last_used_at'] or 'never'}"
            )
        return 0
    revoked = identities.revoke(args.key_id, actor, None)
    if revoked is None:
        print(f"error: no key {args.key_id}", file=sys.stderr)
        return 1
    print(f"revoked {revoked.id} ({revoked.name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
