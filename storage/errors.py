"""Storage errors, each with a stable code."""

from __future__ import annotations

from bwc_custody.errors import BwcError


class ObjectExists(BwcError):
    """A second write to a write-once key."""

    code = "object_exists"
    status = 409


class ObjectMissing(BwcError):
    code = "object_missing"
    status = 404


class ObjectLocked(BwcError):
    """Deletion or shortening refused by retention or legal hold."""

    code = "object_locked"
    status = 409


class StorageUnavailable(BwcError):
    """The store cannot take or give bytes now (disk full, S3 unreachable); retry later."""

    code = "storage_unavailable"
    status = 503


class IntegrityError(BwcError):
    """Ciphertext failed authentication: tampered, truncated, reordered or spliced."""

    code = "integrity_error"
    status = 500


class KeyMissing(BwcError):
    code = "key_missing"
    status = 500
