"""Publishing checkpoint heads to witnesses or transparency logs (optional, off by default:
BWC_WITNESS_URL).

A timestamp says when a checkpoint existed; a witness outside the agency holding the heads
it was shown makes a fork (one history shown to one party, another to the next) or a
rollback of the newest checkpoints visible to anyone who compares. Each head goes out as a
signed note in the tlog-checkpoint format (C2SP; what Trillian Tessera and witnesses read):

    <origin>\\n<tree size>\\n<base64 root hash>\\n\\n— <origin> <base64(key hash || Ed25519 sig)>\\n

signed by the server's Ed25519 key (key hash: the first 4 bytes of SHA-256(name || "\\n" ||
0x01 || public key), C2SP signed-note). Only the newest head is sent (it covers the older
ones); like a timestamp, it is sent after the checkpoint committed and retried by the
worker while a witness is down.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bwc_custody.custody.models import Checkpoint, CheckpointPublication
from bwc_custody.custody.service import latest_checkpoint
from bwc_custody.db import session_scope
from storage.keys import Signer

NOTE_TYPE = "text/plain; charset=utf-8"
TIMEOUT_S = 10.0
ED25519 = b"\x01"  # the signed-note signature type of Ed25519


def note_body(*, origin: str, tree_size: int, root_hash: str) -> str:
    """The checkpoint text a note signs: origin, size, base64 root, each on its own line."""
    root = base64.b64encode(bytes.fromhex(root_hash)).decode()
    return f"{origin}\n{tree_size}\n{root}\n"


def key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte key hash a signed-note signature line starts with."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + raw).digest()[:4]


def signed_note(*, origin: str, cp: Checkpoint, signer: Signer) -> bytes:
    """Checkpoint `cp` as a tlog-checkpoint note signed by `signer` under `origin`."""
    body = note_body(origin=origin, tree_size=cp.tree_size, root_hash=cp.root_hash)
    signature = base64.b64decode(signer.sign(body.encode()))
    line = base64.b64encode(key_hash(origin, signer.public_key) + signature).decode()
    return f"{body}\n\u2014 {origin} {line}\n".encode()


@dataclass
class PublishOutcome:
    """One pass of `publish_newest`: the witnesses that took the head, and those that did not
    (retried on the next pass) with why."""

    index: int | None = None
    published: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"checkpoint": self.index, "published": self.published, "failed": self.failed}


def publish_newest(*, engine: Engine, signer: Signer, urls: Sequence[str], origin: str,
                   timeout_s: float = TIMEOUT_S) -> PublishOutcome:
    """POST the newest checkpoint's note to each witness that has not yet taken it (or a
    newer one), and record each that answers 2xx. No transaction is open during a POST."""
    outcome = PublishOutcome()
    with session_scope(engine) as session:
        newest = latest_checkpoint(session=session)
        if newest is None or not urls:
            return outcome
        done = set(session.exec(select(CheckpointPublication.witness_url).where(
            col(CheckpointPublication.checkpoint_index) >= newest.index)))
        note = signed_note(origin=origin, cp=newest, signer=signer)
        outcome.index = newest.index
    for url in urls:
        if url in done:
            continue
        try:
            reply = httpx.post(url, content=note, timeout=timeout_s,
                               headers={"Content-Type": NOTE_TYPE})
        except httpx.HTTPError as exc:
            outcome.failed[url] = f"unreachable: {exc.__class__.__name__}: {exc}"
            continue
        if not 200 <= reply.status_code < 300:
            outcome.failed[url] = f"HTTP {reply.status_code}: {reply.text[:200]}"
            continue
        try:
            with session_scope(engine) as session:
                session.add(CheckpointPublication(
                    checkpoint_index=outcome.index, witness_url=url[:500],
                    note_sha256=hashlib.sha256(note).hexdigest(),
                    status_code=reply.status_code))
        except IntegrityError:  # another worker recorded the same head first
            pass
        outcome.published.append(url)
    return outcome
