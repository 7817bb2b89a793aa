"""`bwc verify`: the hash chain, every checkpoint (signature, WORM copy read by its recorded
version, numbering, root, the log reaching the newest), each checkpoint's RFC 3161 timestamp
(time, TSA, verified or why not), and the fixity and version of every stored object; a
report that names each broken thing."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sqlmodel import Session, col, select

from bwc_custody.config import get_settings
from bwc_custody.custody import merkle
from bwc_custody.custody import timestamps as stamps
from bwc_custody.custody.models import (
    Checkpoint,
    CheckpointPublication,
    CheckpointTimestamp,
    CustodyEntry,
)
from bwc_custody.custody.service import (
    GENESIS_HASH,
    checkpoint_document,
    checkpoint_index,
    checkpoint_key,
    entry_digest,
    is_checkpoint_key,
    leaf_of,
    list_checkpoints,
    read_stored_checkpoint,
    signature_valid,
)
from bwc_custody.custody.witness import note_body
from bwc_custody.vault.models import PendingObject, StoredObject
from bwc_custody.vault.service import check_fixity
from storage.keys import Keyring, Signer
from storage.objectstore import ObjectStore, ObjectVersion, describe_versions, is_content_version
from storage.signed_note import WitnessKey, cosigned_by


class Progress(Protocol):
    """Where verification reports how far it got (a rich progress bar, or nothing)."""

    def start(self, stage: str, total: int) -> None: ...

    def advance(self, stage: str, amount: int) -> None: ...


class _Silent:
    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, stage: str, amount: int) -> None:
        pass


@dataclass(frozen=True)
class Finding:
    """One broken thing: kind (entry, checkpoint, object), which one, and what is wrong."""

    kind: str
    ref: str
    problem: str


@dataclass
class VerifyReport:
    """What was checked and what failed; `ok` only when nothing did."""

    entries: int = 0
    checkpoints: int = 0
    objects: int = 0
    bytes_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    # one line saying how the checkpoints' timestamps stand, and one entry per checkpoint
    timestamp_summary: str = ""
    timestamps: list[dict[str, Any]] = field(default_factory=list)
    # one line saying how the witnesses' stored cosignatures stand ("" when none is stored)
    witness_summary: str = ""

    @property
    def ok(self) -> bool:
        """True when every check held."""
        return not self.findings

    def add(self, kind: str, ref: str, problem: str) -> None:
        """Record one finding."""
        self.findings.append(Finding(kind, ref, problem))

    def to_dict(self) -> dict[str, Any]:
        """The JSON report."""
        return {"ok": self.ok, "entries": self.entries, "checkpoints": self.checkpoints,
                "objects": self.objects, "bytes_checked": self.bytes_checked,
                "findings": [asdict(f) for f in self.findings],
                "timestamps": {"summary": self.timestamp_summary,
                               "checkpoints": self.timestamps},
                "witnesses": {"summary": self.witness_summary}}


def _check_chain(entries: list[CustodyEntry], report: VerifyReport, progress: Progress) -> None:
    progress.start("entries", len(entries))
    expected_seq, prev_hash = 1, GENESIS_HASH
    for entry in entries:
        ref = f"seq {entry.seq}"
        if entry.seq > expected_seq:
            missing = (f"seq {expected_seq}" if entry.seq == expected_seq + 1
                       else f"seq {expected_seq}..{entry.seq - 1}")
            report.add("entry", missing, "missing from the log (deleted)")
        elif entry.seq < expected_seq:
            report.add("entry", ref, "sequence number out of order")
        if entry_digest(entry) != entry.entry_hash:
            report.add("entry", ref, "content does not match its entry_hash (edited)")
        if entry.prev_hash != prev_hash:
            report.add("entry", ref, "prev_hash does not chain to the previous entry "
                       "(inserted, deleted or reordered)")
        expected_seq, prev_hash = entry.seq + 1, entry.entry_hash
        progress.advance("entries", 1)


def _signed_doc(
    cp: Checkpoint, stored: dict[str, Any] | None, signer: Signer, report: VerifyReport
) -> dict[str, Any] | None:
    """The checkpoint's trustworthy (validly signed) document, reporting every discrepancy."""
    ref = f"checkpoint {cp.index} (size {cp.tree_size})"
    db_doc = checkpoint_document(cp)
    db_ok = signature_valid(signer=signer, doc=db_doc)
    if not db_ok:
        report.add("checkpoint", ref, "signature does not verify with the server key "
                   "(replaced or forged)")
    if stored is None:
        report.add("checkpoint", ref, f"no WORM copy at {cp.object_key} in the object store"
                   + (f" (version {cp.object_version})" if cp.object_version else ""))
    elif any(stored.get(k) != v for k, v in db_doc.items()):
        report.add("checkpoint", ref, "database row differs from the WORM copy in the store")
    if db_ok:
        return db_doc
    if stored is not None and signature_valid(signer=signer, doc=stored):
        return stored
    return None


