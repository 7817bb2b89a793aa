"""The job queue on SQLite and PostgreSQL: claiming under leases, exactly-once claims under
concurrency, lease expiry and re-run, retries, cancellation, and the custody log."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from bwc_custody.errors import BwcError
from bwc_custody.flows.jobs import HANDLERS
from bwc_custody.jobs import service
from bwc_custody.jobs.errors import JobNotCancellable, LeaseLost, UnknownJobKind
from bwc_custody.jobs.models import Job
from bwc_custody.jobs.worker import (
    JobContext,
    run_worker,
    sweep_workdirs,
    work_root,
    worker_principal,
)
from bwc_custody.timeutil import utcnow
from tests.support.actors import LOCAL_OPERATOR

KIND = "test-noop"


class BadInput(BwcError):
    code = "test_bad_input"
    status = 422


@pytest.fixture(autouse=True)
def _noop_kind() -> None:
    service.allow_kind(KIND)


def _engine() -> Any:
    from bwc_custody.db import get_engine

    return get_engine()


def _enqueue(n: int = 1, **kw: Any) -> list[str]:
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return [service.enqueue(session=session, kind=KIND, actor=LOCAL_OPERATOR,
                                params={"i": i}, **kw).id for i in range(n)]


def _job(job_id: str) -> Job:
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return service.get_job(session=session, job_id=job_id)


def _expire(job_id: str) -> None:
    """Let the job's lease run out (as if its worker had died a while ago)."""
    from bwc_custody.db import session_scope

    with session_scope() as session:
        session.execute(update(Job).where(col(Job.id) == job_id).values(
            lease_expires_at=utcnow() - timedelta(seconds=1)))


def _actions(job_id: str) -> list[tuple[str, dict[str, Any]]]:
    from sqlmodel import select

    from bwc_custody.custody.models import CustodyEntry
    from bwc_custody.db import session_scope

    with session_scope() as session:
        rows = session.exec(select(CustodyEntry).order_by(col(CustodyEntry.seq))).all()
        return [(e.action, e.details) for e in rows if e.details.get("job_id") == job_id]


def test_lifecycle_is_logged(migrated: str) -> None:
    from bwc_custody.db import session_scope

    [job_id] = _enqueue()
    me = worker_principal("a")
    job = service.claim(engine=_engine(), worker=me, kinds=[KIND], lease_seconds=30)
    assert job is not None
    assert job.id == job_id
    assert job.state == "running"
    assert job.attempts == 1
    assert job.lease_owner == me.username
    assert service.claim(engine=_engine(), worker=worker_principal("b"), kinds=[KIND],
                         lease_seconds=30) is None  # held: nobody else gets it
    assert service.renew(engine=_engine(), job_id=job_id, worker=me, lease_seconds=30,
                         progress=0.5, detail={"done": 5, "total": 10})
    assert _job(job_id).progress == 0.5
    with session_scope() as session:
        service.complete(session=session, job_id=job_id, worker=me, result={"answer": 42})
    done = _job(job_id)
    assert (done.state, done.result, done.progress) == ("succeeded", {"answer": 42}, 1.0)
    assert [a for a, _ in _actions(job_id)] == [f"{KIND}.queued", f"{KIND}.started",
                                                f"{KIND}.finished"]


def test_unknown_kind_is_refused(migrated: str) -> None:
    from bwc_custody.db import session_scope

    with pytest.raises(UnknownJobKind), session_scope() as session:
        service.enqueue(session=session, kind="mine-bitcoin", actor=LOCAL_OPERATOR)


