"""Rate-limit buckets shared by every server process on one database.

Revision ID: 0004_rate_buckets
Revises: 0003_devices
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_rate_buckets"
down_revision: str | None = "0003_devices"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "rate_buckets",
        sa.Column("bucket", sa.LargeBinary, nullable=False),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("bucket", name="pk_rate_buckets"),
    )
    op.create_index("ix_rate_buckets_updated", "rate_buckets", ["updated"])


def downgrade() -> None:
    op.drop_index("ix_rate_buckets_updated", table_name="rate_buckets")
    op.drop_table("rate_buckets")
