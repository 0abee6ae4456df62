"""Alembic migrations of the gateway's store; applied by ``Store.open()``."""
