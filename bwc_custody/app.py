"""The FastAPI application: routers from each domain, one error handler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bwc_custody import __version__
from bwc_custody.appeals.api import router as appeals_router
from bwc_custody.auth.api import router as auth_router
from bwc_custody.console.api import router as console_router
from bwc_custody.console.render import error_page
from bwc_custody.custody.api import router as custody_router
from bwc_custody.db import check_migrated
from bwc_custody.deps import DEFAULT_BODY_LIMIT, PUBLIC, allow, audit_refusal, rules_in
from bwc_custody.errors import (
    BodyTooLarge,
    BwcError,
    InvalidInput,
    MalformedBody,
    MethodNotAllowed,
    NotFound,
    problems_of,
)
from bwc_custody.evidence.api import router as evidence_router
from bwc_custody.guard import BodyGuard
from bwc_custody.jobs.api import router as jobs_router
from bwc_custody.openapi import document_errors
from bwc_custody.redactions.api import router as redactions_router
from bwc_custody.releases.api import router as releases_router
from bwc_custody.requests.api import router as requests_router
from bwc_custody.retention.api import router as retention_router
from bwc_custody.tags.api import router as tags_router
from bwc_custody.uploads.api import router as uploads_router


def _rendered(request: Request, exc: BwcError) -> Response:
    """The API's JSON error, or for the console a page saying the same."""
    if request.url.path.startswith("/console"):
        return error_page(request, exc)
    return JSONResponse(exc.to_dict(), status_code=exc.status)


async def _bwc_error_handler(request: Request, exc: Exception) -> Response:
    """One of our refusals, answered (and a refused access logged)."""
    assert isinstance(exc, BwcError)
    if exc.status in (401, 403):
        await run_in_threadpool(audit_refusal, request, exc)
    return _rendered(request, exc)


async def _validation_handler(request: Request, exc: Exception) -> Response:
    """Malformed requests get the same error shape as every other refusal."""
    assert isinstance(exc, RequestValidationError)
    broken = [e for e in exc.errors() if e.get("type") == "json_invalid"]
    if broken:
        where = broken[0].get("ctx", {}).get("error", "")
        return _rendered(request, MalformedBody(
            f"the request body is not valid JSON: {where}".rstrip(": "),
            position=broken[0].get("loc", ("body", 0))[-1]))
    problems = problems_of(exc.errors())
    first = problems[0] if problems else {"at": "", "problem": "invalid request"}
    err = InvalidInput(f"invalid request: {first['at']}: {first['problem']}",
                         problems=problems)
    return _rendered(request, err)


# What the framework answers by itself (no route for the path, a method the path lacks, a
# body it could not read), in the same error shape with a stable code.
_FRAMEWORK_ERRORS: dict[int, tuple[type[BwcError], str]] = {
    400: (MalformedBody, "the request body could not be read"),
    404: (NotFound, "no such route"),
    405: (MethodNotAllowed, "this path does not take this method"),
    413: (BodyTooLarge, "the request body is too large"),
}


async def _http_error_handler(request: Request, exc: Exception) -> Response:
    """The framework's own refusals in the documented error shape; one of ours that the
    framework wrapped while reading the body (a body over its limit) is answered as itself."""
    assert isinstance(exc, StarletteHTTPException)
    cause = exc.__cause__
    if isinstance(cause, BwcError):
        return await _bwc_error_handler(request, cause)
    headers = dict(exc.headers or {})
    details = {"allowed": sorted(headers["Allow"].split(", "))} if "Allow" in headers else {}
    known = _FRAMEWORK_ERRORS.get(exc.status_code)
    if known is None:  # none of ours sends another; kept in the shape, with its status
        response: Response = JSONResponse(BwcError(str(exc.detail)).to_dict(),
                                          status_code=exc.status_code)
    else:
        kind, message = known
        response = _rendered(request, kind(message, **details))
    response.headers.update(headers)
    return response


def create_app(*, check_schema: bool = True) -> FastAPI:
    """Build the API app; refuses to start on an unmigrated database."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if check_schema:
            check_migrated()
        yield

    app = FastAPI(
        title="bwc-custody",
        version=__version__,
        summary="Custody and rule-based release of school resource officers' body-camera footage",
        lifespan=lifespan,
    )
    document_errors(app, roles_of=rules_in, default_body_limit=DEFAULT_BODY_LIMIT)
    app.add_exception_handler(BwcError, _bwc_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.include_router(evidence_router, prefix="/api/v1")
    app.include_router(uploads_router, prefix="/api/v1")
    app.include_router(auth_router, prefix="/api/v1")
    app.include_router(custody_router, prefix="/api/v1")
    app.include_router(tags_router, prefix="/api/v1")
    app.include_router(jobs_router, prefix="/api/v1")
    app.include_router(redactions_router, prefix="/api/v1")
    app.include_router(requests_router, prefix="/api/v1")
    app.include_router(releases_router, prefix="/api/v1")
    app.include_router(appeals_router, prefix="/api/v1")
    app.include_router(retention_router, prefix="/api/v1")
    app.include_router(console_router)
    # before FastAPI reads a body: its size, and (off public routes) who sends it
    app.add_middleware(BodyGuard, fastapi_app=app, refuse=_bwc_error_handler)

    @app.get("/", include_in_schema=False, dependencies=[Depends(allow(PUBLIC))])
    def home() -> RedirectResponse:
        """People who open the server in a browser want the console."""
        return RedirectResponse("/console/", status_code=307)

    return app
