"""The device that created each group, so open registration can bound groups per device.

Revision ID: 0002_group_founder
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_group_founder"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Groups created before this revision have no founder recorded and count for nobody.
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("founder", sa.LargeBinary, nullable=True))
    op.create_index("ix_groups_founder", "groups", ["founder"])


def downgrade() -> None:
    op.drop_index("ix_groups_founder", table_name="groups")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("founder")
