"""FastAPI dependencies in one place: the DB session, the caller, and per-route access rules.

Every route declares the roles it admits with `Depends(allow(...))`; routes without such a
declaration are refused by the route-table test (default deny).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from bwc_custody.auth.service import Principal, authenticate
from bwc_custody.db import INTEGER_MAX, get_engine, session_scope
from bwc_custody.errors import BwcError, Forbidden, RangeNotSatisfiable, Unauthenticated
from bwc_custody.flows.auth import record_denial
from bwc_custody.roles import Role
from storage.crypto import RangeReader

logger = logging.getLogger(__name__)


def get_session() -> Iterator[Session]:
    """One session per request, committed once when the route returns."""
    with session_scope() as session:
        yield session


# scope="function": commit before the response leaves. With the default ("request") the
# commit ran after the client had its answer, so a dock could hold a receipt, or resume at
# an offset, that the database did not have yet (found by bench/ingest.py).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

# Integer inputs, bounded to what the database holds (tests/test_api_inputs.py checks
# that every integer in the OpenAPI table has such a bound).
RowId = Annotated[int, Path(ge=1, le=INTEGER_MAX)]
Offset = Annotated[int, Query(ge=0, le=INTEGER_MAX)]
Count = Annotated[int, Query(ge=1, le=INTEGER_MAX)]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("a bearer token is required")
    return token.strip()


def get_principal(request: Request, session: SessionDep) -> Principal:
    """The authenticated caller of this request (an API token or a JWT access token); the
    one `guard.BodyGuard` found before reading the body, when it did."""
    known = getattr(request.state, "authenticated", None)
    if isinstance(known, Principal):
        return known
    principal = authenticate(session=session, token=_bearer(request))
    request.state.principal = principal  # names the caller if the request is then refused
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]

PUBLIC = "public"

# Request bodies: at most 1 MiB unless a route declares otherwise with `body_limit` (checked
# by `guard.BodyGuard` before the body is read; the limit is in the route's OpenAPI entry).
MIB = 1024 * 1024
DEFAULT_BODY_LIMIT = 1 * MIB
BODY_LIMIT_KEY = "x-body-limit"
STREAMED = "streamed"


def body_limit(size: int | None) -> dict[str, Any]:
    """A route's `openapi_extra` declaring its body limit in bytes; None: the route streams
    its body and bounds it itself (the tus PATCH, by Upload-Length)."""
    return {BODY_LIMIT_KEY: STREAMED if size is None else size}


def allow(*roles: Role | str) -> Callable[..., Principal | None]:
    """A dependency admitting only callers holding one of `roles` (or anyone, for PUBLIC)."""
    admitted = frozenset(roles)

    if PUBLIC in admitted:

        def _public() -> None:
            return None

        _public.bwc_roles = admitted  # type: ignore[attr-defined]
        return _public

    def _check(request: Request, session: SessionDep) -> Principal:
        principal = get_principal(request, session)
        if not principal.has_any(Role(r) for r in admitted):
            raise Forbidden(
                "your role does not allow this",
                required=sorted(str(r) for r in admitted),
            )
        return principal

    _check.bwc_roles = admitted  # type: ignore[attr-defined]
    return _check


# The role shortcuts every router uses (one definition each: a route's admitted roles are
# read off its signature by the route-table test).
Custodian = Annotated[Principal, Depends(allow(Role.custodian))]
LegalReviewer = Annotated[Principal, Depends(allow(Role.legal_reviewer))]
Auditor = Annotated[Principal, Depends(allow(Role.auditor))]
Admin = Annotated[Principal, Depends(allow(Role.admin))]
# custodians and legal reviewers: who decide what goes out (they watch footage to do so,
# record appeals, hold recordings)
Decider = Annotated[Principal, Depends(allow(Role.custodian, Role.legal_reviewer))]
# staff who read requests and decisions: the two above and the auditor
Staff = Annotated[Principal, Depends(allow(Role.custodian, Role.legal_reviewer, Role.auditor))]
AnyUser = Annotated[Principal, Depends(allow(*Role))]


def client_addr(request: Request) -> str:
    """The caller's address, as the custody log records it."""
    return request.client.host if request.client else ""


