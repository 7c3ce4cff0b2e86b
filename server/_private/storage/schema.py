"""The database schema, as SQLAlchemy Core tables.

docs/operations.md explains every table and column and why it must exist; keep
the two in step. The Alembic migrations in `server/migrations/versions` create
exactly this schema (a test compares them), so a change here needs a new
migration.

Compare-and-swap lives in the constraints, not in application code: the
primary key (group_id, seq) of `log_ops` lets exactly one append win per
sequence number, and the unique (group_id, device_id, device_seq) of `entries`
lets exactly one entry claim an author's sequence number, whichever process
inserts first.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Bytes = sa.LargeBinary
Int = sa.BigInteger

groups = sa.Table(
    "groups",
    metadata,
    sa.Column("group_id", Bytes, primary_key=True),
    sa.Column("seq", Int, nullable=False),
    sa.Column("head", Bytes, nullable=False),
    sa.Column("entry_cursor", Int, nullable=False),
    sa.Column("stored_bytes", Int, nullable=False),
    sa.Column("created", Int, nullable=False),
    sa.Column("founder", Bytes, nullable=True, index=True),
    sa.Column("quota", Int, nullable=True),
)
"""`quota`: the operator's own limit for this group (`chatham-server set-quota`); NULL means
the server's `--group-quota`."""

log_ops = sa.Table(
    "log_ops",
    metadata,
    sa.Column("group_id", Bytes, sa.ForeignKey("groups.group_id"), primary_key=True),
    sa.Column("seq", Int, primary_key=True),
    sa.Column("op_hash", Bytes, nullable=False),
    sa.Column("op", Bytes, nullable=False),
)

lockboxes = sa.Table(
    "lockboxes",
    metadata,
    sa.Column("group_id", Bytes, sa.ForeignKey("groups.group_id"), primary_key=True),
    sa.Column("epoch", Int, primary_key=True),
    sa.Column("device_id", Bytes, primary_key=True),
    sa.Column("seq", Int, nullable=False),
    sa.Column("lockbox", Bytes, nullable=False),
)

entries = sa.Table(
    "entries",
    metadata,
    sa.Column("group_id", Bytes, sa.ForeignKey("groups.group_id"), primary_key=True),
    sa.Column("entry_id", Bytes, primary_key=True),
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
    sa.UniqueConstraint("group_id", "device_id", "device_seq"),
    sa.UniqueConstraint("group_id", "cursor"),
)

attachments = sa.Table(
    "attachments",
    metadata,
    sa.Column("group_id", Bytes, sa.ForeignKey("groups.group_id"), primary_key=True),
    sa.Column("attachment_id", Bytes, primary_key=True),
    sa.Column("device_id", Bytes, nullable=False),
    sa.Column("created", Int, nullable=False),
    sa.Column("deleted", Int, nullable=True),
    sa.Column("entry_id", Bytes, nullable=True),
    sa.Column("finished", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Index("ix_attachments_unfinished", "finished", "created"),
)

attachment_chunks = sa.Table(
    "attachment_chunks",
    metadata,
    sa.Column("group_id", Bytes, primary_key=True),
    sa.Column("attachment_id", Bytes, primary_key=True),
    sa.Column("idx", Int, primary_key=True),
    sa.Column("data", Bytes, nullable=False),
    sa.ForeignKeyConstraint(
        ["group_id", "attachment_id"],
        ["attachments.group_id", "attachments.attachment_id"],
        ondelete="CASCADE",
        name="fk_attachment_chunks_attachments",
    ),
)

join_requests = sa.Table(
    "join_requests",
    metadata,
    sa.Column("group_id", Bytes, sa.ForeignKey("groups.group_id"), primary_key=True),
    sa.Column("invite_id", Bytes, primary_key=True),
    sa.Column("request", Bytes, nullable=False),
    sa.Column("created", Int, nullable=False),
)

invites = sa.Table(
    "invites",
    metadata,
    sa.Column("invite_id", Bytes, primary_key=True),
    sa.Column("group_id", Bytes, sa.ForeignKey("groups.group_id"), primary_key=True),
)

server_identity = sa.Table(
    "server_identity",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("server_id", Bytes, nullable=False),
)
"""One row: this server's random identity, which every login signs (never a secret)."""

device_links = sa.Table(
    "device_links",
    metadata,
    sa.Column("link_id", Bytes, primary_key=True),
    sa.Column("creator", Bytes, nullable=False, index=True),
    sa.Column("verifier", Bytes, nullable=False),
    sa.Column("expires", Int, nullable=False, index=True),
    sa.Column("offer", Bytes, nullable=True),
    sa.Column("request", Bytes, nullable=True),
    sa.Column("handover", Bytes, nullable=True),
    sa.Column("done", Int, nullable=False),
)

escrows = sa.Table(
    "escrows",
    metadata,
    sa.Column("device_id", Bytes, primary_key=True),
    sa.Column("escrow", Bytes, nullable=False),
    sa.Column("updated", Int, nullable=False),
)

auth_challenges = sa.Table(
    "auth_challenges",
    metadata,
    sa.Column("challenge", Bytes, primary_key=True),
    sa.Column("expires", Int, nullable=False, index=True),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("token_hash", Bytes, primary_key=True),
    sa.Column("device_id", Bytes, nullable=True),
    sa.Column("group_id", Bytes, nullable=True),
    sa.Column("invite_id", Bytes, nullable=True),
    sa.Column("expires", Int, nullable=False, index=True),
)

registration_tokens = sa.Table(
    "registration_tokens",
    metadata,
    sa.Column("token_hash", Bytes, primary_key=True),
    sa.Column("uses_left", Int, nullable=False),
    sa.Column("expires", Int, nullable=False),
)

rate_buckets = sa.Table(
    "rate_buckets",
    metadata,
    sa.Column("bucket", Bytes, primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False, index=True),
)
"""Rate-limit buckets shared by every process on one database (`ratelimit.Limits`): keyed by
kind and device id or group id, never by client address; deleted once idle for a minute."""
