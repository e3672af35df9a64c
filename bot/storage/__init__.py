"""SQLite storage: the connection settings and the numbered, append-only migrations.

Each capability owns the queries for its own tables (for example `actions/store.py`); this package
only opens the database and evolves its schema.
"""

from bot.storage.db import locked, open_db, transaction
from bot.storage.migrations import MIGRATIONS, applied_migrations, migrate

__all__ = ["MIGRATIONS", "applied_migrations", "locked", "migrate", "open_db", "transaction"]