ClientAddr = Annotated[str, Depends(client_addr)]

# Why footage is watched: kept in the custody log with the viewing.
ViewingReason = Annotated[str, Query(min_length=3, max_length=500,
                                     description="Why (recorded in the custody log).")]


# A player's Range header ("bytes=FIRST-LAST"): one range is served (206), anything else gets
# the whole file.
RangeHeader = Annotated[str, Header(alias="Range", max_length=100,
                                    description="One byte range, e.g. bytes=0-1023 (206).")]


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_RANGE_CHUNK = 1024 * 1024  # one segment at a time: a long video never sits in memory


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (first, last) bytes an HTTP Range header asks of `size` bytes (None: all of it,
    as for no header or one this server does not serve: several ranges); RangeNotSatisfiable
    when it lies past the end."""
    match = _RANGE.match((header or "").strip())
    if not match or not (match.group(1) or match.group(2)):
        return None
    if match.group(1):
        first = int(match.group(1))
        last = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
    else:
        first, last = max(size - int(match.group(2)), 0), size - 1
    if first > last:
        raise RangeNotSatisfiable(f"bytes {first}- lie past the end ({size} bytes)", size=size)
    return first, last


def stream_range(session: Session, reader: RangeReader, range_header: str | None, *,
                 media_type: str, sha256: str, filename: str | None = None
                 ) -> StreamingResponse:
    """Stream a stored object's plaintext, or the byte range its Range header asks for (206),
    after committing the session (the access is on record before the first byte leaves; a
    range past the end is refused before anything is recorded): a player can seek in a long
    video without fetching all of it."""
    size = reader.size
    wanted = byte_range(range_header, size)
    session.commit()
    first, last = wanted or (0, size - 1)

    def chunks() -> Iterator[bytes]:
        pos = first
        while pos <= last:
            n = min(_RANGE_CHUNK, last - pos + 1)
            yield reader.read(pos, n)
            pos += n

    headers = {"Content-Length": str(max(last - first + 1, 0)), "Accept-Ranges": "bytes",
               "X-Content-SHA256": sha256, "Cache-Control": "no-store"}
    if wanted is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return StreamingResponse(chunks(), status_code=206 if wanted else 200,
                             media_type=media_type, headers=headers)


def audit_refusal(request: Request, exc: BwcError) -> None:
    """Write a refused request (401/403) to the custody log, apart from its rolled-back work."""
    if exc.status not in (401, 403) or getattr(exc, "audited", False):
        return
    try:
        record_denial(engine=get_engine(), principal=getattr(request.state, "principal", None),
                      method=request.method, path=request.url.path,
                      client_addr=request.client.host if request.client else "",
                      status=exc.status, code=exc.code)
    except SQLAlchemyError:
        # The refusal stands even if the log is unreachable; the failure is reported loudly.
        logger.exception("could not record a refused request in the custody log")


def rules_in(dependant: Any) -> list[frozenset[str]]:
    """The role sets the dependencies of `dependant` declare (with `allow`), nested ones too."""
    found = []
    for dep in dependant.dependencies:
        roles = getattr(dep.call, "bwc_roles", None)
        if roles is not None:
            found.append(frozenset(str(r) for r in roles))
        found.extend(rules_in(dep))
    return found


def declared_rules(app: FastAPI) -> dict[tuple[str, str], list[frozenset[str]]]:
    """Every (METHOD, path) of the app with the role sets its `allow()` dependencies declare."""
    rules: dict[tuple[str, str], list[frozenset[str]]] = {}
    for route in app.routes:
        contexts: list[Any] = (route.effective_route_contexts()
                               if hasattr(route, "effective_route_contexts") else [route])
        for ctx in contexts:
            dependant = getattr(ctx, "dependant", None)
            if dependant is None:
                continue  # not an API route (docs, openapi.json)
            path = getattr(ctx, "path_format", None) or ctx.path
            for method in ctx.methods or ():
                rules[(method.upper(), path)] = rules_in(dependant)
    return rules
