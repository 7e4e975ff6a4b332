"""History of ended tasks in SQLite: redaction, migrations, the store, read-only queries and their CLI."""
