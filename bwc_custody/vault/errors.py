"""Vault errors."""

from bwc_custody.errors import BwcError


class HashMismatch(BwcError):
    """The plaintext's SHA-256 differs from what the uploader said it sent."""

    code = "hash_mismatch"
    status = 422


class ObjectDisposed(BwcError):
    """The stored object was destroyed with its recording under the retention schedule."""

    code = "evidence_disposed"
    status = 410
