"""`bwc worker`: claim jobs, run their handlers under a renewed lease, record the outcome.

A handler does its long work outside any database transaction, writing only into its own
work directory, and publishes what it made in one final transaction that also calls
`JobContext.complete` (which checks the lease). A worker killed mid-job therefore leaves
nothing published: its lease runs out, another worker re-runs the job, and the dead
worker's work directory is swept by the next worker started on the same host.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bwc_custody.auth.service import Principal
from bwc_custody.config import get_settings
from bwc_custody.custody import service as custody
from bwc_custody.custody import timestamps, witness
from bwc_custody.db import session_scope
from bwc_custody.jobs import service
from bwc_custody.jobs.errors import LeaseLost, UnknownJobKind
from bwc_custody.jobs.models import Job
from bwc_custody.timeutil import as_utc, utcnow
from bwc_custody.vault.service import get_signer, get_store

logger = logging.getLogger(__name__)

# A job kind's handler; the table of kinds to handlers is `flows.jobs.HANDLERS`, passed in
# by whoever runs a worker (the handlers live above every domain they touch).
Handler = Callable[["JobContext"], None]
Handlers = Mapping[str, Handler]


def worker_principal(name: str | None = None) -> Principal:
    """The identity a worker acts and logs under: host, pid and a random suffix."""
    tag = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    return Principal(user_id=None, username=f"worker:{tag}", roles=frozenset())


class Heartbeat:
    """Renews a job's lease (at least every third of its length) and carries progress to the
    row every couple of seconds, so a custodian watching a long redaction sees it move."""

    PROGRESS_SECONDS = 2.0

    def __init__(self, engine: Engine, job_id: str, worker: Principal,
                 lease_seconds: float) -> None:
        self.engine, self.job_id, self.worker = engine, job_id, worker
        self.lease_seconds = lease_seconds
        self.progress: float | None = None
        self.detail: dict[str, Any] | None = None
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def beat(self) -> bool:
        """Renew the lease and store the progress once; False (and `lost` set) when the
        lease is no longer this worker's."""
        ok = service.renew(engine=self.engine, job_id=self.job_id, worker=self.worker,
                           lease_seconds=self.lease_seconds, progress=self.progress,
                           detail=self.detail)
        if not ok:
            self.lost.set()
        return ok

    def _run(self) -> None:
        while not self._stop.wait(min(self.lease_seconds / 3, self.PROGRESS_SECONDS)):
            try:
                ok = self.beat()
            except Exception:  # a database hiccup: try again next beat; the lease has slack
                logger.exception("lease renewal of job %s failed", self.job_id)
                continue
            if not ok:
                return


@dataclass
class JobContext:
    """What a handler gets: its job, the database, its identity and its work directory."""

    job: Job
    engine: Engine
    worker: Principal
    workdir: Path
    heartbeat: Heartbeat
    completed: bool = field(default=False)

    def progress(self, done: int, total: int | None, stage: str | None = None) -> None:
        """Report progress (units done of total, of `stage` for a job that runs in stages,
        so whoever watches can tell a bar that restarts from one going backwards); raises
        LeaseLost once the lease is gone, so the handler stops before publishing anything."""
        if self.heartbeat.lost.is_set():
            raise LeaseLost(f"lease on job {self.job.id} lost", job_id=self.job.id)
        self.heartbeat.progress = (done / total) if total else None
        detail: dict[str, Any] = {"done": done, "total": total}
        if stage is not None:
            detail["stage"] = stage
        self.heartbeat.detail = detail

    def complete(self, session: Session, result: dict[str, Any]) -> None:
        """Mark the job done in the handler's publishing transaction."""
        service.complete(session=session, job_id=self.job.id, worker=self.worker,
                         result=result)
        self.completed = True


def work_root(home: Path) -> Path:
    """Where workers keep their per-job scratch directories."""
    root = home / "work"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_workdirs(root: Path) -> list[str]:
    """Remove scratch directories of dead workers of this host (named host_pid_job)."""
    removed = []
    host = socket.gethostname()
    for d in root.iterdir() if root.is_dir() else []:
        parts = d.name.split("_")
        if len(parts) < 3 or parts[0] != host or not parts[1].isdigit():
            continue
        if int(parts[1]) != os.getpid() and not _pid_alive(int(parts[1])):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
    return removed


