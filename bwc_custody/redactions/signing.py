"""Signed copies: a redacted copy with the agency's C2PA manifest embedded for one request,
stored encrypted and recorded as a derivative of its own (kind `signed`).

It is made when the copy is submitted for legal review, so the file the reviewer watches and
whose SHA-256 they sign off is, byte for byte, the one the requester downloads
(provenance/README.md says why the manifest is signed before the review). The manifest names
the original by its SHA-256 only: nothing of the original is embedded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import socket
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bwc_custody.auth.service import Principal
from bwc_custody.config import get_settings
from bwc_custody.custody import service as custody
from bwc_custody.jobs.worker import work_root
from bwc_custody.redactions.errors import NotARedactedCopy
from bwc_custody.redactions.models import Derivative
from bwc_custody.timeutil import as_utc, video_clock
from bwc_custody.vault import service as vault
from bwc_custody.vault.models import StoredObject
from provenance.assertion import ReleaseAssertion
from provenance.c2pa_sign import SignedRelease, sign_release
from provenance.ca import AgencyCA
from storage.errors import IntegrityError
from storage.keys import Keyring
from storage.objectstore import ObjectStore

SIGNED_FORMAT = "bwc-signed-copy/1"


def _ranges(entries: Sequence[dict[str, Any]]) -> str:
    return ", ".join(f"{video_clock(e['start'])}-{video_clock(e['end'])}"
                     + (f" ({e['label']})" if e.get("label") else "") for e in entries)


def describe(derivative: Derivative) -> str:
    """What was redacted in this copy, in plain words (the C2PA `c2pa.edited` action's
    description and the release assertion's `redaction`): from the redaction's request and
    what the job found, never anything seen in the original."""
    params, parts = derivative.request or {}, []
    heads = " and every whole head" if params.get("heads") else ""
    if derivative.boxes:
        parts.append(f"every face{heads} blurred (automatic detection: {derivative.tracks} "
                     f"tracked, {derivative.boxes} boxes over {derivative.frames} frames)")
    else:
        parts.append(f"no face found to blur in {derivative.frames} frames")
    kept = len(params.get("keep_adults") or []) + len(params.get("keep_photos") or [])
    if kept:
        parts.append(f"{kept} person(s) left visible by reference photo")
    regions = params.get("regions") or {}
    for mode in ("blur", "black"):
        boxes = [b for b in regions.get("boxes", []) if b.get("mode", "blur") == mode]
        if boxes:
            verb = "blurred" if mode == "blur" else "blacked out"
            parts.append(f"{len(boxes)} area(s) {verb} by hand at {_ranges(boxes)}")
    if regions.get("blackout"):
        parts.append(f"picture blacked out at {_ranges(regions['blackout'])}")
    if regions.get("mute"):
        sound = "a tone" if params.get("mute_sound") == "bleep" else "silence"
        parts.append(f"sound replaced by {sound} at {_ranges(regions['mute'])}")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def _decrypt_to(path: Path, store: ObjectStore, keyring: Keyring, obj: StoredObject,
                expected_sha256: str) -> None:
    """Write the copy's plaintext to `path`, refusing bytes that are not the recorded ones."""
    hasher = hashlib.sha256()
    with open(path, "wb") as out:
        for chunk in vault.iter_plaintext(store=store, keyring=keyring, obj=obj):
            hasher.update(chunk)
            out.write(chunk)
    if hasher.hexdigest() != expected_sha256:
        raise IntegrityError(f"stored copy {obj.key} no longer hashes to {expected_sha256}",
                             key=obj.key, actual=hasher.hexdigest())


def _record(signed: SignedRelease, ca: AgencyCA, source: Derivative,
            release: ReleaseAssertion, title: str, edited_at: dt.datetime) -> dict[str, Any]:
    """What signing said, kept on the row and stored beside the file."""
    return {
        "format": SIGNED_FORMAT, "title": title, "sha256": signed.sha256, "size": signed.size,
        "signed_from": {"derivative_id": source.id, "sha256": source.sha256,
                        "size": source.size},
        "manifest_bytes": signed.manifest_bytes, "added_bytes": signed.added_bytes,
        "signer_id": signed.signer_id, "root_id": ca.root_id, "ca_source": ca.source,
        "timestamp_url": signed.timestamp_url,
        "tsa_attempts": [{"url": a.url, "reason": a.reason} for a in signed.tsa_attempts],
        "edited_at": as_utc(edited_at).isoformat(), "assertion": release.to_dict(),
    }


def sign_copy(*, session: Session, store: ObjectStore, keyring: Keyring, ca: AgencyCA,
              source: Derivative, release: ReleaseAssertion, title: str, actor: Principal,
              tsa_urls: Sequence[str] = (), client_addr: str = "") -> Derivative:
    """A new derivative: `source` (a redacted copy) with `release` embedded as a C2PA
    manifest signed by the agency's CA, stored encrypted with its signing record; logged as
    `derivative.sign` on the recording. Returns the signed copy's row."""
    if source.kind != "redacted":
        raise NotARedactedCopy(
            f"derivative {source.id} is a {source.kind} copy: submit the redacted copy it "
            "was made from (each submission is signed for its own request)",
            derivative_id=source.id, kind=source.kind, signed_from=source.signed_from)
    obj = session.get(StoredObject, source.object_key)
    if obj is None:
        raise IntegrityError(f"derivative {source.id} has no stored video",
                             derivative_id=source.id)
    edited_at = as_utc(source.created_at)
    new_id = str(uuid.uuid4())
    prefix = f"derivatives/{source.evidence_id}/{new_id}"
    published: list[str] = []
    # Named like a worker's scratch directory (host_pid_...) so a crash mid-signing leaves
    # nothing that the next sweep does not remove; mkdtemp makes it 0700.
    scratch = tempfile.TemporaryDirectory(
        prefix=f"{socket.gethostname()}_{os.getpid()}_sign-", dir=work_root(get_settings().home))
    try:
        with scratch as tmp:
            plain = Path(tmp) / "redacted.mp4"
            _decrypt_to(plain, store, keyring, obj, source.sha256)
            signed = sign_release(source=plain, dest=Path(tmp) / "signed.mp4",
                                  credentials=ca.signing_credentials(), release=release,
                                  edited_at=edited_at, title=title, tsa_urls=tsa_urls)
            record = _record(signed, ca, source, release, title, edited_at)
            with open(signed.path, "rb") as fh:
                video = vault.store_plaintext(
                    session=session, store=store, keyring=keyring, source=fh,
                    key=f"{prefix}/signed.mp4", object_id=uuid.uuid4(), kind="derivative",
                    expected_sha256=signed.sha256)
            published.append(video.key)
        manifest = vault.store_plaintext(
            session=session, store=store, keyring=keyring, key=f"{prefix}/c2pa.json",
            source=io.BytesIO(json.dumps(record, indent=2, sort_keys=True).encode()),
            object_id=uuid.uuid4(), kind="manifest")
        published.append(manifest.key)
    except BaseException:
        for key in published:  # nothing half-made stays in the store
            try:
                store.delete(key)
            except Exception:  # noqa: S110 - best effort; an orphan is unreferenced ciphertext
                pass
        raise
    row = Derivative(
        id=new_id, evidence_id=source.evidence_id, job_id=None, kind="signed",
        object_key=video.key, manifest_key=manifest.key, sha256=video.sha256,
        size=video.size, manifest_sha256=manifest.sha256, source_sha256=source.source_sha256,
        frames=source.frames, boxes=source.boxes, tracks=source.tracks,
        review_flags=source.review_flags, flags=source.flags, warnings=source.warnings,
        request=source.request, requested_by=actor.username,
        label=f"signed for request {release.request_id}"[:120],
        signed_from=source.id, c2pa=record)
    session.add(row)
    session.flush()
    custody.append(session=session, actor=actor, action="derivative.sign",
                   target_type="evidence", target_id=source.evidence_id,
                   client_addr=client_addr,
                   details={"derivative_id": row.id, "sha256": row.sha256, "size": row.size,
                            "signed_from": source.id, "source_sha256": source.sha256,
                            "request_id": release.request_id, "signer_id": signed.signer_id,
                            "root_id": ca.root_id, "manifest_bytes": signed.manifest_bytes,
                            "timestamp_url": signed.timestamp_url})
    return row
