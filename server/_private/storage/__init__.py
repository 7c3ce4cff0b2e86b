"""The database: schema, migrations and the one access path for SQLite and PostgreSQL."""
