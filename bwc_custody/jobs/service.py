"""Queue, claim, renew, finish and fail jobs.

Claiming is a compare-and-set: the UPDATE repeats the claimable condition (queued, or running
with an expired lease) in its WHERE clause, so two workers can never both win one job. On
PostgreSQL the candidate is first picked with `FOR UPDATE SKIP LOCKED`, so concurrent workers
take different jobs instead of queueing on one row; SQLite serialises all writers anyway.
Every state change a person would ask about (queued, started, finished, failed, cancelled)
lands in the custody log with the job id.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bwc_custody.auth.service import Principal
from bwc_custody.custody import service as custody
from bwc_custody.db import session_scope, storable_text
from bwc_custody.errors import BwcError
from bwc_custody.evidence.models import Evidence
from bwc_custody.evidence.service import require_not_disposed
from bwc_custody.jobs.errors import JobNotCancellable, JobNotFound, LeaseLost, UnknownJobKind
from bwc_custody.jobs.models import Job
from bwc_custody.timeutil import as_utc, utcnow

# Every kind a worker can run; handlers register under these names (jobs.worker).
KINDS: tuple[str, ...] = ("redaction", "analysis", "speech", "verify")
_extra_kinds: set[str] = set()


def allow_kind(kind: str) -> None:
    """Admit a further job kind (tests use a trivial one to exercise the queue itself)."""
    _extra_kinds.add(kind)


def _check_kind(kind: str) -> None:
    if kind not in KINDS and kind not in _extra_kinds:
        raise UnknownJobKind(f"no worker runs jobs of kind {kind!r}", kind=kind,
                             kinds=list(KINDS))


def _log(session: Session, actor: Principal, job: Job, event: str, client_addr: str = "",
         reason: str = "", **details: Any) -> None:
    custody.append(session=session, actor=actor, action=f"{job.kind}.{event}",
                   target_type="evidence" if job.evidence_id else "job",
                   target_id=job.evidence_id or job.id, client_addr=client_addr,
                   reason=reason, details={"job_id": job.id, **details})


def enqueue(*, session: Session, kind: str, actor: Principal, evidence_id: str | None = None,
            params: dict[str, Any] | None = None, max_attempts: int = 3,
            client_addr: str = "") -> Job:
    """Queue a job (logged as `<kind>.queued`)."""
    _check_kind(kind)
    if evidence_id is not None:
        found = session.get(Evidence, evidence_id)
        if found is not None:
            require_not_disposed(found)
    job = Job(kind=kind, evidence_id=evidence_id, params=params or {},
              max_attempts=max_attempts, created_by=actor.username)
    session.add(job)
    session.flush()
    _log(session, actor, job, "queued", client_addr, params=job.params)
    return job


def get_job(*, session: Session, job_id: str) -> Job:
    """One job, or JobNotFound."""
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id}", job_id=job_id)
    return job


def list_jobs(*, session: Session, state: str | None = None, kind: str | None = None,
              evidence_id: str | None = None, limit: int = 100) -> list[Job]:
    """Jobs, newest first, optionally filtered."""
    q = select(Job)
    if state:
        q = q.where(Job.state == state)
    if kind:
        q = q.where(Job.kind == kind)
    if evidence_id:
        q = q.where(Job.evidence_id == evidence_id)
    q = q.order_by(col(Job.created_at).desc()).limit(max(1, min(limit, 1000)))
    return list(session.exec(q).all())


# too early to say: the first seconds and percent of a job are mostly its start (loading
# models, probing the file), and a rate read from them would promise too much
ESTIMATE_AFTER_S = 10.0
ESTIMATE_AFTER_PROGRESS = 0.02


def time_left(job: Job, now: datetime) -> float | None:
    """Seconds a running job has still to go at the pace it has kept since its worker
    started it (None while queued, finished, too early to say, or while its worker has
    stopped renewing its lease: it is not moving then)."""
    if job.state != "running" or job.started_at is None:
        return None
    if job.lease_expires_at is not None and as_utc(job.lease_expires_at) < as_utc(now):
        return None
    elapsed = (as_utc(now) - as_utc(job.started_at)).total_seconds()
    done = job.progress or 0.0
    if elapsed < ESTIMATE_AFTER_S or done < ESTIMATE_AFTER_PROGRESS:
        return None
    return elapsed * (1.0 - min(done, 1.0)) / done


# the pace of a kind of job on this server: the median of its last finished jobs, once there
# are enough that one odd job (a machine busy with something else) does not set it
PACE_JOBS = 20
PACE_MIN_JOBS = 3


class Pace(NamedTuple):
    """How fast a kind of job has run on this server."""

    per_second: float  # seconds of running per second of recording (median)
    jobs: int  # how many finished jobs the median is of


def pace(*, session: Session, kind: str, like: Callable[[dict[str, Any]], bool]
         ) -> Pace | None:
    """Seconds a job of `kind` has taken on this server per second of its recording: the
    median over its last PACE_JOBS finished jobs whose params are `like` the one asked about
    (a redaction with whole heads takes longer), with how many it is from; None until
    PACE_MIN_JOBS have finished."""
    rows = session.exec(
        select(Job, Evidence).join(Evidence, col(Job.evidence_id) == col(Evidence.id))
        .where(Job.kind == kind, Job.state == "succeeded", col(Job.started_at).is_not(None),
               col(Job.finished_at).is_not(None))
        .order_by(col(Job.finished_at).desc()).limit(10 * PACE_JOBS))
    ratios = []
    for job, evidence in rows:
        length = (evidence.media or {}).get("duration_s")
        if not like(job.params) or not isinstance(length, int | float) or length <= 0:
            continue
        assert job.started_at is not None
        assert job.finished_at is not None
        took = (as_utc(job.finished_at) - as_utc(job.started_at)).total_seconds()
        ratios.append(took / length)
        if len(ratios) == PACE_JOBS:
            break
    if len(ratios) < PACE_MIN_JOBS:
        return None
    return Pace(statistics.median(ratios), len(ratios))


def _claimable(now: datetime) -> Any:
    return or_(col(Job.state) == "queued",
               and_(col(Job.state) == "running", col(Job.lease_expires_at) < now))


def claim(*, engine: Engine, worker: Principal, kinds: Sequence[str], lease_seconds: float,
          job_id: str | None = None) -> Job | None:
    """Take the oldest claimable job of `kinds` (or exactly `job_id`) under a fresh lease.

    Returns None when there is nothing to do. A job that used up its attempts (its workers
    kept dying) is failed with `attempts_exhausted` instead of being run again.
    """
    for _ in range(20):  # a lost compare-and-set race just means: look again
        with session_scope(engine) as session:
            now = utcnow()
            q = select(Job.id, Job.lease_owner).where(_claimable(now))
            q = q.where(col(Job.id) == job_id) if job_id else q.where(col(Job.kind).in_(kinds))
            q = q.order_by(col(Job.created_at)).limit(1)
            if session.get_bind().dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            row = session.exec(q).first()
            if row is None:
                return None
            candidate, previous_owner = row
            won = session.execute(
                update(Job).where(col(Job.id) == candidate, _claimable(now)).values(
                    state="running", lease_owner=worker.username,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    attempts=col(Job.attempts) + 1, started_at=now, progress=0.0,
                    progress_detail={}))
            if won.rowcount != 1:  # type: ignore[attr-defined]
                continue
            job = session.get(Job, candidate)
            assert job is not None
            session.refresh(job)
            if job.attempts > job.max_attempts:
                _finish_failed(session, worker, job, "attempts_exhausted",
                               f"the job was started {job.max_attempts} times and no worker "
                               "finished it (workers died or lost their lease)", {})
                continue
            _log(session, worker, job, "started", attempt=job.attempts,
                 reclaimed_from=previous_owner)
            session.expunge(job)
            return job
    return None


def renew(*, engine: Engine, job_id: str, worker: Principal, lease_seconds: float,
          progress: float | None = None, detail: dict[str, Any] | None = None) -> bool:
    """Extend the lease (and store progress); False when the lease is no longer ours."""
    values: dict[str, Any] = {"lease_expires_at": utcnow() + timedelta(seconds=lease_seconds)}
    if progress is not None:
        values["progress"] = max(0.0, min(1.0, progress))
    if detail is not None:
        values["progress_detail"] = detail
    with session_scope(engine) as session:
        res = session.execute(update(Job).where(
            col(Job.id) == job_id, col(Job.state) == "running",
            col(Job.lease_owner) == worker.username).values(**values))
        return bool(res.rowcount == 1)  # type: ignore[attr-defined]


def _owned(session: Session, job_id: str, worker: Principal) -> Job:
    """The job, locked for this transaction, if this worker still holds it. A lease that ran
    out but was not taken over still counts: the row lock keeps a claimer out until commit."""
    q = select(Job).where(col(Job.id) == job_id).with_for_update()
    job = session.exec(q).first()
    if job is None or job.state != "running" or job.lease_owner != worker.username:
        raise LeaseLost(f"job {job_id} is no longer held by {worker.username}", job_id=job_id)
    return job


def complete(*, session: Session, job_id: str, worker: Principal,
             result: dict[str, Any]) -> Job:
    """Mark the job succeeded inside the caller's transaction, which also records what the job
    made; LeaseLost (and so a rollback of all of it) unless this worker still holds it."""
    job = _owned(session, job_id, worker)
    job.state, job.result, job.progress = "succeeded", result, 1.0
    job.finished_at, job.lease_expires_at = utcnow(), None
    job.error_code = job.error_message = None
    job.error_details = {}
    session.add(job)
    session.flush()
    _log(session, worker, job, "finished", attempt=job.attempts, **result)
    return job


def _finish_failed(session: Session, worker: Principal, job: Job, code: str, message: str,
                   details: dict[str, Any]) -> None:
    job.state, job.finished_at, job.lease_expires_at = "failed", utcnow(), None
    job.error_code, job.error_message, job.error_details = code, message, details
    session.add(job)
    session.flush()
    _log(session, worker, job, "failed", attempt=job.attempts, error_code=code,
         error=message)


def fail(*, engine: Engine, job_id: str, worker: Principal, error: BaseException) -> Job | None:
    """Record a failed attempt. Bad input (a stable-coded client error) fails the job for
    good; anything else is re-queued until its attempts are used up. Returns the job, or
    None when the lease was lost (the job is someone else's now)."""
    if isinstance(error, BwcError):
        code, message, details = error.code, error.message, error.details
        permanent = error.status < 500
    else:
        code, message, details = "worker_error", f"{type(error).__name__}: {error}", {}
        permanent = False
    message = storable_text(message)  # a tool's output in a message must not stop the record
    with session_scope(engine) as session:
        try:
            job = _owned(session, job_id, worker)
        except LeaseLost:
            return None
        if permanent or job.attempts >= job.max_attempts:
            _finish_failed(session, worker, job, code, message, details)
        else:
            job.state, job.lease_owner, job.lease_expires_at = "queued", None, None
            job.error_code, job.error_message, job.error_details = code, message, details
            session.add(job)
            session.flush()
            _log(session, worker, job, "retrying", attempt=job.attempts, error_code=code,
                 error=message)
        session.expunge(job)
        return job


def release(*, engine: Engine, job_id: str, worker: Principal) -> bool:
    """Give a running job back to the queue (a worker told to stop mid-job)."""
    with session_scope(engine) as session:
        res = session.execute(update(Job).where(
            col(Job.id) == job_id, col(Job.state) == "running",
            col(Job.lease_owner) == worker.username).values(
                state="queued", lease_owner=None, lease_expires_at=None,
                attempts=col(Job.attempts) - 1))
        return bool(res.rowcount == 1)  # type: ignore[attr-defined]


def cancel(*, session: Session, job_id: str, actor: Principal, reason: str,
           client_addr: str = "") -> Job:
    """Cancel a queued job (logged with the reason)."""
    job = get_job(session=session, job_id=job_id)
    won = session.execute(update(Job).where(col(Job.id) == job_id,
                                            col(Job.state) == "queued").values(
        state="cancelled", finished_at=utcnow()))
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise JobNotCancellable(f"job {job_id} is {job.state}; only queued jobs can be "
                                "cancelled", job_id=job_id, state=job.state)
    session.refresh(job)
    _log(session, actor, job, "cancelled", client_addr, reason=reason)
    return job
