"""Evidence routes: list and read metadata, watch the original, export a package, and the
server's public key for receipts."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

from bwc_custody.auth.service import Principal
from bwc_custody.db import get_engine
from bwc_custody.deps import (
    PUBLIC,
    ClientAddr,
    Custodian,
    Decider,
    RangeHeader,
    SessionDep,
    ViewingReason,
    allow,
    stream_range,
)
from bwc_custody.errors import Forbidden
from bwc_custody.evidence import service
from bwc_custody.evidence.models import EvidenceRead
from bwc_custody.evidence.package import build_package
from bwc_custody.flows import recordings
from bwc_custody.flows.recordings import RecordingQuery, RecordingRow
from bwc_custody.roles import Role
from bwc_custody.vault.service import get_agency_ca, get_keyring, get_signer, get_store
from provenance.ca import cert_id

router = APIRouter(tags=["evidence"])
MetadataReader = Annotated[Principal, Depends(allow(Role.officer, Role.custodian,
                                                    Role.legal_reviewer, Role.auditor))]


class PublicKey(BaseModel):
    key_id: str
    algorithm: str
    public_key_pem: str
    # public keys retired by `bwc keys rotate-signing`, by key id: what they signed verifies
    retired: dict[str, str] = {}


class ContentCredentialRoots(BaseModel):
    """The roots a released file's C2PA manifest is checked against: the active one and
    every one retired by `bwc keys rotate-c2pa --root` or an import (what they signed still
    verifies as trusted)."""

    root_id: str
    signer_id: str
    root_ids: list[str]
    roots_pem: str


def _officer_only_own(actor: Principal) -> str | None:
    # Officers see their own uploads' metadata only; custodial roles see all.
    if actor.has_any({Role.custodian, Role.legal_reviewer, Role.auditor}):
        return None
    return actor.username


@router.get("/evidence", response_model=list[RecordingRow])
def list_evidence(session: SessionDep, actor: MetadataReader, response: Response,
                  query: Annotated[RecordingQuery, Query()]) -> list[RecordingRow]:
    """Recordings matching the filters, newest first, `limit` from `offset` (the total in
    the `X-Total-Count` header). Staff also see each one's tags in force, live requests and
    retention state; an officer sees only their own uploads' metadata."""
    found = recordings.search(session=session, query=query,
                              officer_only=_officer_only_own(actor))
    response.headers["X-Total-Count"] = str(found.total)
    return found.rows


@router.get("/evidence/{evidence_id}", response_model=EvidenceRead)
def get_evidence(evidence_id: str, session: SessionDep, actor: MetadataReader) -> EvidenceRead:
    """One evidence item's metadata."""
    evidence = service.get_or_raise(session=session, evidence_id=evidence_id)
    own = _officer_only_own(actor)
    if own is not None and evidence.officer_id != own:
        raise Forbidden("officers see only their own uploads")
    return EvidenceRead.model_validate(evidence)


@router.get("/keys/signing", response_model=PublicKey, dependencies=[Depends(allow(PUBLIC))])
def signing_key() -> PublicKey:
    """The public key that verifies receipts and checkpoints."""
    signer = get_signer()
    return PublicKey(key_id=signer.key_id, algorithm="Ed25519", public_key_pem=signer.public_pem,
                     retired=signer.retired_pems())


@router.get("/keys/c2pa", response_model=ContentCredentialRoots,
            dependencies=[Depends(allow(PUBLIC))])
def c2pa_roots() -> ContentCredentialRoots:
    """The agency's content-credentials (C2PA) roots: `bwc verify-file FILE --root` with
    `roots_pem` says whether a released file is the agency's, unaltered."""
    ca = get_agency_ca()
    roots = ca.trusted_roots()
    return ContentCredentialRoots(root_id=ca.root_id, signer_id=ca.signer_id,
                                  root_ids=[cert_id(c) for c in roots],
                                  roots_pem=ca.trusted_roots_pem())


@router.get("/keys/c2pa/roots.pem", response_class=PlainTextResponse,
            dependencies=[Depends(allow(PUBLIC))])
def c2pa_roots_pem() -> PlainTextResponse:
    """The same roots as one PEM file, for C2PA tools that take trust anchors as a file."""
    return PlainTextResponse(get_agency_ca().trusted_roots_pem(),
                             media_type="application/x-pem-file")


@router.get("/evidence/{evidence_id}/content")
def stream_content(evidence_id: str, session: SessionDep, actor: Decider, addr: ClientAddr,
                   reason: ViewingReason, wanted: RangeHeader = "") -> StreamingResponse:
    """Stream the original footage, or one byte range of it (recorded as `evidence.stream`,
    with the reason and the range)."""
    evidence, reader = service.open_original(
        session=session, store=get_store(), keyring=get_keyring(), evidence_id=evidence_id,
        actor=actor, reason=reason, wanted=wanted, client_addr=addr)
    return stream_range(session, reader, wanted, media_type="application/octet-stream",
                        sha256=evidence.sha256)


@router.post("/evidence/{evidence_id}/package")
async def package(evidence_id: str, actor: Custodian, addr: ClientAddr,
                  reason: ViewingReason) -> FileResponse:
    """An evidence package (zip): original, SHA-256, proven custody entries, key, verifier."""
    work = Path(tempfile.mkdtemp(prefix="bwc-package-"))
    try:
        # the store, keys and signer are opened on the worker thread too (disk, network):
        # nothing blocking runs on the event loop
        await run_in_threadpool(lambda: build_package(
            engine=get_engine(), store=get_store(), keyring=get_keyring(),
            signer=get_signer(), c2pa_roots_pem=get_agency_ca().trusted_roots_pem(),
            evidence_id=evidence_id, out=work / "package", actor=actor,
            reason=reason, client_addr=addr))
        archive = await run_in_threadpool(shutil.make_archive, str(work / evidence_id), "zip",
                                          work / "package")
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(archive, media_type="application/zip",
                        filename=f"evidence-{evidence_id}.zip",
                        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True))
