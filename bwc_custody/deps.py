"""FastAPI dependencies in one place: the DB session, the caller, and per-route access rules.

Every route declares the roles it admits with `Depends(allow(...))`; routes without such a
declaration are refused by the route-table test (default deny).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from bwc_custody.auth.models import Role
from bwc_custody.auth.service import Principal, authenticate_api_token
from bwc_custody.db import get_engine
from bwc_custody.errors import Forbidden, Unauthenticated


def get_session() -> Iterator[Session]:
    """One session per request, committed once when the route returns."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# scope="function": commit before the response leaves. With the default ("request") the
# commit ran after the client had its answer, so a dock could hold a receipt, or resume at
# an offset, that the database did not have yet (found by bench/ingest.py).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("a bearer token is required")
    return token.strip()


def get_principal(request: Request, session: SessionDep) -> Principal:
    """The authenticated caller of this request."""
    return authenticate_api_token(session=session, token=_bearer(request))


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]

PUBLIC = "public"


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
        request.state.principal = principal
        return principal

    _check.bwc_roles = admitted  # type: ignore[attr-defined]
    return _check
