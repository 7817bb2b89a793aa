"""`bwc worker` and `bwc jobs list|show|cancel`."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import typer

from bwc_custody.auth.service import Principal, cli_operator
from bwc_custody.errors import BwcError
from bwc_custody.jobs.errors import JobFailed
from bwc_custody.jobs.models import Job
from bwc_custody.roles import Role


def _operator() -> Principal:
    """Whoever runs the command: as the admin, or (`--as` a custodian) as the custodian."""
    return cli_operator(Role.admin, Role.custodian)


def _job_dict(job: Job) -> dict[str, Any]:
    from bwc_custody.jobs.models import JobRead

    return JobRead.model_validate(job).model_dump(mode="json")


def run_in_foreground(job_id: str) -> Job:
    """Run a queued job in this process (the synchronous CLI commands); JobFailed if it
    failed, carrying the job's own error code."""
    from bwc_custody.config import get_settings
    from bwc_custody.db import get_engine
    from bwc_custody.flows.jobs import HANDLERS
    from bwc_custody.jobs.worker import run_now

    job = run_now(job_id, engine=get_engine(), home=get_settings().home, handlers=HANDLERS)
    if job.state != "succeeded":
        raise JobFailed(f"job {job.id} {job.state}: {job.error_message or ''}".strip(),
                        job_id=job.id, state=job.state, error_code=job.error_code,
                        error=job.error_details)
    return job


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `bwc` app."""
    from bwc_custody.commands import emit, fail, in_session

    jobs_app = typer.Typer(help="Queued redaction and analysis jobs.", no_args_is_help=True)
    app.add_typer(jobs_app, name="jobs")

    @app.command("worker")
    def worker(
        kind: list[str] = typer.Option([], help="Only these job kinds (default: all)."),
        lease: float = typer.Option(60.0, min=3.0, help="Lease seconds, renewed while a job "
                                    "runs; a dead worker's job is re-run after it expires."),
        poll: float = typer.Option(2.0, min=0.1, help="Seconds between looks at an empty "
                                   "queue."),
        drain: bool = typer.Option(False, help="Exit once the queue is empty."),
        max_jobs: int | None = typer.Option(None, min=1, help="Exit after this many jobs."),
    ) -> None:
        """Run queued jobs (any number of workers on PostgreSQL; SQLite: one at a time).

        SIGTERM/SIGINT: finish the current job, then exit."""
        from bwc_custody.config import get_settings
        from bwc_custody.db import check_migrated, get_engine
        from bwc_custody.flows.jobs import HANDLERS, housekeeping
        from bwc_custody.jobs.worker import run_worker, worker_principal

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        try:
            check_migrated()
        except BwcError as exc:
            fail(exc)
        stop = threading.Event()

        def _stop(_sig: int, _frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        me = worker_principal()
        typer.echo(f"{me.username} started", err=True)
        ran = run_worker(engine=get_engine(), home=get_settings().home, handlers=HANDLERS,
                         housekeeping=housekeeping,
                         kinds=kind or None,
                         lease_seconds=lease, poll_seconds=poll, drain=drain,
                         max_jobs=max_jobs, stop=stop, worker=me)
        typer.echo(f"{me.username} stopped after {ran} job(s)", err=True)

    @jobs_app.command("list")
    def list_(state: str | None = typer.Option(None), kind: str | None = typer.Option(None),
              evidence: str | None = typer.Option(None, help="Evidence id."),
              limit: int = typer.Option(50)) -> None:
        """Jobs, newest first, with state and progress."""
        from bwc_custody.jobs import service

        emit(in_session(lambda session: [_job_dict(j) for j in service.list_jobs(
            session=session, state=state, kind=kind, evidence_id=evidence, limit=limit)]))

    @jobs_app.command("show")
    def show(job_id: str) -> None:
        """One job: state, progress, attempts, error or result."""
        from bwc_custody.jobs import service

        emit(in_session(lambda session: _job_dict(service.get_job(session=session,
                                                                  job_id=job_id))))

    @jobs_app.command("cancel")
    def cancel(job_id: str, reason: str = typer.Option(..., help="Why (logged).")) -> None:
        """Cancel a queued job."""
        from bwc_custody.jobs import service

        emit(in_session(lambda session: _job_dict(service.cancel(
            session=session, job_id=job_id, actor=_operator(), reason=reason,
            client_addr="cli"))))
