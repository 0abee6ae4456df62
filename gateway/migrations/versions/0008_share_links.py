"""Share links: a dashboard's links for people outside its access list (hashes only).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "share_links",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("created", sa.Float, nullable=False),  # seconds since the epoch
        sa.Column("expires", sa.Float, nullable=False),
        sa.Column("revoked", sa.Float, nullable=True),
        sa.Column("views", sa.Integer, nullable=False),
    )
    op.create_index("ix_share_links_dashboard", "share_links", ["owner", "name"])


def downgrade() -> None:
    op.drop_index("ix_share_links_dashboard", "share_links")
    op.drop_table("share_links")
