"""Uploaded lockboxes must be exactly the ones a rotation op commits to, by hash.

The op commits to every lockbox by hash; storing one that does not match would
let the server (or an uploader) hand a device a key nobody signed for.
"""

from __future__ import annotations

from chatham.crypto import Rotation, lockbox_hash

from ..errors import ErrorCode, ServiceError
from ..wire import Lockbox


def rotation_of(op_body: object) -> Rotation | None:
    """The rotation an op carries (rotate, add, remove), if any."""
    rot = getattr(op_body, "rotation", None)
    return rot if isinstance(rot, Rotation) else None


def _refused(detail: str) -> ServiceError:
    return ServiceError(ErrorCode.INVALID_LOCKBOXES, detail, field="lockboxes")


def check_lockboxes(
    group_id: bytes, rotation: Rotation | None, uploads: list[Lockbox]
) -> dict[bytes, bytes]:
    """The uploaded lockboxes by device, if they are exactly the rotation's refs, each hashing
    to its ref; else 422 `invalid_lockboxes`."""
    if rotation is None:
        if uploads:
            raise _refused("this op carries no rotation, so no lockboxes")
        return {}
    by_device: dict[bytes, bytes] = {}
    for up in uploads:
        if up.device in by_device:
            raise _refused("two lockboxes for one device")
        by_device[up.device] = up.lockbox
    refs = {r.device: r.hash for r in rotation.refs}
    if set(by_device) != set(refs):
        raise _refused("lockboxes must cover exactly the devices the rotation names")
    for device, sealed in by_device.items():
        if lockbox_hash(group_id, rotation.epoch, device, sealed) != refs[device]:
            raise _refused("a lockbox does not match the hash the op commits to")
    return by_device
