"""Evidence errors."""

from bwc_custody.errors import BwcError
from bwc_custody.vault.errors import ObjectDisposed


class EmptyFile(BwcError):
    """A zero-byte file carries no footage; a dock sending one has a fault to report."""

    code = "empty_file"
    status = 422


class InvalidMetadata(BwcError):
    code = "invalid_metadata"
    status = 422


class EvidenceNotFound(BwcError):
    code = "evidence_not_found"
    status = 404


class DuplicateEvidence(Exception):
    """Internal signal: the content is already in custody as `evidence` (not an error)."""

    def __init__(self, evidence_id: str) -> None:
        super().__init__(evidence_id)
        self.evidence_id = evidence_id


class AlreadyPublished(Exception):
    """Internal signal: an ingest that died after publishing this content left its object;
    it is adopted instead of publishing another copy (not an error)."""


class EvidenceDisposed(ObjectDisposed):
    """The recording was destroyed under its retention schedule; the custody log keeps
    its hash and the disposition entry, nothing can be read, queued or requested of it."""
