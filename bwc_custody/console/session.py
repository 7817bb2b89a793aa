"""Who is using the console: a logon cookie, renewed while they work, and the per-route role
rule (the same `bwc_roles` declaration the API's `allow` makes, so one test walks both).

The cookie holds a short-lived access token (HttpOnly, SameSite=Strict, Secure over HTTPS)
naming a console session kept on the server. Each page renews the token once it is a few
minutes old, so a session ends after `access_token_minutes` (15) idle, within CJIS's
30-minute session lock, and after `console_session_hours` (12) however busy. Logging out,
or an administrator disabling the user or resetting the password, ends the session on the
server: a copied cookie stops working at once instead of living out its token. Every form carries a
CSRF token bound to the logon (HMAC of its session id under the JWT key); a POST without the
right one, or from another origin, is refused before anything runs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Form, Request
from sqlmodel import Session

from bwc_custody.auth.service import Principal, check_access_token, principal_of
from bwc_custody.auth.tokens import issue_access_token, signing_secret
from bwc_custody.deps import SessionDep
from bwc_custody.errors import BwcError, Forbidden, Unauthenticated
from bwc_custody.roles import Role
from bwc_custody.timeutil import utcnow

COOKIE = "bwc_console"
RENEW_AFTER_S = 5 * 60


class CsrfFailed(BwcError):
    """A console form came without this logon's CSRF token, or from another site."""

    code = "csrf_failed"
    status = 403


@dataclass
class ConsoleUser:
    """The console's caller: who, the CSRF token their forms carry, a renewed cookie."""

    principal: Principal
    csrf: str
    session_id: str
    renewed_token: str | None = None

    def has(self, *roles: Role | str) -> bool:
        """Whether the user holds any of `roles` (names allowed: templates ask by name)."""
        return self.principal.has_any(Role(r) for r in roles)


def csrf_token(session_id: str) -> str:
    """The CSRF token of one logon."""
    return hmac.new(signing_secret(), b"bwc-console-csrf\n" + session_id.encode(),
                    hashlib.sha256).hexdigest()


def same_origin(request: Request) -> bool:
    """False for a form a browser posted from another site (its Origin header says so)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":  # no header: not a cross-site browser form post
        return origin is None
    return origin.rstrip("/") == f"{request.url.scheme}://{request.url.netloc}"


def authenticate(request: Request, session: Session) -> ConsoleUser:
    """The console user of a live logon cookie, or Unauthenticated (log in again)."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise Unauthenticated("log in to the console")
    # the same check as the API's bearer tokens (TokenExpired / Unauthenticated: log in again)
    access = check_access_token(session=session, token=token)
    if access.logon is None or access.logon.kind != "console":
        raise Unauthenticated("not a console logon; log in to the console")
    user, session_id = access.user, str(access.claims["sid"])
    assert user.id is not None
    principal = principal_of(user)
    request.state.principal = principal  # names the caller if the request is then refused
    renewed = None
    if utcnow().timestamp() - int(access.claims["iat"]) > RENEW_AFTER_S:
        renewed, _ = issue_access_token(user_id=user.id, username=user.username,
                                        session_id=session_id)
    return ConsoleUser(principal=principal, csrf=csrf_token(session_id), session_id=session_id,
                       renewed_token=renewed)


def _admit(user: ConsoleUser, admitted: frozenset[Role | str]) -> ConsoleUser:
    if not user.principal.has_any(Role(r) for r in admitted):
        raise Forbidden("your role does not allow this page",
                        required=sorted(str(r) for r in admitted))
    return user


def console_allow(*roles: Role | str) -> Callable[..., ConsoleUser]:
    """A console page admitting only users holding one of `roles`."""
    admitted = frozenset(roles)

    def _check(request: Request, session: SessionDep) -> ConsoleUser:
        return _admit(authenticate(request, session), admitted)

    _check.bwc_roles = admitted  # type: ignore[attr-defined]
    return _check


def console_form(*roles: Role | str) -> Callable[..., ConsoleUser]:
    """A console form post admitting only `roles`, from this site, with this logon's token."""
    admitted = frozenset(roles)

    def _check(request: Request, session: SessionDep,
               csrf: Annotated[str, Form(max_length=200)] = "") -> ConsoleUser:
        user = _admit(authenticate(request, session), admitted)
        if not same_origin(request) or not hmac.compare_digest(csrf, user.csrf):
            raise CsrfFailed("the form is stale or came from another site; reload the page "
                             "and try again")
        return user

    _check.bwc_roles = admitted  # type: ignore[attr-defined]
    return _check


def cookie_args(request: Request) -> dict[str, Any]:
    """How the logon cookie is set: never readable by scripts, never sent cross-site."""
    return {"key": COOKIE, "httponly": True, "samesite": "strict", "path": "/console",
            "secure": request.url.scheme == "https"}
