"""`bwc verify`: the hash chain, every checkpoint (signature, WORM copy, root, consistency),
and the fixity of every stored object; a report that names each broken thing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sqlmodel import Session, col, select

from bwc_custody.auth.service import Principal
from bwc_custody.custody import merkle
from bwc_custody.custody.models import Checkpoint, CustodyEntry
from bwc_custody.custody.service import (
    GENESIS_HASH,
    append,
    checkpoint_document,
    entry_digest,
    is_checkpoint_key,
    leaf_of,
    list_checkpoints,
    read_stored_checkpoint,
    signature_valid,
)
from bwc_custody.vault.models import PendingObject, StoredObject
from bwc_custody.vault.service import check_fixity
from storage.keys import Keyring, Signer
from storage.objectstore import ObjectStore


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
                "findings": [asdict(f) for f in self.findings]}


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
        report.add("checkpoint", ref, f"no WORM copy at {cp.object_key} in the object store")
    elif any(stored.get(k) != v for k, v in db_doc.items()):
        report.add("checkpoint", ref, "database row differs from the WORM copy in the store")
    if db_ok:
        return db_doc
    if stored is not None and signature_valid(signer=signer, doc=stored):
        return stored
    return None


def _check_checkpoints(
    *, session: Session, store: ObjectStore, signer: Signer, tree: list[bytes],
    report: VerifyReport, progress: Progress,
) -> None:
    cps = list_checkpoints(session=session)
    report.checkpoints = len(cps)
    progress.start("checkpoints", len(cps))
    trusted: list[dict[str, Any]] = []
    expected_index = 1
    for cp in cps:
        while cp.index > expected_index:
            stored = read_stored_checkpoint(store=store, index=expected_index)
            report.add("checkpoint", f"checkpoint {expected_index}",
                       "missing from the database (deleted)"
                       + (" but present in the object store" if stored else ""))
            if stored and signature_valid(signer=signer, doc=stored):
                trusted.append(stored)
            expected_index += 1
        expected_index = cp.index + 1
        doc = _signed_doc(cp, read_stored_checkpoint(store=store, index=cp.index), signer, report)
        if doc is not None:
            trusted.append(doc)
        progress.advance("checkpoints", 1)
    # Checkpoints written to the store after the newest row the database still has.
    while (stored := read_stored_checkpoint(store=store, index=expected_index)) is not None:
        report.add("checkpoint", f"checkpoint {expected_index}",
                   "in the object store but missing from the database (deleted)")
        if signature_valid(signer=signer, doc=stored):
            trusted.append(stored)
        expected_index += 1
    _check_roots(trusted, tree, report)


def _check_roots(trusted: list[dict[str, Any]], tree: list[bytes], report: VerifyReport) -> None:
    previous: dict[str, Any] | None = None
    last_good = 0  # the largest size whose signed root the log still reproduces
    for doc in trusted:
        size, signed_root = int(doc["tree_size"]), str(doc["root_hash"])
        ref = f"checkpoint {doc['index']} (size {size})"
        if size > len(tree):
            report.add("checkpoint", ref, f"covers {size} entries but the log holds only "
                       f"{len(tree)} (entries deleted)")
        elif merkle.root(tree[:size]).hex() != signed_root:
            report.add("checkpoint", ref, "the log's entries no longer hash to the signed "
                       f"root: history was rewritten in seq {last_good + 1}..{size}")
        else:
            last_good = size
        if previous is not None and size <= len(tree):
            first, first_root = int(previous["tree_size"]), bytes.fromhex(previous["root_hash"])
            if 0 < first <= size:
                proof = merkle.consistency_proof(first, tree[:size]) if first < size else []
                if not merkle.verify_consistency(first, size, first_root,
                                                 bytes.fromhex(signed_root), proof):
                    report.add("checkpoint", ref, f"not consistent with checkpoint "
                               f"{previous['index']} (size {first}): the log was rewritten")
            else:
                report.add("checkpoint", ref, f"smaller than checkpoint {previous['index']}")
        previous = doc


def _check_objects(
    *, session: Session, store: ObjectStore, keyring: Keyring, report: VerifyReport,
    progress: Progress,
) -> None:
    every = list(session.exec(select(StoredObject).order_by(col(StoredObject.key))))
    # destroyed under their schedule: nothing left to hash, but nothing may be left at all
    for obj in every:
        if obj.disposed_at is not None and store.exists(obj.key):
            report.add("object", obj.key, "recorded destroyed on "
                       f"{obj.disposed_at.isoformat()} but still in the store")
    objects = [obj for obj in every if obj.disposed_at is None]
    report.objects = len(objects)
    # bytes in the evidence store that nothing here recorded: written past this system, or
    # left by a write whose cleanup failed; either way someone must look
    # (checkpoint objects are the checkpoint phase's, which names a missing row already)
    known = {obj.key for obj in every}
    pending = set(session.exec(select(PendingObject.key)))
    for key in sorted(k for k in set(store.keys()) - known if not is_checkpoint_key(k)):
        report.add("object", key, "published by an ingest that died before recording it: "
                   "the next ingest of the same content, or a worker's housekeeping, "
                   "adopts it" if key in pending else
                   "in the store but recorded nowhere (no stored_object row)")
    progress.start("objects", sum(o.size for o in objects))

    def advance(n: int) -> None:
        report.bytes_checked += n
        progress.advance("objects", n)

    for obj in objects:
        problem = check_fixity(store=store, keyring=keyring, obj=obj, on_progress=advance)
        if problem:
            report.add("object", obj.key, problem)


def verify_all(
    *,
    session: Session,
    store: ObjectStore,
    keyring: Keyring,
    signer: Signer,
    fixity: bool = True,
    progress: Progress | None = None,
) -> VerifyReport:
    """Check the chain, the checkpoints and (when `fixity`) every stored object."""
    progress = progress or _Silent()
    report = VerifyReport()
    entries = list(session.exec(select(CustodyEntry).order_by(col(CustodyEntry.seq))))
    report.entries = len(entries)
    _check_chain(entries, report, progress)
    tree = [leaf_of(e) for e in entries]
    _check_checkpoints(session=session, store=store, signer=signer, tree=tree, report=report,
                       progress=progress)
    if fixity:
        _check_objects(session=session, store=store, keyring=keyring, report=report,
                       progress=progress)
    return report



def verify_and_record(*, session: Session, store: ObjectStore, keyring: Keyring,
                      signer: Signer, actor: Principal, fixity: bool = True,
                      client_addr: str = "") -> VerifyReport:
    """Run `verify_all` (what `bwc verify` runs) on someone's asking, and record who asked and
    what it found (`custody.verify`), so a check, and a failed one above all, is on the log."""
    report = verify_all(session=session, store=store, keyring=keyring, signer=signer,
                        fixity=fixity)
    append(session=session, actor=actor, action="custody.verify", client_addr=client_addr,
           details={"ok": report.ok, "fixity": fixity, "entries": report.entries,
                    "checkpoints": report.checkpoints, "objects": report.objects,
                    "findings": len(report.findings)})
    return report
