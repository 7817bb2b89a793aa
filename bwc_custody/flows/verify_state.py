"""`bwc verify`'s second half: the security-relevant state in the database, recomputed from
the custody log and compared row by row, every difference named (issue 22, finding 13).

The log is hash-chained and signed; the rows the server acts on are not. So that a DBA who
edits a row (an evidence hash, a tag deleted without a trace, a decision's effect, a review
round pointed at another file) is caught, each of these is replayed from the entries that
made it: evidence (`evidence.ingest`, `evidence.dispose`), redacted and signed copies
(`redaction.finished`, `derivative.sign`), tags in force (`tag.add`,
`tag.remove`, `tag.retract`), the policy decisions (`request.decision`), each recording of a
request (`request.link`, `request.<transition>`), review rounds (`request.submit` and the
moves after it) and retention holds (`retention.hold`, `retention.lift`). It reads several
domains, so it is a flow; the custody domain's own checks are in `custody/verify.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from bwc_custody.auth.service import Principal
from bwc_custody.custody import service as custody
from bwc_custody.custody.models import CustodyEntry
from bwc_custody.custody.verify import Progress, VerifyReport, verify_all
from bwc_custody.db import session_scope
from bwc_custody.evidence.models import Evidence
from bwc_custody.jobs import service as jobs
from bwc_custody.jobs.models import Job
from bwc_custody.jobs.worker import JobContext
from bwc_custody.redactions.models import Derivative
from bwc_custody.releases.models import ReviewRound
from bwc_custody.requests.models import RequestDecision, RequestRecording
from bwc_custody.retention.models import RetentionHold
from bwc_custody.tags.models import Tag
from bwc_custody.vault.models import StoredObject
from bwc_custody.vault.service import get_keyring, get_signer, get_store
from review.workflow import INITIAL
from storage.keys import Keyring, Signer
from storage.objectstore import ObjectStore

# The moves of a recording that end its active review round, and the outcome they give it.
_ROUND_OUTCOMES = {"request.approve": "approved", "request.return": "returned",
                   "request.void": "voided"}


def verify_everything(
    *,
    session: Session,
    store: ObjectStore,
    keyring: Keyring,
    signer: Signer,
    fixity: bool = True,
    progress: Progress | None = None,
) -> VerifyReport:
    """`bwc verify`: the log, its checkpoints and the stored objects (`verify_all`), then the
    database's state against the log (`check_state`). Returns the one report."""
    report = verify_all(session=session, store=store, keyring=keyring, signer=signer,
                        fixity=fixity, progress=progress)
    check_state(session=session, report=report, progress=progress)
    return report


def request_verification(*, session: Session, actor: Principal, fixity: bool,
                         client_addr: str = "") -> Job:
    """Queue a `verify` job: what `bwc verify` runs, on someone's asking (an auditor's
    button or the API). Reading every stored file again takes as long as the store is large,
    so it runs in the worker, not in the request; the queueing is logged (`verify.queued`).

    A verification already queued or running that checks at least as much is returned
    instead of queueing another: a second click while the first runs would otherwise read
    every stored file twice over for the same answer."""
    pending = session.exec(select(Job).where(Job.kind == "verify",
                                             col(Job.state).in_(("queued", "running")))
                           .order_by(col(Job.created_at).desc())).all()
    for job in pending:
        if job.params.get("fixity") or not fixity:
            return job
    return jobs.enqueue(session=session, kind="verify", actor=actor,
                        params={"fixity": fixity}, max_attempts=1, client_addr=client_addr)


class _JobProgress:
    """Verification's stages (entries, checkpoints, objects counted in bytes, then the database
    against the log, one step per kind of record) as the job's progress: each stage counted
    from 0 to its total in turn, and named, so the console can say which stage the bar is
    counting (it restarts at each)."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx, self.done, self.total = ctx, 0, 0

    def start(self, stage: str, total: int) -> None:
        self.done, self.total = 0, total
        self.ctx.progress(0, total, stage=stage)

    def advance(self, stage: str, amount: int) -> None:
        self.done += amount
        self.ctx.progress(self.done, self.total, stage=stage)


def run_verify_job(ctx: JobContext) -> None:
    """The handler of `verify` jobs: run `verify_everything` and record who asked and what it
    found (`custody.verify`), so a check, and a failed one above all, is on the log; the
    report is the job's result."""
    fixity = bool(ctx.job.params.get("fixity"))
    with session_scope(ctx.engine) as session:
        report = verify_everything(session=session, store=get_store(), keyring=get_keyring(),
                                   signer=get_signer(), fixity=fixity,
                                   progress=_JobProgress(ctx))
        custody.append(session=session, actor=ctx.worker, action="custody.verify",
                       target_type="job", target_id=ctx.job.id,
                       details={"ok": report.ok, "fixity": fixity, "entries": report.entries,
                                "checkpoints": report.checkpoints, "objects": report.objects,
                                "findings": len(report.findings),
                                "requested_by": ctx.job.created_by})
        ctx.complete(session, report.to_dict())


