"""A quota of its own for a group, set by the operator (`chatham-server set-quota`).

Revision ID: 0005_group_quota
Revises: 0004_rate_buckets
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_group_quota"
down_revision: str | None = "0004_rate_buckets"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("quota", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("quota")
