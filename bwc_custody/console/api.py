"""The web console for records custodians, legal reviewers, auditors and administrators:
server-rendered pages over the same services as the API (no second way of deciding
anything). This module holds the logon and the console's own files; the pages are in
`requests_pages` (the queue and one request), `evidence_pages` (recordings, their copies,
jobs, tags, retention, notifications), `audit_pages` (the custody log and its verification)
and `admin_pages` (people and dock devices). Each form posts to one route that calls one
service or flow; a refusal comes back as a page naming its code and message, with nothing
changed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from bwc_custody.auth.service import get_user_by_username_or_raise
from bwc_custody.console import admin_pages, audit_pages, evidence_pages, requests_pages
from bwc_custody.console.render import STATIC, AnyoneForm, Short, home_of, page
from bwc_custody.console.session import COOKIE, CsrfFailed, cookie_args, same_origin
from bwc_custody.deps import PUBLIC, SessionDep, allow, client_addr
from bwc_custody.errors import BwcError, NotFound
from bwc_custody.flows import auth as flows

router = APIRouter(prefix="/console", include_in_schema=False)
router.include_router(requests_pages.router)
router.include_router(evidence_pages.router)
router.include_router(audit_pages.router)
router.include_router(admin_pages.router)
_TYPES = {".css": "text/css", ".js": "text/javascript", ".txt": "text/plain"}


@router.get("/static/{path:path}", dependencies=[Depends(allow(PUBLIC))])
def static(path: str) -> Response:
    """The console's own style and script files (nothing else is served from here)."""
    target = (STATIC / path).resolve()
    if STATIC.resolve() not in target.parents or not target.is_file() \
            or target.suffix not in _TYPES:
        raise NotFound(f"no console file {path!r}")
    response = FileResponse(target, media_type=_TYPES[target.suffix])
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@router.get("/login", dependencies=[Depends(allow(PUBLIC))])
def login_form(request: Request) -> Response:
    """The logon page."""
    return page(request, None, "login.html", failed=None)


@router.post("/login", dependencies=[Depends(allow(PUBLIC))])
def login(request: Request, session: SessionDep, username: Short, password: Short,
          otp: Annotated[str, Form(max_length=12)] = "") -> Response:
    """Log on with a username, password and one-time code (the API's lock-out applies)."""
    if not same_origin(request):  # no logging a browser into someone else's account
        return page(request, None, "login.html", status=403, failed=CsrfFailed(
            "the logon form came from another site"))
    try:
        pair = flows.login(session=session, username=username, password=password,
                           client_addr=client_addr(request), via="console", otp=otp)
    except BwcError as exc:
        return page(request, None, "login.html", status=exc.status, failed=exc)
    user = get_user_by_username_or_raise(session=session, username=username)
    response = RedirectResponse(home_of(user.role_set), status_code=303)
    response.set_cookie(value=pair.access_token, **cookie_args(request))
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, user: AnyoneForm) -> Response:
    """End the console session, in this browser and on the server."""
    flows.console_logout(session=session, actor=user.principal, session_id=user.session_id,
                         client_addr=client_addr(request))
    response = RedirectResponse("/console/login?done=logged+out", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