# The kinds of rows check_state compares with the log, one step of its stage each: it reads
# the whole log and several tables, so it gets a stage of its own (`database`), or a bar would
# sit full on the stage before while it runs.
STATE_CHECKS = ("evidence", "copies", "tags", "decisions", "recordings", "review rounds",
                "holds")


def check_state(*, session: Session, report: VerifyReport,
                progress: Progress | None = None) -> None:
    """Replay the log's security-relevant entries and name every row that differs."""
    if progress is not None:
        progress.start("database", len(STATE_CHECKS))
    entries = custody.all_entries(session=session)
    by_action: dict[str, list[CustodyEntry]] = {}
    for entry in entries:
        by_action.setdefault(entry.action, []).append(entry)

    def of(*actions: str) -> list[CustodyEntry]:
        """The entries with these actions, in log order."""
        return sorted((e for a in actions for e in by_action.get(a, [])), key=lambda e: e.seq)

    def step() -> None:
        if progress is not None:
            progress.advance("database", 1)

    _check_evidence(session, of("evidence.ingest", "evidence.dispose"), report)
    step()
    _check_derivatives(session, of("redaction.finished", "derivative.sign"), report)
    step()
    _check_tags(session, of("tag.add", "tag.remove", "tag.retract"), report)
    step()
    _check_decisions(session, of("request.decision"), report)
    step()
    moves = [e for e in entries if e.action.startswith("request.")
             and isinstance(e.details, dict) and "transition" in e.details]
    items = _Items(session, of("request.link"), of("request.decision"))
    _check_recordings(items, moves, report)
    step()
    _check_rounds(session, items, moves, report)
    step()
    _check_holds(session, of("retention.hold", "retention.lift"), report)
    step()


def _detail(entry: CustodyEntry, name: str) -> Any:
    return entry.details.get(name) if isinstance(entry.details, dict) else None


def _compare(report: VerifyReport, kind: str, ref: str, entry: CustodyEntry,
             pairs: Iterable[tuple[str, Any, Any]]) -> None:
    """Name each field whose row value differs from what entry `entry` logged (a field an
    older entry did not log is not compared)."""
    for name, row_value, logged in pairs:
        if logged is not None and row_value != logged:
            report.add(kind, ref, f"{name} is {row_value!r} but the log (seq {entry.seq}) "
                       f"says {logged!r}: the row was edited")


def _unlogged(report: VerifyReport, kind: str, ref: str, what: str) -> None:
    report.add(kind, ref, f"no custody entry {what}: the row was inserted or changed "
               "behind the log")


# ---- evidence ------------------------------------------------------------------------


def _check_evidence(session: Session, entries: list[CustodyEntry],
                    report: VerifyReport) -> None:
    rows = {e.id: e for e in session.exec(select(Evidence))}
    objects = {o.key: o for o in session.exec(select(StoredObject))}
    ingested: dict[str, CustodyEntry] = {}
    disposed: set[str] = set()
    for entry in entries:
        if entry.action == "evidence.ingest":
            ingested.setdefault(entry.target_id, entry)
        else:
            disposed.add(entry.target_id)
    for evidence_id, entry in ingested.items():
        ref = f"evidence {evidence_id}"
        row = rows.get(evidence_id)
        if row is None:
            report.add("evidence", ref, f"logged as ingested (seq {entry.seq}) but has no row "
                       "(deleted)")
            continue
        logged_key = _detail(entry, "object_key")
        _compare(report, "evidence", ref, entry, [
            ("sha256", row.sha256, _detail(entry, "sha256")),
            ("size", row.size, _detail(entry, "size")),
            ("object_key", row.object_key, logged_key)])
        obj = objects.get(str(logged_key))
        if obj is None:
            report.add("evidence", ref, f"its original {logged_key} has no stored_object row "
                       "(deleted)")
        else:
            _compare(report, "object", obj.key, entry, [
                ("sha256", obj.sha256, _detail(entry, "sha256")),
                ("size", obj.size, _detail(entry, "size"))])
        if (row.disposed_at is not None) != (evidence_id in disposed):
            report.add("evidence", ref, "recorded destroyed without an evidence.dispose entry"
                       if row.disposed_at is not None else
                       "the log says it was destroyed (evidence.dispose) but its row says not")
    for evidence_id in sorted(set(rows) - set(ingested)):
        _unlogged(report, "evidence", f"evidence {evidence_id}", "evidence.ingest for it")


