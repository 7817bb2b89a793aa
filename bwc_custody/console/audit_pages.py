"""The custody log as auditors read it in the console."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from bwc_custody.console.render import Auditor, page
from bwc_custody.custody.service import entries_after, log_size
from bwc_custody.db import INTEGER_MAX
from bwc_custody.deps import SessionDep

router = APIRouter()
_LOG_PAGE = 100


@router.get("/custody")
def custody_log(request: Request, session: SessionDep, user: Auditor,
                after: Annotated[int | None, Query(ge=0, le=INTEGER_MAX)] = None) -> Response:
    """The custody log, a hundred entries at a time (the newest by default)."""
    size = log_size(session=session)
    start = max(0, size - _LOG_PAGE) if after is None else min(after, size)
    return page(request, user, "custody.html", size=size, start=start, page_size=_LOG_PAGE,
                entries=entries_after(session=session, after_seq=start, limit=_LOG_PAGE))