def _recorded(cp: Checkpoint, history: list[ObjectVersion], store: ObjectStore,
              signer: Signer, report: VerifyReport) -> dict[str, Any] | None:
    """A checkpoint the database has: its WORM copy read by the version it recorded, and
    whatever was done to that version since named."""
    ref = f"checkpoint {cp.index} (size {cp.tree_size})"
    if cp.object_version is not None:
        problem = describe_versions(history, cp.object_version)
        if problem:
            report.add("checkpoint", ref, f"WORM copy {cp.object_key}: {problem}")
    elif len(history) > 1:  # recorded before versions were: any second version is suspect
        report.add("checkpoint", ref, f"the object store holds {len(history)} versions or "
                   f"delete markers of {cp.object_key}, not one")
    stored = read_stored_checkpoint(store=store, index=cp.index, version=cp.object_version)
    return _signed_doc(cp, stored, signer, report)


def _unrecorded(index: int, history: list[ObjectVersion], store: ObjectStore, signer: Signer,
                report: VerifyReport) -> dict[str, Any] | None:
    """A checkpoint number the database lacks: a gap, or a row deleted with (S3) its WORM copy
    still there, perhaps behind a delete marker. Returns its signed document when one of the
    stored versions has one."""
    ref = f"checkpoint {index}"
    if not history:
        report.add("checkpoint", ref, "missing from the database and from the object store: "
                   "a gap in the checkpoint numbering (deleted)")
        return None
    docs = [doc for v in history if v.version is not None and v.readable
            and (doc := read_stored_checkpoint(store=store, index=index, version=v.version))]
    signed = next((d for d in docs if signature_valid(signer=signer, doc=d)
                   and int(d.get("index", 0)) == index), None)
    hidden = history[-1].delete_marker
    if signed is None and hidden and not docs:
        report.add("checkpoint", ref, "missing from the database (deleted), and its WORM copy "
                   f"{checkpoint_key(index)}, written through the store, is gone (removed "
                   "behind the store's back): the entries it covered may be gone too")
        return None
    where = ("but its WORM copy is still in the object store, hidden behind a delete marker "
             "(deleted without its version id)" if hidden
             else "but present in the object store")
    report.add("checkpoint", ref, f"missing from the database (deleted) {where}")
    if signed is None:
        report.add("checkpoint", ref, "no stored version carries a valid signature")
    return signed


def _check_checkpoints(
    *, store: ObjectStore, signer: Signer, tree: list[bytes], rows: Mapping[int, Checkpoint],
    listed: Sequence[ObjectVersion], report: VerifyReport, progress: Progress,
) -> None:
    report.checkpoints = len(rows)
    # Every version the store ever kept under checkpoints/, delete markers too: a checkpoint
    # whose row was deleted and whose object was hidden still shows here (its locked version
    # cannot be deleted), and so do the entries deleted after it.
    history: dict[int, list[ObjectVersion]] = {}
    for v in listed:
        if is_checkpoint_key(v.key):
            history.setdefault(checkpoint_index(v.key), []).append(v)
    newest = max([*rows, *history], default=0)
    progress.start("checkpoints", newest)
    trusted: list[dict[str, Any]] = []
    for index in range(1, newest + 1):
        cp = rows.get(index)
        doc = (_recorded(cp, history.get(index, []), store, signer, report) if cp is not None
               else _unrecorded(index, history.get(index, []), store, signer, report))
        if doc is not None:
            trusted.append(doc)
        progress.advance("checkpoints", 1)
    _check_roots(trusted, tree, report)


def _check_roots(trusted: list[dict[str, Any]], tree: list[bytes], report: VerifyReport) -> None:
    """Each signed root against the log's entries, the log reaching the newest checkpoint, and
    (where a root fails) whether the signed roots were at least consistent with each other.
    The tree is extended once across all checkpoints (O(n + checkpoints·log n))."""
    previous: dict[str, Any] | None = None
    last_good = 0  # the largest size whose signed root the log still reproduces
    grown = merkle.Frontier()
    for doc in trusted:
        size, signed_root = int(doc["tree_size"]), str(doc["root_hash"])
        ref = f"checkpoint {doc['index']} (size {size})"
        if previous is not None and size < int(previous["tree_size"]):
            report.add("checkpoint", ref, f"smaller than checkpoint {previous['index']}")
            continue
        if size > len(tree):
            report.add("checkpoint", ref, f"covers {size} entries but the log holds only "
                       f"{len(tree)} (entries deleted)")
            previous = doc
            continue
        while grown.size < size:
            grown.append(tree[grown.size])
        if grown.root().hex() == signed_root:
            last_good = size
        else:
            report.add("checkpoint", ref, "the log's entries no longer hash to the signed "
                       f"root: history was rewritten in seq {last_good + 1}..{size}")
            if previous is not None:
                _check_consistency(previous, doc, tree, report)
        previous = doc


