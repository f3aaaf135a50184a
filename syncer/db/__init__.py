"""The Postgres edge: SQL files, migrations and the store the pipeline records into."""
