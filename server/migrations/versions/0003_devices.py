"""Devices: the short-lived link mailbox through which a member links a new device, and the
escrow each recovery kit's device keeps.

Revision ID: 0003_devices
Revises: 0002_bounds
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_devices"
down_revision: str | None = "0002_bounds"
branch_labels: str | None = None
depends_on: str | None = None

Bytes = sa.LargeBinary
Int = sa.BigInteger


def upgrade() -> None:
    op.create_table(
        "device_links",
        sa.Column("link_id", Bytes, nullable=False),
        sa.Column("creator", Bytes, nullable=False),
        sa.Column("verifier", Bytes, nullable=False),
        sa.Column("expires", Int, nullable=False),
        sa.Column("offer", Bytes, nullable=True),
        sa.Column("request", Bytes, nullable=True),
        sa.Column("handover", Bytes, nullable=True),
        sa.Column("done", Int, nullable=False),
        sa.PrimaryKeyConstraint("link_id", name="pk_device_links"),
    )
    op.create_index("ix_device_links_creator", "device_links", ["creator"])
    op.create_index("ix_device_links_expires", "device_links", ["expires"])
    op.create_table(
        "escrows",
        sa.Column("device_id", Bytes, nullable=False),
        sa.Column("escrow", Bytes, nullable=False),
        sa.Column("updated", Int, nullable=False),
        sa.PrimaryKeyConstraint("device_id", name="pk_escrows"),
    )


def downgrade() -> None:
    op.drop_table("escrows")
    op.drop_index("ix_device_links_expires", table_name="device_links")
    op.drop_index("ix_device_links_creator", table_name="device_links")
    op.drop_table("device_links")
