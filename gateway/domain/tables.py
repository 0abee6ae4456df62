"""The gateway's tables (gateway/migrations makes them; tests/gateway/test_store.py holds
the two equal)."""

from __future__ import annotations

import sqlalchemy as sa

MAX_NOTE = 200  # a share link's note

metadata = sa.MetaData()

dashboards = sa.Table(
    "dashboards",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("name", sa.String(63), nullable=False),
    sa.Column("title", sa.String(200), nullable=False, default=""),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("framework", sa.String(32), nullable=False),
    sa.Column("source", sa.JSON, nullable=False),
    sa.Column("entry", sa.Text, nullable=False, default=""),
    sa.Column("access_mode", sa.String(16), nullable=False),
    sa.Column("access_users", sa.JSON, nullable=False),
    sa.Column("access_groups", sa.JSON, nullable=False),
    sa.Column("env", sa.JSON, nullable=False),
    sa.Column("secrets", sa.JSON, nullable=False, server_default="{}"),
    sa.Column("command", sa.JSON, nullable=False, server_default="[]"),
    sa.Column("idle_timeout", sa.Integer, nullable=False),
    sa.Column("profile", sa.String(63), nullable=False, server_default=""),
    sa.Column("environment", sa.String(63), nullable=False, server_default=""),
    sa.Column("desired", sa.String(16), nullable=False, default="stopped"),
    sa.Column("status", sa.String(16), nullable=False, default="stopped"),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("runtime", sa.JSON, nullable=False, default=dict),
    sa.Column("last_activity", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("owner", "name", name="uq_dashboards_owner_name"),
    sa.Index("ix_dashboards_owner", "owner"),
)

# Page views of each dashboard per day (UTC): its owner's "views in the last days".
views = sa.Table(
    "views",
    metadata,
    sa.Column("owner", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)

# When each user last logged out: their sessions begun before are over (every replica reads it).
logouts = sa.Table(
    "logouts",
    metadata,
    sa.Column("user", sa.String(255), primary_key=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("ix_logouts_at", "at"),
)

# Share links (gateway.domain.shares): the token's hash only, never the token.
share_links = sa.Table(
    "share_links",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("name", sa.String(63), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("note", sa.String(MAX_NOTE), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
    sa.Column("revoked", sa.Float, nullable=True),
    sa.Column("views", sa.Integer, nullable=False),
    sa.Index("ix_share_links_dashboard", "owner", "name"),
)