def _check_derivatives(session: Session, entries: list[CustodyEntry],
                       report: VerifyReport) -> None:
    """Each redacted copy as its redaction job logged it (`redaction.finished`), and each copy
    signed for a request as its signing did (`derivative.sign`)."""
    rows = {d.id: d for d in session.exec(select(Derivative))}
    objects = {o.key: o for o in session.exec(select(StoredObject))}
    logged: dict[str, CustodyEntry] = {}
    for entry in entries:
        if _detail(entry, "derivative_id") is not None:
            logged.setdefault(str(_detail(entry, "derivative_id")), entry)
    for derivative_id, entry in logged.items():
        ref = f"derivative {derivative_id}"
        row = rows.get(derivative_id)
        if row is None:
            report.add("derivative", ref, f"made by a redaction (seq {entry.seq}) but has no "
                       "row (deleted)")
            continue
        _compare(report, "derivative", ref, entry, [
            ("evidence_id", row.evidence_id, entry.target_id),
            ("sha256", row.sha256, _detail(entry, "sha256")),
            ("manifest_sha256", row.manifest_sha256, _detail(entry, "manifest_sha256")),
            ("signed_from", row.signed_from, _detail(entry, "signed_from"))])
        for part, key, logged_sha in (
                ("video", row.object_key, _detail(entry, "sha256")),
                ("manifest", row.manifest_key, _detail(entry, "manifest_sha256"))):
            obj = objects.get(key)
            if obj is not None and logged_sha is not None and obj.sha256 != logged_sha:
                report.add("derivative", ref, f"its {part} points at {key}, recorded with "
                           f"sha256 {obj.sha256!r}, but the log (seq {entry.seq}) says "
                           f"{logged_sha!r}: the row or its object was edited")
    for derivative_id in sorted(set(rows) - set(logged)):
        _unlogged(report, "derivative", f"derivative {derivative_id}",
                  "redaction.finished or derivative.sign for it")


# ---- tags ----------------------------------------------------------------------------


@dataclass
class _TagState:
    entry: CustodyEntry
    evidence_id: str
    name: str
    source: str
    active: bool = True
    retracted: bool = False


def _check_tags(session: Session, entries: list[CustodyEntry], report: VerifyReport) -> None:
    logged: dict[int, _TagState] = {}
    for entry in entries:
        if entry.action == "tag.add":
            tag_id = _detail(entry, "tag_id")
            if isinstance(tag_id, int):
                logged[tag_id] = _TagState(entry, entry.target_id, str(_detail(entry, "name")),
                                           str(_detail(entry, "source")))
            continue
        for tag_id in _detail(entry, "tag_ids") or []:
            state = logged.get(tag_id)
            if state is not None:
                state.active = False
                state.retracted = entry.action == "tag.retract"
    rows = {t.id: t for t in session.exec(select(Tag))}
    for tag_id, state in logged.items():
        ref = f"tag {tag_id} ({state.name} on evidence {state.evidence_id})"
        row = rows.get(tag_id)
        if row is None:
            report.add("tag", ref, f"added (seq {state.entry.seq}) and "
                       + ("in force" if state.active else "removed")
                       + " by the log, but its row is gone (deleted)")
            continue
        _compare(report, "tag", ref, state.entry, [
            ("evidence_id", row.evidence_id, state.evidence_id), ("name", row.name, state.name),
            ("source", row.source, state.source)])
        if row.active != state.active:
            report.add("tag", ref, "in force by the log but removed in its row" if state.active
                       else "removed by the log but in force in its row")
        elif not state.active and (row.retracted_by_analysis is not None) != state.retracted:
            report.add("tag", ref, "retracted by a person count in the log but a custodian's "
                       "removal in its row" if state.retracted else
                       "a custodian's removal in the log but a count's retraction in its row")
    for tag_id in sorted(k for k in set(rows) - set(logged) if k is not None):
        row = rows[tag_id]
        _unlogged(report, "tag", f"tag {tag_id} ({row.name} on evidence {row.evidence_id})",
                  "tag.add for it")


