"""RFC 3161 timestamps of custody checkpoints (issue 25).

A checkpoint is signed and committed first, without asking anyone; its timestamp is asked
for afterwards (by the worker, `bwc checkpoint` and `bwc package`), so a Time Stamping
Authority that is down or slow delays the timestamp, never the checkpoint. The token is kept
exactly as the TSA sent it (a DER TimeStampResp) WORM beside the checkpoint
(`checkpoints/NNNNNNNN.tsr`, the checkpoint's retention), and recorded in
`checkpoint_timestamp` (append-only) with the version the store gave it.

What is timestamped: the checkpoint's signed bytes followed by its signature and a newline
(`timestamped_bytes`), so the token says the *signed* checkpoint existed by the TSA's time.
A later checkpoint's timestamp also covers every earlier one (the log is append-only and
`bwc verify` checks consistency), so when timestamps are first turned on only the newest
checkpoint is stamped, not the years before it; from then on every checkpoint is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bwc_custody.config import get_settings
from bwc_custody.custody.models import Checkpoint, CheckpointTimestamp
from bwc_custody.custody.service import (
    CHECKPOINT_RETENTION,
    checkpoint_document,
    document_signed_bytes,
    lock_log,
)
from bwc_custody.db import session_scope
from bwc_custody.timeutil import utcnow
from provenance.ca import cert_pem
from provenance.errors import TsaUnavailable
from provenance.tsa import (
    DEFAULT_TIMEOUT_S,
    Timestamp,
    TimestampCheck,
    covers,
    load_ca_file,
    request_timestamp,
    verify_timestamp,
)
from storage.errors import ObjectExists, ObjectMissing
from storage.objectstore import ObjectLock, ObjectStore

# what `verify_timestamp` says of a readable token of the right message when no CA is given
NO_CA_REASON = "no TSA CA certificate configured (BWC_TSA_CA_FILE)"
_TIMESTAMP_KEY = re.compile(r"checkpoints/\d{8}\.tsr")


@dataclass(frozen=True)
class TsaConfig:
    """The TSAs to ask (in order) and the CA certificates their tokens must verify under."""

    urls: tuple[str, ...] = ()
    ca_certs: tuple[x509.Certificate, ...] = ()
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def configured(self) -> bool:
        """True when checkpoints are to be timestamped (BWC_TSA_URL set)."""
        return bool(self.urls)

    def ca_pem(self) -> str:
        """The CA certificates as PEM (what an evidence package carries as tsa-ca.pem)."""
        return b"".join(cert_pem(c) for c in self.ca_certs).decode()


def tsa_config() -> TsaConfig:
    """The TSAs and their CA from the settings (BWC_TSA_URL, BWC_TSA_CA_FILE); an unreadable
    CA file is an InvalidCertificateChain naming it."""
    settings = get_settings()
    certs = load_ca_file(settings.tsa_ca_file) if settings.tsa_ca_file else []
    return TsaConfig(urls=tuple(settings.tsa_urls), ca_certs=tuple(certs))


def timestamp_key(index: int) -> str:
    """Object-store key of checkpoint `index`'s token: beside `checkpoints/NNNNNNNN.json`."""
    return f"checkpoints/{index:08d}.tsr"


def is_timestamp_key(key: str) -> bool:
    """True for a key `timestamp_key` makes."""
    return _TIMESTAMP_KEY.fullmatch(key) is not None


def timestamp_index(key: str) -> int:
    """The checkpoint number a `timestamp_key` names."""
    return int(key.rsplit("/", 1)[-1].split(".", 1)[0])


def timestamped_bytes(doc: dict[str, Any]) -> bytes:
    """The bytes a checkpoint's timestamp covers: its signed bytes, then its signature."""
    return document_signed_bytes(doc) + f"{doc['signature']}\n".encode()


def list_timestamps(*, session: Session) -> list[CheckpointTimestamp]:
    """Every recorded checkpoint timestamp, oldest checkpoint first."""
    return list(session.exec(select(CheckpointTimestamp)
                             .order_by(col(CheckpointTimestamp.checkpoint_index))))


def get_timestamp(*, session: Session, index: int) -> CheckpointTimestamp | None:
    """The timestamp recorded for checkpoint `index`, if any."""
    return session.exec(select(CheckpointTimestamp)
                        .where(CheckpointTimestamp.checkpoint_index == index)).first()


def pending(*, session: Session) -> list[Checkpoint]:
    """The checkpoints still to be timestamped, oldest first: every one from the first
    timestamped on that has no token; before any is, only the newest (it covers the rest)."""
    first = session.exec(select(CheckpointTimestamp.checkpoint_index)
                         .order_by(col(CheckpointTimestamp.checkpoint_index)).limit(1)).first()
    if first is None:
        newest = session.exec(select(Checkpoint).order_by(col(Checkpoint.index).desc())
                              .limit(1)).first()
        return [newest] if newest is not None else []
    stamped = select(CheckpointTimestamp.checkpoint_index)
    return list(session.exec(select(Checkpoint)
                             .where(col(Checkpoint.index) >= first,
                                    col(Checkpoint.index).not_in(stamped))
                             .order_by(col(Checkpoint.index))))