def test_concurrent_workers_never_claim_one_job_twice(migrated: str) -> None:
    ids = set(_enqueue(40))
    claimed: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        me = worker_principal(f"w{n}")
        try:
            start.wait()
            while (job := service.claim(engine=_engine(), worker=me, kinds=[KIND],
                                        lease_seconds=60)) is not None:
                with lock:
                    claimed.append(job.id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    counts = Counter(claimed)
    assert set(counts) == ids
    assert max(counts.values()) == 1, [j for j, c in counts.items() if c > 1]
    assert {_job(j).attempts for j in ids} == {1}


def test_expired_lease_is_reclaimed_and_the_old_worker_cannot_finish(migrated: str) -> None:
    from bwc_custody.db import session_scope

    [job_id] = _enqueue()
    dead, alive = worker_principal("dead"), worker_principal("alive")
    assert service.claim(engine=_engine(), worker=dead, kinds=[KIND], lease_seconds=30)
    _expire(job_id)
    job = service.claim(engine=_engine(), worker=alive, kinds=[KIND], lease_seconds=30)
    assert job is not None
    assert job.attempts == 2
    # the first worker wakes up: its lease is gone, it can neither renew nor publish
    assert not service.renew(engine=_engine(), job_id=job_id, worker=dead, lease_seconds=30)
    with pytest.raises(LeaseLost), session_scope() as session:
        service.complete(session=session, job_id=job_id, worker=dead, result={})
    with session_scope() as session:
        service.complete(session=session, job_id=job_id, worker=alive, result={"ok": True})
    starts = [d for a, d in _actions(job_id) if a == f"{KIND}.started"]
    assert [s["reclaimed_from"] for s in starts] == [None, dead.username]
    assert _job(job_id).result == {"ok": True}


def test_a_job_whose_workers_keep_dying_fails_after_its_attempts(migrated: str) -> None:
    [job_id] = _enqueue(max_attempts=2)
    for n in range(2):
        assert service.claim(engine=_engine(), worker=worker_principal(f"d{n}"), kinds=[KIND],
                             lease_seconds=30)
        _expire(job_id)
    assert service.claim(engine=_engine(), worker=worker_principal("x"), kinds=[KIND],
                         lease_seconds=30) is None
    job = _job(job_id)
    assert (job.state, job.error_code) == ("failed", "attempts_exhausted")


def test_bad_input_fails_for_good_but_a_crash_is_retried(migrated: str) -> None:
    bad, flaky = _enqueue(2, max_attempts=2)
    me = worker_principal("w")
    assert service.claim(engine=_engine(), worker=me, kinds=[KIND], lease_seconds=30,
                         job_id=bad)
    service.fail(engine=_engine(), job_id=bad, worker=me, error=BadInput("nope", field="x"))
    job = _job(bad)
    assert (job.state, job.error_code, job.error_details) == ("failed", "test_bad_input",
                                                              {"field": "x"})
    for attempt in (1, 2):
        assert service.claim(engine=_engine(), worker=me, kinds=[KIND], lease_seconds=30,
                             job_id=flaky)
        service.fail(engine=_engine(), job_id=flaky, worker=me, error=OSError("disk"))
        job = _job(flaky)
        assert job.attempts == attempt
        assert job.state == ("queued" if attempt == 1 else "failed")
        assert job.error_code == "worker_error"
    assert [a for a, _ in _actions(flaky)].count(f"{KIND}.retrying") == 1


def test_a_failure_whose_message_holds_nul_is_still_recorded(migrated: str) -> None:
    [job_id] = _enqueue(1)
    me = worker_principal("w")
    assert service.claim(engine=_engine(), worker=me, kinds=[KIND], lease_seconds=30,
                         job_id=job_id)
    # A tool's raw output (ffmpeg echoing a byte of the file) can hold a NUL.
    service.fail(engine=_engine(), job_id=job_id, worker=me,
                 error=BadInput("decoder said: tag 'ab\x00'"))
    job = _job(job_id)
    assert (job.state, job.error_message) == ("failed", "decoder said: tag 'ab\\x00'")
    assert f"{KIND}.failed" in [a for a, _ in _actions(job_id)]


def test_cancel_only_queued_jobs(migrated: str) -> None:
    from bwc_custody.db import session_scope

    queued, running = _enqueue(2)
    assert service.claim(engine=_engine(), worker=worker_principal("w"), kinds=[KIND],
                         lease_seconds=30, job_id=running)
    with session_scope() as session:
        job = service.cancel(session=session, job_id=queued, actor=LOCAL_OPERATOR,
                             reason="duplicate request")
        assert job.state == "cancelled"
    with pytest.raises(JobNotCancellable), session_scope() as session:
        service.cancel(session=session, job_id=running, actor=LOCAL_OPERATOR, reason="x")
    assert service.claim(engine=_engine(), worker=worker_principal("v"), kinds=[KIND],
                         lease_seconds=30) is None  # a cancelled job is never run
    assert ("test-noop.cancelled", "duplicate request") in [
        (a, _reason) for a, _reason in _cancel_reasons(queued)]


def _cancel_reasons(job_id: str) -> list[tuple[str, str]]:
    from sqlmodel import select

    from bwc_custody.custody.models import CustodyEntry
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return [(e.action, e.reason) for e in session.exec(select(CustodyEntry)).all()
                if e.details.get("job_id") == job_id]


def test_worker_survives_failing_handlers_and_reports_progress(migrated: str,
                                                               bwc_home: Path) -> None:
    seen: list[dict[str, Any]] = []

    def handler(ctx: JobContext) -> None:
        from bwc_custody.db import session_scope

        assert ctx.workdir.is_dir()
        (ctx.workdir / "scratch").write_bytes(b"x")
        if ctx.job.params["i"] == 1:
            raise RuntimeError("boom")
        if ctx.job.params["i"] == 2:
            raise BadInput("unusable", why="test")
        ctx.progress(3, 4)
        seen.append(dict(ctx.heartbeat.detail or {}))
        with session_scope(ctx.engine) as session:
            ctx.complete(session, {"i": ctx.job.params["i"]})

    ok, crash, bad = _enqueue(3, max_attempts=1)
    ran = run_worker(engine=_engine(), home=bwc_home, handlers={KIND: handler}, kinds=[KIND],
                     lease_seconds=30, drain=True)
    assert ran == 3
    assert seen == [{"done": 3, "total": 4}]
    assert (_job(ok).state, _job(ok).result) == ("succeeded", {"i": 0})
    assert (_job(crash).state, _job(crash).error_code) == ("failed", "worker_error")
    assert (_job(bad).state, _job(bad).error_code) == ("failed", "test_bad_input")
    assert list(work_root(bwc_home).iterdir()) == []  # scratch directories removed


def test_heartbeat_renews_the_lease(migrated: str, bwc_home: Path) -> None:
    from bwc_custody.jobs.worker import Heartbeat

    [job_id] = _enqueue()
    me = worker_principal("w")
    assert service.claim(engine=_engine(), worker=me, kinds=[KIND], lease_seconds=0.6)
    first = _job(job_id).lease_expires_at
    with Heartbeat(_engine(), job_id, me, 0.6) as beat:
        beat.progress, beat.detail = 0.25, {"done": 1, "total": 4}
        renewed = threading.Event()
        for _ in range(200):  # poll the row: the beat runs every 0.2 s
            job = _job(job_id)
            if job.lease_expires_at != first and job.progress == 0.25:
                renewed.set()
                break
            renewed.wait(0.05)
        assert renewed.is_set()
    _expire(job_id)
    assert service.claim(engine=_engine(), worker=worker_principal("v"), kinds=[KIND],
                         lease_seconds=30)
    # the old worker's next beat notices and flags the loss
    with Heartbeat(_engine(), job_id, me, 0.3) as beat:
        assert beat.lost.wait(10)


def test_dead_workers_scratch_is_swept(bwc_home: Path) -> None:
    import socket
    import subprocess
    import sys

    root = work_root(bwc_home)
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(proc.stdout)
    dead = root / f"{socket.gethostname()}_{dead_pid}_job1"
    mine = root / f"{socket.gethostname()}_{__import__('os').getpid()}_job2"
    other_host = root / f"elsewhere_{dead_pid}_job3"
    for d in (dead, mine, other_host):
        d.mkdir()
        (d / ".redacted.mp4.partial").write_bytes(b"half")
    assert sweep_workdirs(root) == [dead.name]
    assert not dead.exists()
    assert mine.exists()
    assert other_host.exists()


def test_workers_sign_checkpoints_when_due(migrated: str, bwc_home: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from bwc_custody.custody import service as custody
    from bwc_custody.db import session_scope
    from bwc_custody.jobs.worker import checkpoint_if_due

    assert not checkpoint_if_due(_engine(), 60)  # an empty log: nothing to sign
    _enqueue()
    assert not checkpoint_if_due(_engine(), 0)  # turned off
    assert run_worker(engine=_engine(), home=bwc_home, handlers=HANDLERS, kinds=["none"],
                      drain=True) == 0
    with session_scope() as session:
        first = custody.latest_checkpoint(session=session)
        assert first is not None
        assert first.tree_size == custody.log_size(session=session)
    _enqueue()
    assert not checkpoint_if_due(_engine(), 60)  # the newest is younger than an hour
    later = utcnow() + timedelta(minutes=61)
    assert checkpoint_if_due(_engine(), 60, now=later)
    assert not checkpoint_if_due(_engine(), 60, now=later)  # nothing new since
    with session_scope() as session:
        assert [c.index for c in custody.list_checkpoints(session=session)] == [1, 2]


def test_checkpoints_fall_due_per_batch_of_entries(migrated: str, bwc_home: Path) -> None:
    """Issue 22, finding 5: the unsigned tail is bounded by entries as well as by minutes."""
    from bwc_custody.custody import service as custody
    from bwc_custody.db import session_scope
    from bwc_custody.jobs.worker import checkpoint_if_due
    from tests.support.actors import LOCAL_OPERATOR

    def append(n: int) -> None:
        with session_scope() as session:
            for _ in range(n):
                custody.append(session=session, actor=LOCAL_OPERATOR, action="test.event")

    append(4)
    assert not checkpoint_if_due(_engine(), 0, entries=5)  # 4 unsigned, minutes off
    append(1)
    assert checkpoint_if_due(_engine(), 0, entries=5)  # the fifth makes a batch
    append(1)
    assert not checkpoint_if_due(_engine(), 1, entries=5)  # 1 unsigned, the newest young
    assert checkpoint_if_due(_engine(), 1, now=utcnow() + timedelta(minutes=1), entries=5)
    with session_scope() as session:
        sizes = [c.tree_size for c in custody.list_checkpoints(session=session)]
    assert sizes == [5, 6]


def test_the_default_window_is_a_minute_or_a_hundred_entries(bwc_home: Path) -> None:
    from bwc_custody.config import get_settings

    settings = get_settings()
    assert (settings.checkpoint_minutes, settings.checkpoint_entries) == (1, 100)


def test_a_running_job_says_how_long_it_has_left_once_its_pace_is_known() -> None:
    """A redaction runs near real time on two cores: an hour of footage is an hour's job, and
    the custodian waiting on it is told what is left at the pace kept so far, not a guess
    from its first seconds (models loading)."""
    from bwc_custody.console.render import job_time_left

    now = utcnow()
    job = Job(kind="redaction", created_by="cust-1", state="running",
              started_at=now - timedelta(seconds=60), progress=0.25)
    assert service.time_left(job, now) == pytest.approx(180.0)
    early = job.model_copy(update={"started_at": now - timedelta(seconds=5), "progress": 0.5})
    assert service.time_left(early, now) is None
    assert service.time_left(job.model_copy(update={"progress": 0.01}), now) is None
    assert service.time_left(job.model_copy(update={"state": "queued"}), now) is None
    assert service.time_left(job.model_copy(update={"state": "succeeded"}), now) is None
    # its worker stopped renewing the lease (died): no pace to tell, not a growing estimate
    stalled = job.model_copy(update={"lease_expires_at": now - timedelta(seconds=1)})
    assert service.time_left(stalled, now) is None
    held = job.model_copy(update={"lease_expires_at": now + timedelta(seconds=30)})
    assert service.time_left(held, now) == pytest.approx(180.0)
    assert job_time_left(job.model_copy(update={"started_at": utcnow() - timedelta(minutes=4)})
                         ) == "about 12 min left"
    assert job_time_left(job.model_copy(update={"progress": 0.9})) == "under a minute left"
    assert job_time_left(job.model_copy(update={
        "started_at": utcnow() - timedelta(minutes=40), "progress": 0.2})) == "about 2.7 h left"
    assert job_time_left(early) == ""


def _finished_redaction(session: Any, n: int, length_s: float | None, took_s: float,
                        heads: bool = False) -> None:
    """A recording `length_s` long and a redaction of it that took `took_s` to run."""
    import uuid

    from bwc_custody.evidence.models import Evidence
    from bwc_custody.vault.models import StoredObject

    key = f"originals/pace-{uuid.uuid4()}"
    session.add(StoredObject(key=key, object_id=str(uuid.uuid4()), kind="original",
                             sha256=uuid.uuid4().hex * 2, size=1, ciphertext_size=1,
                             segment_size=1, kek_id="k", wrapped_key="w", store="local"))
    session.flush()
    evidence = Evidence(id=str(uuid.uuid4()), object_key=key, sha256=uuid.uuid4().hex * 2,
                        size=1, ingested_by="dock-1", source="upload", media_status="video",
                        media={"duration_s": length_s} if length_s else {})
    session.add(evidence)
    session.flush()
    end = utcnow() - timedelta(minutes=n)
    session.add(Job(kind="redaction", evidence_id=evidence.id, state="succeeded",
                    created_by="cust-1", params={"heads": True} if heads else {},
                    started_at=end - timedelta(seconds=took_s), finished_at=end))


def test_the_pace_of_redaction_is_the_median_of_the_last_copies_of_its_kind(
        migrated: str) -> None:
    """What a custodian is told a copy will take, before asking for it: seconds of running
    per second of recording on this server, the median of the copies made of the same kind
    (whole heads take longer), said only once a few have been made."""
    from bwc_custody.db import session_scope

    def faces(params: dict[str, Any]) -> bool:
        return not params.get("heads")

    def heads(params: dict[str, Any]) -> bool:
        return bool(params.get("heads"))

    with session_scope() as session:
        _finished_redaction(session, 1, length_s=60, took_s=120)
        _finished_redaction(session, 2, length_s=30, took_s=45)
        assert service.pace(session=session, kind="redaction", like=faces) is None  # 2 only
        _finished_redaction(session, 3, length_s=100, took_s=900)  # a busy machine's odd one
        _finished_redaction(session, 4, length_s=60, took_s=360, heads=True)
        _finished_redaction(session, 5, length_s=None, took_s=30)  # its length not known
        assert service.pace(session=session, kind="redaction", like=faces) == (2.0, 3)
        assert service.pace(session=session, kind="redaction", like=heads) is None
        for n in range(6, 8):
            _finished_redaction(session, n, length_s=60, took_s=300, heads=True)
        assert service.pace(session=session, kind="redaction", like=heads) == (5.0, 3)
    # the custodian's words, on the recording's page beside "Request a redaction"
    from bwc_custody.console.render import TEMPLATES

    shown = TEMPLATES.env.get_template("_redaction_pace.html")
    said = shown.render(length=1800.0, paces={"faces": service.Pace(2.0, 3),
                                              "heads": service.Pace(5.0, 3)})
    assert ("A copy of this recording should take about 60 min (with whole heads: about 2.5 h)"
            ) in said
    assert " ".join(said.split()).endswith(
        "about 2.5 h) once a worker starts it, at the pace of the last copies made on this "
        "server.</p>")
    said = " ".join(shown.render(length=20.0, paces={"heads": service.Pace(5.0, 3)}).split())
    assert ("A copy of this recording with whole heads should take about 2 min once a worker "
            "starts it") in said
    assert shown.render(length=1800.0, paces={}).strip() == ""
