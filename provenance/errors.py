"""Provenance errors, each with a stable code and HTTP status.

Each is a `bwc_custody.errors.BwcError` (as `storage/` and `redaction/` errors are), so the
one API handler and the CLI render them like any domain error; this package imports no
domain package.
"""

from __future__ import annotations

from bwc_custody.errors import BwcError


class ProvenanceError(BwcError):
    """Base of every provenance failure a user may see."""

    code = "provenance_error"
    status = 500


class CaMissing(ProvenanceError):
    """No agency certificate authority in the directory (`bwc init` makes one)."""

    code = "ca_missing"
    status = 500


class CaExists(ProvenanceError):
    """A certificate authority is already there: creating or importing would replace the
    credentials released files were signed with."""

    code = "ca_exists"
    status = 409


class CaImported(ProvenanceError):
    """The signing certificate came from the agency's own CA: we hold no root key to issue
    a new one, so rotation happens at that CA and the result is imported."""

    code = "ca_imported"
    status = 409


class InvalidCertificateChain(ProvenanceError):
    """An imported chain or key fails a check C2PA signing needs; `details["check"]` names
    which (parse, order, no_root, self_signed_leaf, leaf_is_ca, key_usage, eku,
    key_mismatch, key_type, validity)."""

    code = "invalid_certificate_chain"
    status = 422


class UnsupportedMedia(ProvenanceError):
    """The file to sign is not an MP4 (ISO BMFF) video."""

    code = "unsupported_media"
    status = 422


class OutputIsInput(ProvenanceError):
    """The signed copy would overwrite the file it is made from."""

    code = "output_is_input"
    status = 422


class SigningFailed(ProvenanceError):
    """The C2PA library refused to sign (the message says why)."""

    code = "c2pa_signing_failed"
    status = 500


class TsaNotConfigured(ProvenanceError):
    """A timestamp was asked for with no Time Stamping Authority URL configured."""

    code = "tsa_not_configured"
    status = 409


class TsaUnavailable(ProvenanceError):
    """No configured TSA gave a usable timestamp (down, refused, or a token that did not
    verify); `details["attempts"]` says why for each URL. Retry later: the checkpoint
    itself is already signed and stored."""

    code = "tsa_unavailable"
    status = 503
