"""`migrate`: create or upgrade the database schema (several instances may run it at once)."""

from __future__ import annotations

import argparse

from bot.config import load_settings
from bot.money import count as counted


def migrate(args: argparse.Namespace) -> int:
    from bot.config import redact_url
    from bot.preflight import check_database
    from bot.storage import applied_migrations, is_url, migrate, open_db

    settings = load_settings()
    path = args.database or settings.database
    check_database(path, name="--database" if args.database else
                   "DATABASE_URL" if settings.database_url else "DATABASE_PATH")
    db = open_db(path, migrate=False)
    done = migrate(db)
    head = applied_migrations(db)[-1]
    db.close()
    where = redact_url(str(path)) if is_url(path) else path
    print(f"{where}: applied {counted(len(done), 'migration')}{': ' + ', '.join(done) if done else ''}; "
          f"schema at {head}")
    return 0