def _check_consistency(first_doc: dict[str, Any], doc: dict[str, Any], tree: list[bytes],
                       report: VerifyReport) -> None:
    first, size = int(first_doc["tree_size"]), int(doc["tree_size"])
    if not 0 < first <= size:
        return
    proof = merkle.consistency_proof(first, tree[:size]) if first < size else []
    if not merkle.verify_consistency(first, size, bytes.fromhex(first_doc["root_hash"]),
                                     bytes.fromhex(doc["root_hash"]), proof):
        report.add("checkpoint", f"checkpoint {doc['index']} (size {size})",
                   f"not consistent with checkpoint {first_doc['index']} (size {first}): "
                   "the log was rewritten")


# ---- timestamps -----------------------------------------------------------------------

NOT_CONFIGURED = ("no TSA configured (BWC_TSA_URL): checkpoints are not timestamped, and "
                  "their times are the agency's own word")


def _token_of(cp: Checkpoint, row: CheckpointTimestamp,
              history: dict[int, list[ObjectVersion]], store: ObjectStore,
              report: VerifyReport) -> bytes | None:
    """The recorded token of `cp` read by its recorded key and version, each discrepancy
    named."""
    ref = f"checkpoint {cp.index} (size {cp.tree_size})"
    if row.object_key != stamps.timestamp_key(cp.index):
        report.add("timestamp", ref, f"its row names the token at {row.object_key}, not the "
                   f"one beside it ({stamps.timestamp_key(cp.index)})")
    if row.object_version is not None and stamps.is_timestamp_key(row.object_key):
        problem = describe_versions(history.get(stamps.timestamp_index(row.object_key), []),
                                    row.object_version)
        if problem:
            report.add("timestamp", ref, f"token {row.object_key}: {problem}")
    token = stamps.read_token(store=store, index=cp.index, version=row.object_version,
                              key=row.object_key)
    if token is None and row.object_version is not None:  # gone: check what is there now
        token = stamps.read_token(store=store, index=cp.index, key=row.object_key)
    if token is None:
        report.add("timestamp", ref, f"no WORM copy of its timestamp token at {row.object_key}"
                   " in the object store (deleted)")
    elif hashlib.sha256(token).hexdigest() != row.token_sha256:
        report.add("timestamp", ref, f"the token at {row.object_key} is not the one recorded "
                   "(replaced)")
    return token


def _one_timestamp(cp: Checkpoint, row: CheckpointTimestamp | None,
                   history: dict[int, list[ObjectVersion]], store: ObjectStore,
                   tsa: stamps.TsaConfig, stamped: tuple[int | None, int | None],
                   report: VerifyReport) -> dict[str, Any]:
    """One checkpoint's timestamp as the report lists it (status verified, failed, missing,
    covered or pending), each problem added to the report. `stamped`: the first and last
    checkpoints with a recorded timestamp."""
    ref = f"checkpoint {cp.index} (size {cp.tree_size})"
    item: dict[str, Any] = {"checkpoint": cp.index, "time": None, "tsa": None, "url": None,
                            "verified": False, "reason": None}

    def missing(reason: str) -> dict[str, Any]:
        report.add("timestamp", ref, reason)
        return {**item, "status": "missing", "reason": reason,
                "line": f"NOT timestamped: {reason}"}

    token: bytes | None = None
    if row is not None:
        item.update(url=row.tsa_url, tsa=row.tsa_name)
        token = _token_of(cp, row, history, store, report)
        if token is None:
            return {**item, "status": "failed", "reason": "its token is missing from the store",
                    "line": "timestamp token missing from the store"}
    elif cp.index in history:
        key = stamps.timestamp_key(cp.index)
        token = stamps.read_token(store=store, index=cp.index)
        if token is None:
            return missing(f"its timestamp token was stored at {key} (the store's history "
                           "lists it), and both it and its row are gone (deleted)")
        report.add("timestamp", ref, f"a token is in the store at {key} but recorded "
                   "nowhere (its row was deleted)")
    if token is not None:
        check = stamps.check_token(token, checkpoint_document(cp), tsa)
        # without a CA a token cannot be verified, which the configuration finding (or, with
        # the TSA turned off, the summary) says once; anything else is named here
        if not check.verified and check.reason != stamps.NO_CA_REASON:
            report.add("timestamp", ref, f"timestamp NOT verified: {check.reason}")
        return {**item, "time": check.time.isoformat() if check.time else None,
                "tsa": check.tsa or item["tsa"], "verified": check.verified,
                "reason": check.reason, "line": check.line(),
                "status": "verified" if check.verified else "failed"}
    first, last = stamped
    if first is not None and last is not None and first < cp.index < last:
        return missing(f"no timestamp token, though checkpoint {last} has one: deleted (a "
                       "TSA that was down is retried oldest first)")
    if first is not None and cp.index < first:
        return {**item, "status": "covered",
                "line": f"made before timestamping began: covered by checkpoint {first}'s "
                        "timestamp (the log only grows)"}
    why = ("waiting for a TSA (the worker retries)" if tsa.configured
           else "no TSA configured (BWC_TSA_URL)")
    return {**item, "status": "pending", "reason": why, "line": f"not yet timestamped: {why}"}