def run_job(job: Job, *, engine: Engine, handlers: Handlers, worker: Principal,
            lease_seconds: float, home: Path) -> Job | None:
    """Run one claimed job to its end: succeeded, failed, or back in the queue."""
    handler = handlers.get(job.kind)
    workdir = work_root(home) / f"{socket.gethostname()}_{os.getpid()}_{job.id}"
    workdir.mkdir(mode=0o700)
    try:
        with Heartbeat(engine, job.id, worker, lease_seconds) as beat:
            ctx = JobContext(job=job, engine=engine, worker=worker, workdir=workdir,
                             heartbeat=beat)
            if handler is None:
                raise UnknownJobKind(f"this worker has no handler for {job.kind!r}",
                                             kind=job.kind)
            handler(ctx)
            if not ctx.completed:
                raise RuntimeError(f"handler for {job.kind} returned without completing")
    except LeaseLost:
        logger.warning("job %s: lease lost, its result is discarded", job.id)
        return None
    except Exception as exc:  # every failure is recorded on the job; the worker lives on
        logger.warning("job %s (%s) failed: %s", job.id, job.kind, exc)
        return service.fail(engine=engine, job_id=job.id, worker=worker, error=exc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    with Session(engine) as session:
        return session.get(Job, job.id)


def checkpoint_if_due(engine: Engine, minutes: int, now: datetime | None = None, *,
                      entries: int = 0) -> bool:
    """Sign a custody checkpoint when entries were appended since the newest and either the
    newest is older than `minutes` (or there is none) or at least `entries` are unsigned
    (0 turns either off); True when one was made. Idempotent across workers: the checkpoint
    takes the log lock and re-reads the newest."""
    if minutes <= 0 and entries <= 0:
        return False
    with session_scope(engine) as session:
        last = custody.latest_checkpoint(session=session)
        unsigned = custody.log_size(session=session) - (last.tree_size if last else 0)
        if unsigned <= 0:
            return False
        now = now or utcnow()
        due = ((minutes > 0 and (last is None or as_utc(last.created_at)
                                 + timedelta(minutes=minutes) <= now))
               or (entries > 0 and unsigned >= entries))
        if not due:
            return False
        made = custody.create_checkpoint(session=session, signer=get_signer(),
                                         store=get_store())
        return last is None or made.index != last.index


# How often the checkpointer looks (two small queries): a due checkpoint waits at most this.
CHECKPOINT_LOOK_SECONDS = 5.0


def _look_for_checkpoint(engine: Engine, minutes: int, entries: int) -> bool:
    try:
        if checkpoint_if_due(engine, minutes, entries=entries):
            logger.info("signed a custody checkpoint")
            return True
    except Exception:  # never let checkpointing stop the jobs; verify will tell
        logger.exception("periodic checkpoint failed")
    return False


def run_checkpointer(engine: Engine, *, minutes: int, entries: int, stop: threading.Event,
                     look_seconds: float = CHECKPOINT_LOOK_SECONDS,
                     made: threading.Event | None = None) -> None:
    """Sign checkpoints as they fall due until `stop` is set: a thread of the worker, so a
    long job never holds the unsigned tail open (README, "Threat model"). Sets `made` after
    each (the timestamper's cue)."""
    while not stop.wait(look_seconds):
        if _look_for_checkpoint(engine, minutes, entries) and made is not None:
            made.set()


# The timestamper looks for checkpoints without a timestamp this often, and at once when the
# checkpointer signs one; after a pass in which no TSA answered it retries after the first
# delay, doubling up to the second: a TSA that is down is retried, never hammered.
TIMESTAMP_LOOK_SECONDS = 60.0
TIMESTAMP_RETRY_SECONDS = (5.0, 300.0)


def stamp_if_pending(engine: Engine) -> timestamps.StampOutcome | None:
    """Timestamp every checkpoint still waiting for one (None when no TSA is configured).
    The checkpoints were committed long before: a TSA that is down delays only this."""
    tsa = timestamps.tsa_config()
    if not tsa.configured:
        return None
    outcome = timestamps.stamp_pending(engine=engine, store=get_store(), tsa=tsa)
    if outcome.stamped:
        logger.info("timestamped custody checkpoints %s", outcome.stamped)
    if outcome.error is not None:
        logger.warning("checkpoints %s wait for a timestamp: %s %s", outcome.waiting,
                       outcome.error.message, outcome.error.details.get("attempts"))
    return outcome


def publish_if_configured(engine: Engine) -> witness.PublishOutcome | None:
    """Send the newest checkpoint head to each witness that lacks it (None when none is
    configured: BWC_WITNESS_URL, off by default)."""
    settings = get_settings()
    if not settings.witness_urls:
        return None
    outcome = witness.publish_newest(engine=engine, signer=get_signer(),
                                     urls=settings.witness_urls, origin=settings.log_origin,
                                     keys=settings.witness_key_list)
    if outcome.published:
        logger.info("checkpoint %s published to %s", outcome.index, outcome.published)
    if outcome.failed:
        logger.warning("checkpoint %s waits for witnesses: %s", outcome.index, outcome.failed)
    return outcome


def run_timestamper(engine: Engine, *, stop: threading.Event, wake: threading.Event,
                    look_seconds: float = TIMESTAMP_LOOK_SECONDS,
                    retry_seconds: tuple[float, float] = TIMESTAMP_RETRY_SECONDS) -> None:
    """Timestamp checkpoints, and publish the newest head to witnesses, until `stop` is set
    (set `wake` too, to end a wait early): a thread of its own, so a TSA or witness that is
    slow or down holds up neither the checkpointer nor the jobs."""
    delay = retry_seconds[0]
    while not stop.is_set():
        failed = False
        try:
            outcome = stamp_if_pending(engine)
            failed = outcome is not None and outcome.error is not None
        except Exception:  # the next pass tries again; verify names what is missing
            logger.exception("timestamping checkpoints failed")
            failed = True
        try:
            published = publish_if_configured(engine)
            failed = failed or (published is not None and bool(published.failed))
        except Exception:
            logger.exception("publishing the checkpoint head failed")
            failed = True
        wait = delay if failed else look_seconds
        delay = min(delay * 2, retry_seconds[1]) if failed else retry_seconds[0]
        wake.wait(wait)
        wake.clear()


def run_worker(*, engine: Engine, home: Path, handlers: Handlers,
               housekeeping: Callable[[Engine], object] | None = None,
               kinds: Sequence[str] | None = None,
               lease_seconds: float = 60.0, poll_seconds: float = 2.0, drain: bool = False,
               max_jobs: int | None = None, stop: threading.Event | None = None,
               worker: Principal | None = None) -> int:
    """Claim and run jobs until stopped (or, with `drain`, until the queue is empty);
    returns how many jobs this worker ran. A worker that keeps running also signs custody
    checkpoints on a thread of its own; a draining one looks between jobs."""
    stop = stop or threading.Event()
    worker = worker or worker_principal()
    kinds = list(kinds or handlers)
    for name in sweep_workdirs(work_root(home)):
        logger.info("removed the scratch directory of a dead worker: %s", name)
    ran = 0
    settings = get_settings()
    minutes, entries = settings.checkpoint_minutes, settings.checkpoint_entries
    wake_timestamper = threading.Event()
    if _look_for_checkpoint(engine, minutes, entries):
        wake_timestamper.set()
    checkpointer_stop = threading.Event()
    checkpointer = threading.Thread(
        target=run_checkpointer, name="bwc-checkpointer", daemon=True,
        kwargs={"engine": engine, "minutes": minutes, "entries": entries,
                "stop": checkpointer_stop, "made": wake_timestamper})
    timestamper = threading.Thread(
        target=run_timestamper, name="bwc-timestamper", daemon=True,
        kwargs={"engine": engine, "stop": checkpointer_stop, "wake": wake_timestamper})
    if not drain and (minutes > 0 or entries > 0):
        checkpointer.start()
    if not drain and (settings.tsa_urls or settings.witness_urls):
        timestamper.start()
    next_look = 0.0  # housekeeping at once, then every 30 s
    try:
        while not stop.is_set() and (max_jobs is None or ran < max_jobs):
            if time.monotonic() >= next_look:
                next_look = time.monotonic() + 30
                if drain:
                    _look_for_checkpoint(engine, minutes, entries)
                try:
                    if housekeeping is not None:
                        housekeeping(engine)
                    if drain:
                        stamp_if_pending(engine)
                        publish_if_configured(engine)
                except Exception:  # the next look tries again
                    logger.exception("housekeeping failed")
            job = service.claim(engine=engine, worker=worker, kinds=kinds,
                                lease_seconds=lease_seconds)
            if job is None:
                if drain:
                    break
                stop.wait(poll_seconds)  # idle poll: nothing queued
                continue
            run_job(job, engine=engine, handlers=handlers, worker=worker,
                    lease_seconds=lease_seconds, home=home)
            ran += 1
    finally:
        checkpointer_stop.set()
        wake_timestamper.set()
        for thread in (checkpointer, timestamper):
            if thread.is_alive():
                thread.join()
    return ran


def run_now(job_id: str, *, engine: Engine, home: Path, handlers: Handlers,
            lease_seconds: float = 60.0) -> Job:
    """Run one queued job in the foreground (the CLI's synchronous commands)."""
    worker = worker_principal()
    job = service.claim(engine=engine, worker=worker, kinds=(), job_id=job_id,
                        lease_seconds=lease_seconds)
    if job is None:
        with Session(engine) as session:
            return service.get_job(session=session, job_id=job_id)
    done = run_job(job, engine=engine, handlers=handlers, worker=worker,
                   lease_seconds=lease_seconds, home=home)
    with Session(engine) as session:
        return done or service.get_job(session=session, job_id=job_id)
