"""The Python environment a dashboard's app runs in (one the admin offers).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dashboards") as batch:
        batch.add_column(sa.Column("environment", sa.String(63), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("dashboards") as batch:
        batch.drop_column("environment")
