"""Taking footage in, and what follows a new recording in other domains: the officer's tags
and the district's 3-day notices from its metadata, and a person count queued for every
video (so campus footage gets its juvenile and multi-student tags without anyone having to
remember to ask), all in the transaction that records the recording."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bwc_custody.auth.service import Principal
from bwc_custody.config import get_settings
from bwc_custody.db import session_scope
from bwc_custody.evidence import service as evidence_service
from bwc_custody.evidence.models import DockMetadata, Receipt
from bwc_custody.evidence.service import Admission
from bwc_custody.flows import tagging
from bwc_custody.jobs import service as jobs
from bwc_custody.uploads import service as uploads
from bwc_custody.uploads.models import Upload
from bwc_custody.vault import service as vault
from storage.keys import Keyring, Signer
from storage.objectstore import ObjectStore


def _follow_up(session: Session, admission: Admission, actor: Principal,
               client_addr: str) -> Receipt:
    evidence = admission.evidence
    if evidence is None:  # already in custody: its follow-ups were done when it arrived
        return admission.receipt
    tagging.apply_officer_metadata(session=session, evidence=evidence, actor=actor,
                                   client_addr=client_addr)
    if evidence.media_status == "video" and get_settings().auto_analyze:
        jobs.enqueue(session=session, kind="analysis", actor=actor, evidence_id=evidence.id,
                     params={"trigger": "ingest"}, client_addr=client_addr)
    return admission.receipt


def ingest_stream(*, session: Session, store: ObjectStore, keyring: Keyring, signer: Signer,
                  source: BinaryIO, metadata: DockMetadata, actor: Principal,
                  expected_sha256: str | None = None, client_addr: str = "",
                  on_progress: Callable[[int], None] | None = None) -> Receipt:
    """Take a file into custody (`evidence.service.ingest_stream`) and follow it up."""
    admission = evidence_service.ingest_stream(
        session=session, store=store, keyring=keyring, signer=signer, source=source,
        metadata=metadata, actor=actor, expected_sha256=expected_sha256,
        client_addr=client_addr, on_progress=on_progress)
    return _follow_up(session, admission, actor, client_addr)


def finalize_upload(*, session: Session, store: ObjectStore, keyring: Keyring, signer: Signer,
                    upload: Upload, body: dict[str, Any], actor: Principal,
                    client_addr: str = "") -> Receipt:
    """Take a finished upload into custody (`uploads.service.finalize`) and follow it up."""
    admission = uploads.finalize(session=session, store=store, keyring=keyring, signer=signer,
                                 upload=upload, body=body, actor=actor,
                                 client_addr=client_addr)
    return _follow_up(session, admission, actor, client_addr)


def recover_interrupted(engine: Engine) -> list[Receipt]:
    """Finish, with their follow-ups, the ingests that died after publishing an original
    and before recording it (`evidence.service.recover_interrupted`); the workers run this
    as housekeeping."""
    with session_scope(engine) as session:
        admissions = evidence_service.recover_interrupted(
            session=session, store=vault.get_store(), keyring=vault.get_keyring(),
            signer=vault.get_signer())
        return [_follow_up(session, a, Principal(
            user_id=None, username=a.evidence.ingested_by if a.evidence else "recovery",
            roles=frozenset()), "") for a in admissions]
