"""Storage: open the database (SQLite by default, PostgreSQL for several instances) and evolve its schema.

Each capability owns the queries for its own tables (for example `actions/store.py`); this package
opens the database, keeps the few differences between the two databases, and runs the numbered,
append-only migrations.
"""

from bot.storage.db import (
    Database,
    StorageUnavailable,
    database_errors,
    for_update,
    is_postgres,
    is_url,
    locked,
    open_db,
    serialize,
    transaction,
    trigger_names,
)
from bot.storage.migrations import MIGRATIONS, applied_migrations, migrate

__all__ = ["MIGRATIONS", "Database", "StorageUnavailable", "applied_migrations", "database_errors", "for_update",
           "is_postgres", "is_url", "locked", "migrate", "open_db", "serialize", "transaction", "trigger_names"]