def _check_timestamps(*, session: Session, store: ObjectStore, tsa: stamps.TsaConfig,
                      listed: Sequence[ObjectVersion], report: VerifyReport) -> None:
    """Each checkpoint's timestamp: the token as recorded, verified over the checkpoint's
    signed bytes under the TSA CA. A checkpoint without one is named when a later checkpoint
    has one (its token was deleted); the newest without one are waiting for the TSA; those
    before the first timestamped are covered by its time (the log only grows)."""
    rows = {r.checkpoint_index: r for r in stamps.list_timestamps(session=session)}
    history: dict[int, list[ObjectVersion]] = {}
    for v in listed:
        if stamps.is_timestamp_key(v.key):
            history.setdefault(stamps.timestamp_index(v.key), []).append(v)
    if not tsa.configured and not rows and not history:
        report.timestamp_summary = NOT_CONFIGURED
        return
    if tsa.configured and not tsa.ca_certs:
        report.add("timestamp", "configuration", "BWC_TSA_URL is set but BWC_TSA_CA_FILE is "
                   "not: no timestamp can be verified")
    checkpoints = list_checkpoints(session=session)
    first, last = min(rows, default=None), max(rows, default=None)
    counts: dict[str, int] = {}
    for cp in checkpoints:
        item = _one_timestamp(cp, rows.get(cp.index), history, store, tsa, (first, last),
                              report)
        counts[item["status"]] = counts.get(item["status"], 0) + 1
        report.timestamps.append(item)
    for index in sorted(set(rows) - {cp.index for cp in checkpoints}):
        report.add("timestamp", f"checkpoint {index}", "a timestamp is recorded for a "
                   "checkpoint the database does not have")
    report.timestamp_summary = (
        ("" if tsa.configured else "no TSA configured (BWC_TSA_URL), but timestamps exist: ")
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        + f" of {len(checkpoints)} checkpoints"
        + (f" (TSA: {', '.join(tsa.urls)})" if tsa.urls else ""))


def _check_objects(
    *, session: Session, store: ObjectStore, keyring: Keyring, report: VerifyReport,
    progress: Progress,
) -> None:
    every = list(session.exec(select(StoredObject).order_by(col(StoredObject.key))))
    # S3 versions (ids, not content hashes) are checked against the store's version listing,
    # taken once; a local file's version is its content hash, checked while it is re-hashed.
    listed: dict[str, list[ObjectVersion]] | None = None
    if any(not is_content_version(obj.version) for obj in every) and store.name != "local":
        listed = {}
        for v in store.versions(""):
            listed.setdefault(v.key, []).append(v)
    # destroyed under their schedule: nothing left to hash, but nothing may be left at all
    for obj in every:
        if obj.disposed_at is None:
            continue
        left = ([v for v in listed.get(obj.key, []) if not v.delete_marker]
                if listed is not None else ([obj.key] if store.exists(obj.key) else []))
        if left:
            report.add("object", obj.key, "recorded destroyed on "
                       f"{obj.disposed_at.isoformat()} but still in the store")
    objects = [obj for obj in every if obj.disposed_at is None]
    report.objects = len(objects)
    # bytes in the evidence store that nothing here recorded: written past this system, or
    # left by a write whose cleanup failed; either way someone must look
    # (checkpoint objects and their timestamps are the checkpoint phase's, which names a
    # missing row already)
    known = {obj.key for obj in every}
    pending = set(session.exec(select(PendingObject.key)))
    for key in sorted(k for k in set(store.keys()) - known
                      if not is_checkpoint_key(k) and not stamps.is_timestamp_key(k)):
        report.add("object", key, "published by an ingest that died before recording it: "
                   "the next ingest of the same content, or a worker's housekeeping, "
                   "adopts it" if key in pending else
                   "in the store but recorded nowhere (no stored_object row)")
    for obj in objects:
        if listed is None or is_content_version(obj.version):
            continue
        history = listed.get(obj.key, [])
        if obj.version is not None:
            problem = describe_versions(history, obj.version)
            if problem:
                report.add("object", obj.key, problem)
        elif len(history) > 1:
            report.add("object", obj.key, f"the store holds {len(history)} versions or delete "
                       "markers of it, not one (recorded before versions were)")
    progress.start("objects", sum(o.size for o in objects))

    def advance(n: int) -> None:
        report.bytes_checked += n
        progress.advance("objects", n)

    for obj in objects:
        problem = check_fixity(store=store, keyring=keyring, obj=obj, on_progress=advance)
        if problem:
            report.add("object", obj.key, problem)


