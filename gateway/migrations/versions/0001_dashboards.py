"""The dashboards table.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboards",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("framework", sa.String(32), nullable=False),
        sa.Column("source", sa.JSON, nullable=False),
        sa.Column("entry", sa.Text, nullable=False),
        sa.Column("access_mode", sa.String(16), nullable=False),
        sa.Column("access_users", sa.JSON, nullable=False),
        sa.Column("access_groups", sa.JSON, nullable=False),
        sa.Column("env", sa.JSON, nullable=False),
        sa.Column("idle_timeout", sa.Integer, nullable=False),
        sa.Column("desired", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("runtime", sa.JSON, nullable=False),
        sa.Column("last_activity", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("owner", "name", name="uq_dashboards_owner_name"),
    )
    op.create_index("ix_dashboards_owner", "dashboards", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_dashboards_owner", "dashboards")
    op.drop_table("dashboards")
