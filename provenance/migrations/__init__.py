"""The ledger's Alembic migrations (env.py, versions/). Driven by provenance.migrate; see README."""
