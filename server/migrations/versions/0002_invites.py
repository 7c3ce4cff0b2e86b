"""The invite index: which group published an invite id, so an invitee finds it by code.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "invites",
        sa.Column("invite_id", sa.LargeBinary, nullable=False),
        sa.Column("group_id", sa.LargeBinary, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.group_id"], name="fk_invites_group_id_groups"
        ),
        sa.PrimaryKeyConstraint("invite_id", "group_id", name="pk_invites"),
    )


def downgrade() -> None:
    op.drop_table("invites")
