"""Publishing checkpoint heads to witnesses (optional, off by default: BWC_WITNESS_URL),
by the C2SP tlog-witness protocol's `add-checkpoint` call (https://c2sp.org/tlog-witness).

A timestamp says when a checkpoint existed; a witness outside the agency holding the heads
it was shown makes a fork (one history shown to one party, another to the next) or a
rollback of the newest checkpoints visible to anyone who compares. Each head goes out as a
signed note in the tlog-checkpoint format (C2SP; what Trillian Tessera and witnesses read):

    <origin>\\n<tree size>\\n<base64 root hash>\\n\\n— <origin> <base64(key hash || Ed25519 sig)>\\n

signed by the server's Ed25519 key (key hash: the first 4 bytes of SHA-256(name || "\\n" ||
0x01 || public key), C2SP signed-note). The request (tlog-witness, "add-checkpoint") is

    POST <BWC_WITNESS_URL>/add-checkpoint
    old <size this witness last cosigned, 0 the first time>\\n
    <base64 hash>\\n ...   RFC 6962 §2.1.2 consistency proof from that size (none for 0)
    \\n
    <the signed checkpoint note>

The old size comes from checkpoint_publication (the largest head this witness took). A
witness holding another size answers 409 Conflict with `text/x.tlog.size` (its size and a
newline); we retry once from that size, and report (never loop) anything else: 422 when
the proof does not verify against the head it holds (a fork, or a rollback on our side), a
size beyond our newest checkpoint, 403 an unknown key, 404 an unknown origin. 200 answers
the witness's cosignature (signed-note lines, C2SP tlog-cosignature), kept in
checkpoint_publication.cosignature. With BWC_WITNESS_KEYS (the witnesses' verifier keys,
C2SP signed-note form `name+keyhash+base64(type || key)`) a cosignature is kept only when
one of its lines verifies under one of them: a cosignature/v1 (type 0x04) signs
"cosignature/v1\ntime <t>\n" + the checkpoint text, a plain Ed25519 note signature (type
0x01) the checkpoint text; an answer that does not verify counts as not taken, is reported
and retried. Only the newest head is sent (it covers the older
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
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bwc_custody.custody.models import Checkpoint, CheckpointPublication
from bwc_custody.custody.service import consistency_proof, latest_checkpoint
from bwc_custody.db import session_scope
from storage.keys import Signer
from storage.signed_note import ED25519, WitnessKey, cosigned_by

NOTE_TYPE = "text/plain; charset=utf-8"
TIMEOUT_S = 10.0
ADD_CHECKPOINT = "/add-checkpoint"
SIZE_TYPE = "text/x.tlog.size"  # a 409's body: the size the witness holds


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


def add_checkpoint_url(url: str) -> str:
    """The add-checkpoint endpoint under a witness's submission prefix (a URL already
    ending in /add-checkpoint is taken as the endpoint itself)."""
    url = url.rstrip("/")
    return url if url.endswith(ADD_CHECKPOINT) else url + ADD_CHECKPOINT


def request_body(*, old: int, proof: Sequence[bytes], note: bytes) -> bytes:
    """An add-checkpoint body: the old size line, one base64 proof hash a line, a blank line,
    the signed note."""
    lines = [f"old {old}\n", *(base64.b64encode(h).decode() + "\n" for h in proof), "\n"]
    return "".join(lines).encode() + note


def parse_cosignature(text: str) -> str | None:
    """The witness's 200 body when it is one or more signed-note lines ("— name sig"), each
    ending in a newline; None when it is not."""
    lines = text.split("\n")
    if len(lines) < 2 or lines[-1] != "":
        return None
    for line in lines[:-1]:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "\u2014" or not parts[1]:
            return None
        try:
            base64.b64decode(parts[2], validate=True)
        except ValueError:
            return None
    return text


def _accepted_sizes(session: Session) -> dict[str, int]:
    """Per witness URL, the largest tree size it took (the next request's old size)."""
    stmt = (select(CheckpointPublication.witness_url, func.max(Checkpoint.tree_size))
            .join(Checkpoint, col(Checkpoint.index) == col(CheckpointPublication.checkpoint_index))
            .group_by(col(CheckpointPublication.witness_url)))
    return {url: int(size) for url, size in session.exec(stmt)}


class _Proofs:
    """Consistency proofs to the newest head, computed once per old size in a pass (each
    reads the log's leaves), each in a short read transaction of its own."""

    def __init__(self, engine: Engine, size: int) -> None:
        self.engine, self.size = engine, size
        self._done: dict[int, list[bytes]] = {}

    def __call__(self, old: int) -> list[bytes]:
        if old in (0, self.size):  # tlog-witness: no proof from 0; none needed to itself
            return []
        if old not in self._done:
            with session_scope(self.engine) as session:
                proof = consistency_proof(session=session, first=old, second=self.size)
            self._done[old] = [bytes.fromhex(h) for h in proof.path]
        return self._done[old]


def _conflict_size(reply: httpx.Response) -> int | None:
    """The witness's size from a 409 answer in text/x.tlog.size; None for any other 409
    (same size, another root)."""
    if not reply.headers.get("Content-Type", "").startswith(SIZE_TYPE):
        return None
    text = reply.text
    if not text.endswith("\n") or not text[:-1].isdigit():
        return None
    return int(text[:-1])


def publish_newest(*, engine: Engine, signer: Signer, urls: Sequence[str], origin: str,
                   keys: Sequence[WitnessKey] = (),
                   timeout_s: float = TIMEOUT_S) -> PublishOutcome:
    """Send the newest checkpoint to each witness that has not yet taken it (or a newer one)
    by tlog-witness add-checkpoint, and record each cosignature (with `keys`: only one that
    verifies under one of them). No transaction is open during a POST."""
    outcome = PublishOutcome()
    with session_scope(engine) as session:
        newest = latest_checkpoint(session=session)
        if newest is None or not urls:
            return outcome
        done = set(session.exec(select(CheckpointPublication.witness_url).where(
            col(CheckpointPublication.checkpoint_index) >= newest.index)))
        accepted = _accepted_sizes(session)
        note = signed_note(origin=origin, cp=newest, signer=signer)
        body = note_body(origin=origin, tree_size=newest.tree_size, root_hash=newest.root_hash)
        outcome.index, size = newest.index, newest.tree_size
    proofs = _Proofs(engine, size)
    for url in urls:
        if url in done:
            continue
        old = accepted.get(url[:500], 0)
        if old > size:  # our own record says it took more than we now have
            outcome.failed[url] = (f"it took size {old} before, beyond our newest checkpoint "
                                   f"(size {size}): our log was rolled back")
            continue
        problem, cosignature = _add_checkpoint(url, old=old, size=size, note=note,
                                               proofs=proofs, timeout_s=timeout_s)
        if cosignature is None:
            outcome.failed[url] = problem
            continue
        if keys and not cosigned_by(cosignature, body, keys):
            outcome.failed[url] = ("HTTP 200, but no line of its cosignature verifies under "
                                   f"BWC_WITNESS_KEYS ({', '.join(k.name for k in keys)}): "
                                   f"{cosignature[:200]!r}")
            continue
        try:
            with session_scope(engine) as session:
                session.add(CheckpointPublication(
                    checkpoint_index=outcome.index, witness_url=url[:500],
                    note_sha256=hashlib.sha256(note).hexdigest(), status_code=200,
                    cosignature=cosignature))
        except IntegrityError:  # another worker recorded the same head first
            pass
        outcome.published.append(url)
    return outcome


def _add_checkpoint(url: str, *, old: int, size: int, note: bytes, proofs: _Proofs,
                    timeout_s: float) -> tuple[str, str | None]:
    """POST add-checkpoint from `old`, once more from the witness's own size after a 409;
    ("", cosignature) when it cosigned, else (why not, None)."""
    endpoint = add_checkpoint_url(url)
    for attempt in (1, 2):
        body = request_body(old=old, proof=proofs(old), note=note)
        try:
            reply = httpx.post(endpoint, content=body, timeout=timeout_s,
                               headers={"Content-Type": NOTE_TYPE})
        except httpx.HTTPError as exc:
            return f"unreachable: {exc.__class__.__name__}: {exc}", None
        if reply.status_code == 200:
            cosignature = parse_cosignature(reply.text)
            if cosignature is None:
                return f"HTTP 200 without a cosignature: {reply.text[:200]!r}", None
            return "", cosignature
        theirs = _conflict_size(reply) if reply.status_code == 409 else None
        if theirs is None or attempt == 2 or theirs == old:
            return f"HTTP {reply.status_code} (from old size {old}): {reply.text[:200]}", None
        if theirs > size:
            return (f"HTTP 409: the witness holds size {theirs}, beyond our newest checkpoint "
                    f"(size {size}): a fork or a rollback of our log"), None
        old = theirs
    raise AssertionError("unreachable")  # the loop returns on its second pass
