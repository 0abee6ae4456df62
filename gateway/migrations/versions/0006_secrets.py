"""A dashboard's secrets: names and encrypted values (gateway.domain.secrets).

Git credentials kept in source URLs by earlier versions move into the secrets at
the first start with an encryption key (gateway.domain.upgrades): that needs the key,
which migrations do not have.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dashboards") as batch:
        batch.add_column(sa.Column("secrets", sa.JSON, nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("dashboards") as batch:
        batch.drop_column("secrets")
