"""tus 1.0 endpoints under /api/v1/uploads, plus the finalise step that takes custody."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from bwc_custody.auth.service import Principal
from bwc_custody.config import get_settings
from bwc_custody.db import BIGINT_MAX
from bwc_custody.deps import PUBLIC, ClientAddr, SessionDep, allow, body_limit
from bwc_custody.evidence.models import Receipt
from bwc_custody.flows import ingest
from bwc_custody.roles import Role
from bwc_custody.uploads import service
from bwc_custody.uploads.errors import BadContentType, TusVersionUnsupported
from bwc_custody.uploads.staging import discard_staging
from bwc_custody.vault.service import get_keyring, get_signer, get_store

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,checksum,termination"
FEED_BATCH = 4 * 1024 * 1024

router = APIRouter(prefix="/uploads", tags=["uploads"])
Uploader = Annotated[Principal, Depends(allow(Role.dock, Role.officer))]


def _tus_headers(response: Response) -> None:
    response.headers["Tus-Resumable"] = TUS_VERSION
    response.headers["Cache-Control"] = "no-store"


def _require_tus(tus_resumable: str | None) -> None:
    if tus_resumable != TUS_VERSION:
        raise TusVersionUnsupported(
            f"Tus-Resumable must be {TUS_VERSION}", supported=TUS_VERSION
        )



@router.options("", dependencies=[Depends(allow(PUBLIC))], status_code=204)
def tus_options(response: Response) -> Response:
    """Server capabilities (tus discovery)."""
    response.status_code = 204
    response.headers["Tus-Version"] = TUS_VERSION
    response.headers["Tus-Extension"] = TUS_EXTENSIONS
    response.headers["Tus-Checksum-Algorithm"] = "sha256"
    response.headers["Tus-Max-Size"] = str(get_settings().max_upload_bytes)
    _tus_headers(response)
    return response


@router.post("", status_code=201)
def create_upload(
    request: Request, addr: ClientAddr,
    response: Response,
    session: SessionDep,
    actor: Uploader,
    upload_length: Annotated[int, Header(le=BIGINT_MAX)],
    tus_resumable: Annotated[str | None, Header()] = None,
    upload_metadata: Annotated[str | None, Header()] = None,
) -> Response:
    """tus creation: open an upload of Upload-Length bytes."""
    _require_tus(tus_resumable)
    upload = service.create(
        session=session, keyring=get_keyring(), actor=actor, length=upload_length,
        metadata=service.parse_upload_metadata(upload_metadata), client_addr=addr,
    )
    response.status_code = 201
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{upload.id}"
    response.headers["Upload-Offset"] = "0"
    _tus_headers(response)
    return response


@router.head("/{upload_id}")
def upload_status(
    upload_id: str, response: Response, session: SessionDep, actor: Uploader,
    tus_resumable: Annotated[str | None, Header()] = None,
) -> Response:
    """tus core: where to resume."""
    _require_tus(tus_resumable)
    upload = service.get_owned_or_raise(session=session, upload_id=upload_id, actor=actor)
    response.status_code = 200
    response.headers["Upload-Offset"] = str(upload.offset)
    response.headers["Upload-Length"] = str(upload.length)
    _tus_headers(response)
    return response


# streamed to disk in batches, bounded by the upload's length (never read whole)
@router.patch("/{upload_id}", status_code=204, openapi_extra=body_limit(None))
async def append_bytes(
    upload_id: str,
    request: Request,
    response: Response,
    session: SessionDep,
    actor: Uploader,
    upload_offset: Annotated[int, Header(le=BIGINT_MAX)],
    content_type: Annotated[str | None, Header()] = None,
    tus_resumable: Annotated[str | None, Header()] = None,
    upload_checksum: Annotated[str | None, Header()] = None,
) -> Response:
    """tus core: append bytes at Upload-Offset (encrypted before they touch disk)."""
    _require_tus(tus_resumable)
    if (content_type or "").split(";")[0].strip() != "application/offset+octet-stream":
        raise BadContentType("Content-Type must be application/offset+octet-stream")
    expected = service.parse_checksum(upload_checksum)
    # Async to receive the body as it streams; everything that blocks (the database, the
    # disk, the cipher) runs on worker threads, never on the event loop: there, 20 uploads
    # froze every other request of the server (#22 finding 7).
    append = await run_in_threadpool(
        lambda: service.begin_append(session=session, keyring=get_keyring(),
                                     upload_id=upload_id, actor=actor, offset=upload_offset))
    try:
        chunk_hash = hashlib.sha256()
        parts: list[bytes] = []
        pending = 0
        disconnected = False
        # Double buffering: the next batch is received while the previous one is hashed,
        # encrypted and written on a worker thread (one batch in flight keeps the order).
        in_flight: asyncio.Future[None] | None = None
        try:
            async for part in request.stream():
                parts.append(part)
                pending += len(part)
                if pending >= FEED_BATCH:
                    if in_flight is not None:
                        await in_flight
                    in_flight = asyncio.ensure_future(
                        run_in_threadpool(append.staging.feed, b"".join(parts), chunk_hash))
                    parts, pending = [], 0
        except ClientDisconnect:
            disconnected = True
        finally:
            if in_flight is not None:
                await in_flight
        if parts:
            await run_in_threadpool(append.staging.feed, b"".join(parts), chunk_hash)
        upload = await run_in_threadpool(
            lambda: service.finish_append(session=session, append=append, expected=expected,
                                          received=chunk_hash.digest(),
                                          disconnected=disconnected))
    finally:
        await run_in_threadpool(append.close)
    response.status_code = 204
    response.headers["Upload-Offset"] = str(upload.offset)
    _tus_headers(response)
    return response


@router.delete("/{upload_id}", status_code=204)
def terminate_upload(
    upload_id: str, addr: ClientAddr, response: Response, session: SessionDep, actor: Uploader,
    tus_resumable: Annotated[str | None, Header()] = None,
) -> Response:
    """tus termination."""
    _require_tus(tus_resumable)
    upload = service.get_owned_or_raise(session=session, upload_id=upload_id, actor=actor)
    service.terminate(session=session, upload=upload, actor=actor, client_addr=addr)
    response.status_code = 204
    _tus_headers(response)
    return response


@router.post("/{upload_id}/finalize", response_model=Receipt)
def finalize_upload(
    upload_id: str,
    addr: ClientAddr,
    session: SessionDep,
    actor: Uploader,
    body: Annotated[dict[str, Any], Body(
        description="Dock metadata (officer_id, device_serial, recorded_at, campus, "
        "case_number, category, involves_juvenile, incident_type, extra) and the "
        "expected `sha256`.",
    )],
) -> Receipt:
    """Take a complete upload into custody; returns the evidence id and a signed receipt."""
    upload = service.get_owned_or_raise(session=session, upload_id=upload_id, actor=actor)
    already = upload.status == "finalized"
    receipt = ingest.finalize_upload(
        session=session, store=get_store(), keyring=get_keyring(), signer=get_signer(),
        upload=upload, body=body, actor=actor, client_addr=addr,
    )
    if not already:
        session.commit()
        discard_staging(upload.id)
    return receipt