def _check_cosignatures(*, session: Session, checkpoints: Mapping[int, Checkpoint],
                        origin: str, keys: Sequence[WitnessKey], report: VerifyReport) -> None:
    """Each witness cosignature kept (checkpoint_publication.cosignature), verified again
    over the checkpoint text it was given under the configured verifier keys: a row edited to
    hold another witness's line, or pointed at another checkpoint, is named. Without keys a
    cosignature cannot be checked, and the summary says so rather than passing it."""
    rows = session.exec(select(CheckpointPublication)
                        .where(col(CheckpointPublication.cosignature).is_not(None))
                        .order_by(col(CheckpointPublication.checkpoint_index))).all()
    if not rows:
        return
    witnesses = len({r.witness_url for r in rows})
    kept = f"{len(rows)} cosignature{'s' if len(rows) != 1 else ''} from {witnesses} " \
           f"witness{'es' if witnesses != 1 else ''}"
    if not keys:
        report.witness_summary = f"{kept} kept, not checked: no BWC_WITNESS_KEYS to check them with"
        return
    bad = 0
    for row in rows:
        ref = f"checkpoint {row.checkpoint_index}, {row.witness_url}"
        cp = checkpoints.get(row.checkpoint_index)
        if cp is None:
            report.add("cosignature", ref, "a cosignature of a checkpoint the database lacks")
            bad += 1
            continue
        body = note_body(origin=origin, tree_size=cp.tree_size, root_hash=cp.root_hash)
        if not cosigned_by(row.cosignature or "", body, keys):
            report.add("cosignature", ref, "no line of the stored cosignature verifies over "
                       f"this checkpoint (size {cp.tree_size}) under BWC_WITNESS_KEYS")
            bad += 1
    report.witness_summary = (f"{kept}, each verified under BWC_WITNESS_KEYS" if not bad
                              else f"{kept}: {bad} {'does' if bad == 1 else 'do'} not verify")


def verify_all(
    *,
    session: Session,
    store: ObjectStore,
    keyring: Keyring,
    signer: Signer,
    fixity: bool = True,
    progress: Progress | None = None,
    tsa: stamps.TsaConfig | None = None,
) -> VerifyReport:
    """Check the chain, the checkpoints, their timestamps (against `tsa`, default the
    settings'), the witnesses' cosignatures kept (under BWC_WITNESS_KEYS) and (when
    `fixity`) every stored object."""
    progress = progress or _Silent()
    report = VerifyReport()
    entries = list(session.exec(select(CustodyEntry).order_by(col(CustodyEntry.seq))))
    report.entries = len(entries)
    _check_chain(entries, report, progress)
    tree = [leaf_of(e) for e in entries]
    # checkpoints and their timestamp tokens share the prefix: one listing (one walk of
    # every version an S3 bucket kept under it) serves both
    listed = list(store.versions("checkpoints/"))
    checkpoints = {cp.index: cp for cp in list_checkpoints(session=session)}
    _check_checkpoints(store=store, signer=signer, tree=tree, rows=checkpoints, listed=listed,
                       report=report, progress=progress)
    _check_timestamps(session=session, store=store, tsa=tsa or stamps.tsa_config(),
                      listed=listed, report=report)
    settings = get_settings()
    _check_cosignatures(session=session, checkpoints=checkpoints, origin=settings.log_origin,
                        keys=settings.witness_key_list, report=report)
    if fixity:
        _check_objects(session=session, store=store, keyring=keyring, report=report,
                       progress=progress)
    return report
