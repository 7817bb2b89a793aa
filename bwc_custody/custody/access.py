"""Reading footage through the API: every view is on record before a byte leaves."""

from __future__ import annotations

from collections.abc import Iterator

from sqlmodel import Session

from bwc_custody.auth.service import Principal
from bwc_custody.custody import service as custody
from bwc_custody.evidence import service as evidence_service
from bwc_custody.evidence.models import Evidence
from bwc_custody.vault import service as vault
from bwc_custody.vault.models import StoredObject
from storage.errors import IntegrityError
from storage.keys import Keyring
from storage.objectstore import ObjectStore


def stream_original(
    *,
    session: Session,
    store: ObjectStore,
    keyring: Keyring,
    evidence_id: str,
    actor: Principal,
    reason: str,
    client_addr: str = "",
) -> tuple[Evidence, Iterator[bytes]]:
    """Record an `evidence.stream` entry and return the original's authenticated plaintext."""
    evidence = evidence_service.get_or_raise(session=session, evidence_id=evidence_id)
    obj = session.get(StoredObject, evidence.object_key)
    if obj is None:
        raise IntegrityError(f"evidence {evidence_id} has no stored object",
                             evidence_id=evidence_id)
    chunks = vault.iter_plaintext(store=store, keyring=keyring, obj=obj)
    custody.append(session=session, actor=actor, action="evidence.stream",
                   target_type="evidence", target_id=evidence_id, client_addr=client_addr,
                   reason=reason, details={"sha256": evidence.sha256, "size": evidence.size})
    return evidence, chunks
