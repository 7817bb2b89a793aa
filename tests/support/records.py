"""Reading back what a test made: a job as it stands now, a record's custody entries."""

from __future__ import annotations

from typing import Any


def job_now(job_id: str) -> Any:
    """The job, read in a fresh session."""
    from bwc_custody.db import session_scope
    from bwc_custody.jobs import service

    with session_scope() as session:
        return service.get_job(session=session, job_id=job_id)


def entries_about(target_id: str) -> list[Any]:
    """Every custody entry whose target is `target_id`, oldest first."""
    from bwc_custody.custody.service import entries_for
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return list(entries_for(session=session, target_id=target_id))
