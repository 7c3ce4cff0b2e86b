"""The path parameters routes share: documented once, decoded into raw ids."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter

from ..ids import path_id

GroupIdParam = Annotated[
    str, Parameter(description="The group id: unpadded base64url of 32 bytes (43 characters).")
]
EntryIdParam = Annotated[
    str, Parameter(description="The entry id: unpadded base64url of 16 bytes (22 characters).")
]
AttachmentIdParam = Annotated[
    str, Parameter(description="The attachment id: unpadded base64url of 16 bytes (22 characters).")
]
InviteIdParam = Annotated[
    str, Parameter(description="The invite id: unpadded base64url of 32 bytes (43 characters).")
]
IndexParam = Annotated[int, Parameter(ge=0, le=2**31, description="Chunk index, from 0.")]


def group_id(value: str) -> bytes:
    return path_id(value, 32, "group_id")


def entry_id(value: str) -> bytes:
    return path_id(value, 16, "entry_id")


def attachment_id(value: str) -> bytes:
    return path_id(value, 16, "attachment_id")


def invite_id(value: str) -> bytes:
    return path_id(value, 32, "invite_id")