def read_token(*, store: ObjectStore, index: int, version: str | None = None,
               key: str | None = None) -> bytes | None:
    """The stored token of checkpoint `index` (that version, when given; under `key` when
    a row names another), or None."""
    try:
        return b"".join(store.iter_bytes(key or timestamp_key(index), version=version))
    except ObjectMissing:
        return None


def record(*, session: Session, store: ObjectStore, cp: Checkpoint,
           stamp: Timestamp) -> CheckpointTimestamp:
    """Keep `stamp`'s token WORM beside checkpoint `cp` and record it, in the caller's
    transaction (commit straight after). A checkpoint already timestamped keeps its first
    token (two workers may ask at once). Under the log's lock: writes are serialised."""
    lock_log(session)
    existing = get_timestamp(session=session, index=cp.index)
    if existing is not None:
        return existing
    key, token = timestamp_key(cp.index), stamp.token
    lock = ObjectLock(mode="COMPLIANCE", retain_until=utcnow() + CHECKPOINT_RETENTION)
    try:
        with store.writer(key, lock=lock) as writer:
            writer.write(token)
            writer.commit()
        version = writer.version
    except ObjectExists:
        # A run that stored its token and died before recording it: adopt that token if it
        # is a good one for this checkpoint (WORM: it cannot be replaced), else say so.
        version, token = _adoptable(store, cp, key)
    row = CheckpointTimestamp(
        checkpoint_index=cp.index, object_key=key, object_version=version,
        token_sha256=hashlib.sha256(token).hexdigest(), tsa_url=stamp.url[:500],
        tsa_name=stamp.tsa[:500], gen_time=stamp.time, serial=str(stamp.serial))
    if token != stamp.token:  # the adopted token's own time and TSA
        check = verify_timestamp(token, timestamped_bytes(checkpoint_document(cp)),
                                 ca_certs=[])
        row.tsa_url, row.tsa_name = "(adopted from the store)", (check.tsa or "?")[:500]
        row.gen_time = check.time or stamp.time
        row.serial = str(check.serial)
    session.add(row)
    session.flush()
    return row


def _adoptable(store: ObjectStore, cp: Checkpoint, key: str) -> tuple[str | None, bytes]:
    history = [v for v in store.versions(key) if v.key == key]
    latest = next((v for v in reversed(history) if v.latest and not v.delete_marker), None)
    token = read_token(store=store, index=cp.index,
                       version=latest.version if latest else None)
    if token is None or not covers(token, timestamped_bytes(checkpoint_document(cp))):
        raise ObjectExists(
            f"the object store already holds {key}, which is not a timestamp of checkpoint "
            f"{cp.index}; run `bwc verify`", key=key)
    return (latest.version if latest else None), token


@dataclass
class StampOutcome:
    """What one pass of `stamp_pending` did: checkpoints stamped, those left waiting (the
    TSAs were down) and why."""

    stamped: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    error: TsaUnavailable | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON `bwc checkpoint` prints."""
        return {"stamped": self.stamped, "waiting": self.waiting,
                "error": None if self.error is None else
                {"message": self.error.message, **self.error.details}}


def stamp_pending(*, engine: Engine, store: ObjectStore, tsa: TsaConfig,
                  only: Sequence[int] | None = None) -> StampOutcome:
    """Ask the TSAs for a timestamp of each pending checkpoint (oldest first; `only`: just
    those numbers) and record each in a transaction of its own. No transaction is open while
    a TSA is asked. Stops at the first checkpoint no TSA would stamp: the rest wait for the
    next pass (the worker's retry)."""
    outcome = StampOutcome()
    if not tsa.configured:
        return outcome
    with session_scope(engine) as session:
        todo = [(cp.index, timestamped_bytes(checkpoint_document(cp)))
                for cp in pending(session=session) if only is None or cp.index in only]
    for n, (index, message) in enumerate(todo):
        try:
            stamp = request_timestamp(message, urls=tsa.urls, ca_certs=tsa.ca_certs,
                                      timeout_s=tsa.timeout_s)
        except TsaUnavailable as exc:
            outcome.waiting = [i for i, _ in todo[n:]]
            outcome.error = exc
            break
        with session_scope(engine) as session:
            cp = session.exec(select(Checkpoint).where(Checkpoint.index == index)).one()
            record(session=session, store=store, cp=cp, stamp=stamp)
        outcome.stamped.append(index)
    return outcome


def check_token(token: bytes, cp_doc: dict[str, Any], tsa: TsaConfig) -> TimestampCheck:
    """A stored token against the checkpoint document it should timestamp and the TSA CA."""
    return verify_timestamp(token, timestamped_bytes(cp_doc), ca_certs=tsa.ca_certs)
