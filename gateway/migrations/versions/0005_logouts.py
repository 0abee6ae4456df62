"""When each user last logged out: sessions begun before it are over, on every replica.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "logouts",
        sa.Column("user", sa.String(255), primary_key=True),
        sa.Column("at", sa.Float, nullable=False),  # seconds since the epoch
    )
    op.create_index("ix_logouts_at", "logouts", ["at"])


def downgrade() -> None:
    op.drop_index("ix_logouts_at", "logouts")
    op.drop_table("logouts")
