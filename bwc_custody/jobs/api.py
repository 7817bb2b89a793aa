"""Job routes: progress for the people waiting on a redaction or an analysis."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from bwc_custody.auth.service import Principal
from bwc_custody.deps import ClientAddr, SessionDep, allow
from bwc_custody.errors import Forbidden
from bwc_custody.jobs import service
from bwc_custody.jobs.errors import JobNotFound
from bwc_custody.jobs.models import CancelBody, Job, JobRead
from bwc_custody.roles import Role

router = APIRouter(tags=["jobs"])
# jobs are also the administrator's to watch and cancel: they run the workers
JobWatcher = Annotated[Principal, Depends(allow(Role.custodian, Role.legal_reviewer,
                                                Role.auditor, Role.admin))]
JobOperator = Annotated[Principal, Depends(allow(Role.custodian, Role.auditor, Role.admin))]
# a verification is the auditors' (its result names every broken entry and stored file):
# only they and the administrator see or cancel one. One table for both, so that the two
# cannot drift apart; the other kinds are the custodians', with the defaults below
_KIND_ROLES = {"verify": frozenset({Role.auditor, Role.admin})}
_DEFAULT_ROLES = frozenset({Role.custodian, Role.legal_reviewer, Role.auditor, Role.admin})
_DEFAULT_CANCEL = frozenset({Role.custodian, Role.admin})


def _sees(actor: Principal, job: Job) -> bool:
    return actor.has_any(_KIND_ROLES.get(job.kind, _DEFAULT_ROLES))


def _visible(actor: Principal, job: Job) -> Job:
    """The job, or JobNotFound for a kind that is not the caller's (not even that it exists)."""
    if not _sees(actor, job):
        raise JobNotFound(f"no job {job.id}", job_id=job.id)
    return job


@router.get("/jobs", response_model=list[JobRead])
def list_jobs(session: SessionDep, actor: JobWatcher,
              state: Annotated[str | None, Query(max_length=20)] = None,
              kind: Annotated[str | None, Query(max_length=40)] = None,
              evidence_id: Annotated[str | None, Query(max_length=36)] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[JobRead]:
    """Jobs, newest first (of the kinds the caller's role watches)."""
    return [JobRead.model_validate(j) for j in service.list_jobs(
        session=session, state=state, kind=kind, evidence_id=evidence_id, limit=limit)
        if _sees(actor, j)]


@router.get("/jobs/{job_id}", response_model=JobRead)
def get_job(job_id: str, session: SessionDep, actor: JobWatcher) -> JobRead:
    """One job with its progress (0..1), attempts, and result or error code."""
    return JobRead.model_validate(_visible(actor, service.get_job(session=session,
                                                                   job_id=job_id)))


@router.post("/jobs/{job_id}/cancel", response_model=JobRead)
def cancel_job(job_id: str, body: CancelBody, session: SessionDep, actor: JobOperator,
               addr: ClientAddr) -> JobRead:
    """Cancel a queued job (a running one cannot be cancelled)."""
    queued = _visible(actor, service.get_job(session=session, job_id=job_id))
    if not actor.has_any(_KIND_ROLES.get(queued.kind, _DEFAULT_CANCEL)):
        raise Forbidden("your role does not cancel this kind of job", kind=queued.kind)
    job = service.cancel(session=session, job_id=job_id, actor=actor, reason=body.reason,
                         client_addr=addr)
    return JobRead.model_validate(job)
