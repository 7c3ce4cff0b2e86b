"""Bounds on what one device may leave behind: the device that created each group (so open
registration can bound groups per device) and the entry each upload names (uploads nothing
names expire).

Revision ID: 0002_bounds
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_bounds"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Groups created before this revision have no founder recorded and count for nobody.
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("founder", sa.LargeBinary, nullable=True))
    op.create_index("ix_groups_founder", "groups", ["founder"])
    # Uploads made before this revision are taken as finished: their entries may exist.
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("entry_id", sa.LargeBinary, nullable=True))
        batch.add_column(
            sa.Column("finished", sa.Boolean, nullable=False, server_default=sa.true())
        )
    op.create_index("ix_attachments_unfinished", "attachments", ["finished", "created"])


def downgrade() -> None:
    op.drop_index("ix_attachments_unfinished", table_name="attachments")
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("finished")
        batch.drop_column("entry_id")
    op.drop_index("ix_groups_founder", table_name="groups")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("founder")
