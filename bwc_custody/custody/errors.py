"""Custody-log errors."""

from bwc_custody.errors import BwcError


class CheckpointNotFound(BwcError):
    code = "checkpoint_not_found"
    status = 404


class EntryNotFound(BwcError):
    code = "custody_entry_not_found"
    status = 404


class ProofUnavailable(BwcError):
    """A proof was asked for sizes the log cannot prove (beyond its end, or reversed)."""

    code = "proof_unavailable"
    status = 422


class PackageExists(BwcError):
    code = "package_exists"
    status = 409
