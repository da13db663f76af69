"""The durable store: SQLAlchemy Core over SQLite (default) or PostgreSQL, migrated by Alembic."""