# ---- decisions -----------------------------------------------------------------------


def _check_decisions(session: Session, entries: list[CustodyEntry],
                     report: VerifyReport) -> None:
    rows = list(session.exec(select(RequestDecision).order_by(col(RequestDecision.id))))
    by_seq = {e.seq: e for e in entries}
    seen: set[int] = set()
    for row in rows:
        ref = f"decision {row.id} (request {row.request_id})"
        entry = by_seq.get(row.custody_seq)
        if entry is None:
            _unlogged(report, "decision", ref, f"request.decision at seq {row.custody_seq}")
            continue
        seen.add(entry.seq)
        _compare(report, "decision", ref, entry, [
            ("request_id", row.request_id, entry.target_id),
            ("item_id", row.item_id, _detail(entry, "item_id")),
            ("effect", row.effect, _detail(entry, "effect")),
            ("effect in the decision", row.decision.get("effect") if isinstance(
                row.decision, dict) else None, _detail(entry, "effect")),
            ("tags", sorted(row.tags), _detail(entry, "tags")),
            ("rule_ids", list(row.rule_ids), _detail(entry, "rule_ids"))])
    for seq in sorted(set(by_seq) - seen):
        entry = by_seq[seq]
        report.add("decision", f"request {entry.target_id}", f"the decision logged at seq {seq}"
                   f" ({_detail(entry, 'effect')}) has no row (deleted)")


# ---- recordings of requests and their review rounds -----------------------------------


class _Items:
    """The recordings of requests as the log knows them: each `request.link` names one. A
    request made before recordings were items (migration 0013) linked its one recording by
    its first decision (`evidence_linked`), and its moves name no item: they are that
    recording's."""

    def __init__(self, session: Session, links: list[CustodyEntry],
                 decisions: list[CustodyEntry]) -> None:
        self.rows = {r.id: r for r in session.exec(select(RequestRecording))}
        self.linked: dict[str, CustodyEntry] = {}
        for entry in links:
            self.linked.setdefault(str(_detail(entry, "item_id")), entry)
        # legacy: (request, evidence) of a decision that named no item, and its first entry
        legacy: dict[tuple[str, Any], CustodyEntry] = {}
        for entry in decisions:
            if _detail(entry, "item_id") is None:
                legacy.setdefault((entry.target_id, _detail(entry, "evidence_id")), entry)
        self.legacy_item: dict[str, str] = {}
        for item_id, row in self.rows.items():
            first = legacy.get((row.request_id, row.evidence_id))
            if item_id not in self.linked and first is not None:
                self.linked[item_id] = first
                self.legacy_item[row.request_id] = item_id

    def of(self, entry: CustodyEntry) -> str | None:
        """The recording an entry is about (its item_id, or a legacy request's one)."""
        item_id = _detail(entry, "item_id")
        return str(item_id) if item_id is not None else self.legacy_item.get(entry.target_id)


def _check_recordings(items: _Items, moves: list[CustodyEntry], report: VerifyReport) -> None:
    state = dict.fromkeys(items.linked, INITIAL)
    for entry in moves:
        item_id = items.of(entry)
        if item_id is not None:
            state[item_id] = str(_detail(entry, "to"))
    for item_id, entry in items.linked.items():
        ref = f"request {entry.target_id} recording {item_id}"
        row = items.rows.get(item_id)
        if row is None:
            report.add("recording", ref, f"linked (seq {entry.seq}) but has no row (deleted)")
            continue
        _compare(report, "recording", ref, entry, [
            ("request_id", row.request_id, entry.target_id),
            ("evidence_id", row.evidence_id, _detail(entry, "evidence_id"))])
        if row.state != state[item_id]:
            report.add("recording", ref, f"state is {row.state!r} but the log's moves leave "
                       f"it {state[item_id]!r}: the row was edited")
    for item_id in sorted(set(items.rows) - set(items.linked)):
        _unlogged(report, "recording", f"request {items.rows[item_id].request_id} recording "
                  f"{item_id}", "request.link for it")


