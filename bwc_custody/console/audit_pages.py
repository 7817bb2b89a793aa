"""The custody log as auditors read it in the console: newest first, a page at a time,
filtered by action, actor, record and date (days in the agency's zone, exact UTC on hover),
and a button that runs the verification `bwc verify` runs and says what it found."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from bwc_custody.console.render import Auditor, AuditorForm, Short, page
from bwc_custody.console.session import ConsoleUser
from bwc_custody.custody.search import LogQuery, actions_and_actors, search_entries
from bwc_custody.custody.verify import VerifyReport
from bwc_custody.deps import SessionDep, client_addr
from bwc_custody.errors import BwcError, validated
from bwc_custody.flows.verify_state import verify_and_record
from bwc_custody.vault.service import get_keyring, get_signer, get_store

router = APIRouter()
_FILTERS = ("action", "actor", "record", "since", "until")
_PAGE = 100


def _log_page(request: Request, session: Session, user: ConsoleUser,
              verification: VerifyReport | None = None, fixity: bool = False) -> Response:
    """The log page for the filters in the address, with a verification's result if any."""
    given = {k: request.query_params.get(k, "").strip() for k in _FILTERS}
    cursor = {k: request.query_params.get(k) for k in ("before", "after")
              if request.query_params.get(k)}
    problem: BwcError | None = None
    try:
        query = validated(LogQuery, {**{k: v for k, v in given.items() if v}, **cursor,
                                     "limit": _PAGE})
        found = search_entries(session=session, query=query)
        entries, total, older, newer = found.entries, found.total, found.older, found.newer
    except BwcError as exc:  # the filters stay on the page with what was wrong
        problem, entries, total, older, newer = exc, [], 0, False, False
    actions, actors = actions_and_actors(session=session)
    families = sorted({a.split(".")[0] + ".*" for a in actions if "." in a})
    return page(request, user, "custody.html", status=problem.status if problem else 200,
                entries=entries, total=total, older=older, newer=newer, given=given,
                qs=urlencode({k: v for k, v in given.items() if v}), actions=actions,
                families=families, actors=actors, problem=problem,
                verification=verification, fixity=fixity)


@router.get("/custody")
def custody_log(request: Request, session: SessionDep, user: Auditor) -> Response:
    """The custody log, newest first, a hundred entries a page, filtered as asked."""
    return _log_page(request, session, user)


@router.post("/custody/verify")
def verify_now(request: Request, session: SessionDep, user: AuditorForm,
               fixity: Short = "") -> Response:
    """Run the verification `bwc verify` runs (the chain, every signed checkpoint, the
    database's state against the log, and with `fixity` every stored object decrypted and
    hashed again), record it, and show what it found."""
    report = verify_and_record(session=session, store=get_store(), keyring=get_keyring(),
                               signer=get_signer(), actor=user.principal,
                               fixity=fixity == "yes", client_addr=client_addr(request))
    return _log_page(request, session, user, verification=report, fixity=fixity == "yes")
