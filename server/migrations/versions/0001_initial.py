"""The initial schema: groups, log, lockboxes, entries, attachments, joins, auth.

Revision ID: 0001
Revises:
Create Date: 2025-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

Bytes = sa.LargeBinary
Int = sa.BigInteger


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("group_id", Bytes, nullable=False),
        sa.Column("seq", Int, nullable=False),
        sa.Column("head", Bytes, nullable=False),
        sa.Column("entry_cursor", Int, nullable=False),
        sa.Column("stored_bytes", Int, nullable=False),
        sa.Column("created", Int, nullable=False),
        sa.PrimaryKeyConstraint("group_id", name="pk_groups"),
    )
    op.create_table(
        "log_ops",
        sa.Column("group_id", Bytes, nullable=False),
        sa.Column("seq", Int, nullable=False),
        sa.Column("op_hash", Bytes, nullable=False),
        sa.Column("op", Bytes, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.group_id"], name="fk_log_ops_group_id_groups"
        ),
        sa.PrimaryKeyConstraint("group_id", "seq", name="pk_log_ops"),
    )
    op.create_table(
        "lockboxes",
        sa.Column("group_id", Bytes, nullable=False),
        sa.Column("epoch", Int, nullable=False),
        sa.Column("device_id", Bytes, nullable=False),
        sa.Column("seq", Int, nullable=False),
        sa.Column("lockbox", Bytes, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.group_id"], name="fk_lockboxes_group_id_groups"
        ),
        sa.PrimaryKeyConstraint("group_id", "epoch", "device_id", name="pk_lockboxes"),
    )
    op.create_table(
        "entries",
        sa.Column("group_id", Bytes, nullable=False),
        sa.Column("entry_id", Bytes, nullable=False),
        sa.Column("cursor", Int, nullable=False),
        sa.Column("device_id", Bytes, nullable=False),
        sa.Column("device_seq", Int, nullable=False),
        sa.Column("epoch", Int, nullable=False),
        sa.Column("log_seq", Int, nullable=False),
        sa.Column("header", Bytes, nullable=False),
        sa.Column("ct_hash", Bytes, nullable=False),
        sa.Column("link", Bytes, nullable=False),
        sa.Column("signature", Bytes, nullable=False),
        sa.Column("ciphertext", Bytes, nullable=True),
        sa.Column("retracted_by", Bytes, nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.group_id"], name="fk_entries_group_id_groups"
        ),
        sa.PrimaryKeyConstraint("group_id", "entry_id", name="pk_entries"),
        sa.UniqueConstraint(
            "group_id", "device_id", "device_seq", name="uq_entries_group_id_device_id_device_seq"
        ),
        sa.UniqueConstraint("group_id", "cursor", name="uq_entries_group_id_cursor"),
    )
    op.create_table(
        "attachments",
        sa.Column("group_id", Bytes, nullable=False),
        sa.Column("attachment_id", Bytes, nullable=False),
        sa.Column("device_id", Bytes, nullable=False),
        sa.Column("created", Int, nullable=False),
        sa.Column("deleted", Int, nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.group_id"], name="fk_attachments_group_id_groups"
        ),
        sa.PrimaryKeyConstraint("group_id", "attachment_id", name="pk_attachments"),
    )
    op.create_table(
        "attachment_chunks",
        sa.Column("group_id", Bytes, nullable=False),
        sa.Column("attachment_id", Bytes, nullable=False),
        sa.Column("idx", Int, nullable=False),
        sa.Column("data", Bytes, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id", "attachment_id"],
            ["attachments.group_id", "attachments.attachment_id"],
            name="fk_attachment_chunks_attachments",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "attachment_id", "idx", name="pk_attachment_chunks"),
    )
    op.create_table(
        "join_requests",
        sa.Column("group_id", Bytes, nullable=False),
        sa.Column("invite_id", Bytes, nullable=False),
        sa.Column("request", Bytes, nullable=False),
        sa.Column("created", Int, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.group_id"], name="fk_join_requests_group_id_groups"
        ),
        sa.PrimaryKeyConstraint("group_id", "invite_id", name="pk_join_requests"),
    )
    op.create_table(
        "auth_challenges",
        sa.Column("challenge", Bytes, nullable=False),
        sa.Column("expires", Int, nullable=False),
        sa.PrimaryKeyConstraint("challenge", name="pk_auth_challenges"),
    )
    op.create_index("ix_auth_challenges_expires", "auth_challenges", ["expires"])
    op.create_table(
        "server_identity",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("server_id", Bytes, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_server_identity"),
    )
    op.create_table(
        "tokens",
        sa.Column("token_hash", Bytes, nullable=False),
        sa.Column("device_id", Bytes, nullable=True),
        sa.Column("group_id", Bytes, nullable=True),
        sa.Column("invite_id", Bytes, nullable=True),
        sa.Column("expires", Int, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_tokens"),
    )
    op.create_index("ix_tokens_expires", "tokens", ["expires"])
    op.create_table(
        "registration_tokens",
        sa.Column("token_hash", Bytes, nullable=False),
        sa.Column("uses_left", Int, nullable=False),
        sa.Column("expires", Int, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_registration_tokens"),
    )


def downgrade() -> None:
    for index, table in (
        ("ix_tokens_expires", "tokens"),
        ("ix_auth_challenges_expires", "auth_challenges"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "registration_tokens",
        "tokens",
        "auth_challenges",
        "server_identity",
        "join_requests",
        "attachment_chunks",
        "attachments",
        "entries",
        "lockboxes",
        "log_ops",
        "groups",
    ):
        op.drop_table(table)