@dataclass
class _RoundState:
    submit: CustodyEntry
    outcome: str | None = None
    released: bool = False
    checks: list[tuple[str, Any, CustodyEntry]] = field(default_factory=list)

    def live(self) -> bool:
        return not self.released and self.outcome in (None, "approved")


def _check_rounds(session: Session, items: _Items, moves: list[CustodyEntry],
                  report: VerifyReport) -> None:
    logged: dict[int, _RoundState] = {}  # by the submit entry's seq
    current: dict[str, _RoundState] = {}  # each recording's newest round
    for entry in moves:
        item_id = items.of(entry) or entry.target_id
        if entry.action == "request.submit":
            current[item_id] = logged[entry.seq] = _RoundState(entry)
            continue
        round_ = current.get(item_id)
        if round_ is None:
            continue
        if entry.action in _ROUND_OUTCOMES:
            round_.outcome = _ROUND_OUTCOMES[entry.action]
        elif entry.action == "request.release":
            round_.released = True
        elif entry.action == "request.close":
            if round_.live():
                round_.outcome = "withdrawn"
            continue
        else:
            continue
        # what the move logged about the round, checked against its row below
        for name in ("round_id", "sha256", "signature"):
            if _detail(entry, name) is not None:
                round_.checks.append((name, _detail(entry, name), entry))
    rows = list(session.exec(select(ReviewRound).order_by(col(ReviewRound.id))))
    matched: set[int] = set()
    for row in rows:
        ref = f"review round {row.id} (request {row.request_id})"
        state = logged.get(row.submit_seq)
        if state is None:
            _unlogged(report, "round", ref, f"request.submit at seq {row.submit_seq}")
            continue
        matched.add(row.submit_seq)
        entry = state.submit
        _compare(report, "round", ref, entry, [
            ("item_id", row.item_id, _detail(entry, "item_id")),
            ("derivative_id", row.derivative_id, _detail(entry, "derivative_id")),
            ("sha256", row.sha256, _detail(entry, "sha256")),
            ("decision_id", row.decision_id, _detail(entry, "decision_id"))])
        values: dict[str, Callable[[ReviewRound], Any]] = {
            "round_id": lambda r: r.id, "sha256": lambda r: r.sha256,
            "signature": lambda r: r.signature}
        for name, logged_value, move in state.checks:
            _compare(report, "round", ref, move, [(name, values[name](row), logged_value)])
        if row.outcome != state.outcome:
            report.add("round", ref, f"outcome is {row.outcome!r} but the log's moves give "
                       f"{state.outcome!r}: the row was edited")
        if (row.released_at is not None) != state.released:
            report.add("round", ref, "released by its row but not by the log"
                       if row.released_at is not None else
                       "released by the log but not by its row")
    for seq in sorted(set(logged) - matched):
        entry = logged[seq].submit
        report.add("round", f"request {entry.target_id} recording {_detail(entry, 'item_id')}",
                   f"the file submitted for review at seq {seq} has no review round (deleted)")


# ---- retention holds -----------------------------------------------------------------


def _check_holds(session: Session, entries: list[CustodyEntry], report: VerifyReport) -> None:
    rows = list(session.exec(select(RetentionHold).order_by(col(RetentionHold.id))))
    placed = {e.seq: e for e in entries if e.action == "retention.hold"}
    lifted = {_detail(e, "hold_id") for e in entries if e.action == "retention.lift"}
    matched: set[int] = set()
    for row in rows:
        ref = f"hold {row.id} on evidence {row.evidence_id}"
        entry = placed.get(row.placed_seq)
        if entry is None:
            _unlogged(report, "hold", ref, f"retention.hold at seq {row.placed_seq}")
            continue
        matched.add(entry.seq)
        _compare(report, "hold", ref, entry, [
            ("evidence_id", row.evidence_id, entry.target_id),
            ("kind", row.kind, _detail(entry, "kind"))])
        if (row.lifted_at is not None) != (row.id in lifted):
            report.add("hold", ref, "lifted by its row without a retention.lift entry"
                       if row.lifted_at is not None else
                       "lifted by the log (retention.lift) but standing in its row")
    for seq in sorted(set(placed) - matched):
        entry = placed[seq]
        report.add("hold", f"hold on evidence {entry.target_id}", f"placed at seq {seq} but "
                   "has no row (deleted): the recording could be destroyed under it")
