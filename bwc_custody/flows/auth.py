"""Logon, refresh and user administration, each step written to the custody log.

A refused logon raises, which rolls the request's transaction back; so failures, lock-outs
and denied requests are recorded in a transaction of their own that commits regardless.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bwc_custody.auth import mfa, service
from bwc_custody.auth.errors import (
    AccountLocked,
    InvalidCredentials,
    InvalidRefreshToken,
    MfaNotProvisioned,
    OwnAccount,
)
from bwc_custody.auth.models import USERNAME_MAX, USERNAME_PATTERN, ApiToken, TokenPair, User
from bwc_custody.auth.service import Principal
from bwc_custody.auth.tokens import issue_access_token
from bwc_custody.custody import service as custody
from bwc_custody.db import session_scope, storable_text
from bwc_custody.errors import InvalidInput
from bwc_custody.roles import Role
from bwc_custody.timeutil import as_utc, utcnow
from bwc_custody.vault.service import get_keyring

ANONYMOUS = Principal(user_id=None, username="anonymous", roles=frozenset())


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    assert isinstance(bind, Engine)
    return bind


def record_apart(*, engine: Engine, actor: Principal, action: str, target_type: str = "",
                 target_id: str = "", client_addr: str = "", reason: str = "",
                 details: dict[str, Any] | None = None) -> None:
    """Append a custody entry in its own committed transaction (for refusals)."""
    with session_scope(engine) as session:
        custody.append(session=session, actor=actor, action=action, target_type=target_type,
                       target_id=target_id, client_addr=client_addr, reason=reason,
                       details=details)


def _issue(*, session: Session, user: User, client_addr: str, via: str,
           with_refresh: bool = True, logon: str | None = None) -> TokenPair:
    """A token pair of the logon `logon` (a new one when None): an API logon's access token
    and refresh token, or (without refresh) a console logon's access token."""
    assert user.id is not None
    if logon is None:
        logon = service.start_logon(session=session, user=user,
                                    kind="logon" if with_refresh else "console")
    access, ttl = issue_access_token(user_id=user.id, username=user.username,
                                     session_id=logon)
    refresh = (service.create_refresh_token(session=session, user=user, logon=logon)
               if with_refresh else "")
    custody.append(session=session, actor=service.principal_of(user), action="auth.token_issue",
                   target_type="user", target_id=user.username, client_addr=client_addr,
                   details={"via": via, "access_ttl_s": ttl})
    return TokenPair(access_token=access, expires_in=ttl, refresh_token=refresh)


def _fail_logon(*, engine: Engine, username: str, user_id: int | None, client_addr: str,
                **details: Any) -> bool:
    """Count and record one failed logon apart; True when it locked the account."""
    until = None
    with session_scope(engine) as session:
        if user_id is not None:
            until = service.count_failure(session=session, user_id=user_id)
        custody.append(session=session, actor=ANONYMOUS, action="auth.login_failed",
                       target_type="user", target_id=username, client_addr=client_addr,
                       details={"known_user": user_id is not None, **details})
        if until is not None:
            custody.append(session=session, actor=ANONYMOUS, action="auth.locked_out",
                           target_type="user", target_id=username, client_addr=client_addr,
                           details={"until": as_utc(until).isoformat()})
    return until is not None


def _second_factor_holds(session: Session, user: User, code: str) -> bool:
    """False when the user has a one-time-code key and `code` is not a fresh code of it;
    MfaNotProvisioned when their roles need one and none is provisioned."""
    assert user.id is not None
    row = mfa.of_user(session=session, user_id=user.id)
    if row is not None:
        return mfa.accept(session=session, keyring=get_keyring(), row=row, code=code)
    if mfa.requires_code(user):
        record_apart(engine=_engine_of(session), actor=service.principal_of(user),
                     action="auth.login_failed", target_type="user", target_id=user.username,
                     details={"known_user": True, "mfa_not_provisioned": True})
        raise MfaNotProvisioned(
            "your roles need a one-time code at logon, and no authenticator key has been set "
            "up for you: ask an administrator (bwc users mfa NAME)")
    return True


def login(*, session: Session, username: str, password: str, client_addr: str = "",
          via: str = "password", otp: str = "") -> TokenPair:
    """Exchange a username, password and (where the user has or needs one) a one-time code
    for tokens, enforcing the lock-out: a wrong code counts as a failed logon, and the answer
    does not say which of the three was wrong. The console (`via="console"`) gets an access
    token with a session id and no refresh token: it renews the access token while the user
    is active, so an idle session ends with it."""
    if len(username) > USERNAME_MAX or not re.fullmatch(USERNAME_PATTERN, username):
        # No user can have this name (too long for the log's target, a NUL, not Unicode):
        # a failed logon like any other, recorded under a printable, shortened name.
        shown = storable_text(username.encode("utf-8", "backslashreplace").decode())
        _fail_logon(engine=_engine_of(session), username=shown[:USERNAME_MAX], user_id=None,
                    client_addr=client_addr, malformed_username=True,
                    username_length=len(username))
        raise InvalidCredentials("wrong username, password or one-time code")
    user = session.exec(select(User).where(User.username == username)).first()
    if user is not None and service.is_locked(user):
        record_apart(engine=_engine_of(session), actor=ANONYMOUS, action="auth.login_failed",
                     target_type="user", target_id=username, client_addr=client_addr,
                     details={"known_user": True, "locked": True})
        raise AccountLocked("the account is locked after repeated failed logons; try later "
                            "or ask an administrator to reset it")
    if (user is None or user.disabled or not service.password_matches(user, password)
            or not _second_factor_holds(session, user, otp)):
        locked = _fail_logon(engine=_engine_of(session), username=username,
                             user_id=user.id if user else None, client_addr=client_addr)
        if locked:
            raise AccountLocked("too many failed logons: the account is now locked")
        raise InvalidCredentials("wrong username, password or one-time code")
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    custody.append(session=session, actor=service.principal_of(user), action="auth.login",
                   target_type="user", target_id=user.username, client_addr=client_addr)
    return _issue(session=session, user=user, client_addr=client_addr, via=via,
                  with_refresh=via != "console")


def refresh(*, session: Session, refresh_token: str, client_addr: str = "") -> TokenPair:
    """Rotate a refresh token into a new token pair of the same logon. A spent one coming
    back (a copy, or parallel uses of one token: exactly one of those wins) ends its whole
    logon, every refresh token and access token of it (#22 finding 9)."""
    row = service.find_token(session=session, token=refresh_token)
    user = session.get(User, row.user_id) if row is not None else None
    if row is None or row.kind != "refresh" or user is None:
        record_apart(engine=_engine_of(session), actor=ANONYMOUS, action="auth.refresh_failed",
                     client_addr=client_addr, details={"reason": "unknown token"})
        raise InvalidRefreshToken("invalid refresh token")
    assert user.id is not None
    user_id, username = user.id, user.username
    logon = service.logon_of_refresh_token(refresh_token)
    expired = row.expires_at is not None and as_utc(row.expires_at) <= utcnow()
    if user.disabled:
        reason = "disabled user"
    elif expired:
        reason = "expired"
    elif logon is not None and service.live_logon(session=session, session_id=logon,
                                                  user_id=user_id) is None:
        reason = "logon ended"
    elif not service.spend_refresh_token(session=session, row=row):
        reason = "reused after rotation"
    else:
        reason = ""
    if reason:
        # Nothing of this request stays; the refusal (and, for a reuse, the end of the logon)
        # is written apart. Rolled back first: on SQLite this request's spending attempt
        # holds the write lock the writing apart needs.
        session.rollback()
        with session_scope(_engine_of(session)) as apart:
            ended = 0
            if reason == "reused after rotation":
                # A spent token coming back means it was copied: its logon ends (a token from
                # before logons were kept names none: every logon of the user ends).
                ended = (int(service.end_logon(session=apart, session_id=logon,
                                               user_id=user_id)) if logon is not None
                         else service.end_sessions(session=apart, user_id=user_id))
            custody.append(session=apart, actor=ANONYMOUS, action="auth.refresh_failed",
                           target_type="user", target_id=username, client_addr=client_addr,
                           details={"reason": reason, "logons_ended": ended}
                           if reason == "reused after rotation" else {"reason": reason})
        raise InvalidRefreshToken(f"refresh token refused ({reason})")
    return _issue(session=session, user=user, client_addr=client_addr, via="refresh",
                  logon=logon)


# ---- administration ------------------------------------------------------------------


def _log_user(session: Session, actor: Principal, action: str, user: User, client_addr: str,
              reason: str = "", **details: Any) -> None:
    custody.append(session=session, actor=actor, action=action, target_type="user",
                   target_id=user.username, client_addr=client_addr, reason=reason,
                   details=details)


def add_user(*, session: Session, actor: Principal, username: str, roles: Iterable[Role],
             display_name: str = "", password: str | None = None,
             client_addr: str = "") -> User:
    """Create a user (optionally with a password) and record it."""
    roles = [Role(r) for r in roles]
    if not roles:
        raise InvalidInput("a user needs at least one role", field="roles")
    user = service.create_user(session=session, username=username, roles=roles,
                               display_name=display_name)
    if password is not None:
        service.set_password(user=user, password=password)
        session.add(user)
    _log_user(session, actor, "user.create", user, client_addr,
              roles=sorted(r.value for r in user.role_set), password=password is not None)
    return user


def set_disabled(*, session: Session, actor: Principal, username: str, disabled: bool,
                 reason: str = "", client_addr: str = "") -> User:
    """Disable (every token and logon stops working at once) or re-enable a user."""
    user = service.get_user_by_username_or_raise(session=session, username=username)
    if disabled and actor.user_id is not None and actor.user_id == user.id:
        raise OwnAccount("you cannot disable your own account: another administrator can",
                         username=username)
    user.disabled = disabled
    session.add(user)
    if disabled and user.id is not None:
        service.end_sessions(session=session, user_id=user.id)
    _log_user(session, actor, "user.disable" if disabled else "user.enable", user, client_addr,
              reason)
    return user


def reset_password(*, session: Session, actor: Principal, username: str,
                   password: str | None = None, client_addr: str = "") -> tuple[User, str]:
    """Set a new password (generated when none is given), lift a lock-out, end every logon."""
    user = service.get_user_by_username_or_raise(session=session, username=username)
    new = password or service.generate_password()
    service.set_password(user=user, password=new)
    session.add(user)
    if user.id is not None:
        service.end_sessions(session=session, user_id=user.id)
    _log_user(session, actor, "user.password_reset", user, client_addr,
              generated=password is None)
    return user, new


def set_roles(*, session: Session, actor: Principal, username: str, roles: Iterable[Role],
              client_addr: str = "") -> User:
    """Replace the user's roles."""
    roles = [Role(r) for r in roles]
    if not roles:
        raise InvalidInput("a user needs at least one role", field="roles")
    user = service.get_user_by_username_or_raise(session=session, username=username)
    if actor.user_id is not None and actor.user_id == user.id and Role.admin in user.role_set \
            and Role.admin not in roles:
        raise OwnAccount("you cannot take away your own admin role: another administrator "
                         "can", username=username)
    before = sorted(r.value for r in user.role_set)
    user.roles = ",".join(sorted({Role(r).value for r in roles}))
    session.add(user)
    _log_user(session, actor, "user.roles", user, client_addr, before=before,
              after=sorted(r.value for r in user.role_set))
    return user


def provision_mfa(*, session: Session, actor: Principal, username: str,
                  client_addr: str = "") -> tuple[User, str]:
    """Give the user a new one-time-code key (replacing a lost one) and end every logon of
    theirs; returns the key, to be shown once and handed over like a password."""
    user = service.get_user_by_username_or_raise(session=session, username=username)
    assert user.id is not None
    replaced = mfa.of_user(session=session, user_id=user.id) is not None
    secret = mfa.provision(session=session, keyring=get_keyring(), user=user, by=actor.username)
    ended = service.end_sessions(session=session, user_id=user.id)
    _log_user(session, actor, "auth.mfa_provision", user, client_addr, replaced=replaced,
              logons_ended=ended)
    return user, secret


def issue_api_token(*, session: Session, actor: Principal, username: str, name: str = "",
                    client_addr: str = "") -> tuple[str, ApiToken]:
    """Issue a revocable API token for the user (docks, integrations); secret shown once."""
    user = service.get_user_by_username_or_raise(session=session, username=username)
    secret = service.create_api_token(session=session, user=user, name=name)
    row = service.find_token(session=session, token=secret)
    assert row is not None
    _log_user(session, actor, "auth.token_issue", user, client_addr, via="api_token",
              token_id=row.id, name=name)
    return secret, row


def revoke_api_token(*, session: Session, actor: Principal, username: str, token_id: int,
                     client_addr: str = "") -> ApiToken:
    """Revoke one of the user's tokens."""
    user = service.get_user_by_username_or_raise(session=session, username=username)
    row = service.revoke_token_by_id(session=session, user=user, token_id=token_id)
    _log_user(session, actor, "auth.token_revoke", user, client_addr, token_id=token_id)
    return row


def _end_logon(session: Session, row: ApiToken, actor: Principal, via: str,
               client_addr: str) -> None:
    row.revoked_at = utcnow()
    session.add(row)
    custody.append(session=session, actor=actor, action="auth.logout", target_type="user",
                   target_id=actor.username, client_addr=client_addr, details={"via": via})


def api_logout(*, session: Session, refresh_token: str, client_addr: str = "") -> None:
    """End an API logon: its refresh tokens buy no more access tokens, and its access tokens
    stop working. An unknown or spent token is answered the same way."""
    row = service.find_token(session=session, token=refresh_token)
    user = session.get(User, row.user_id) if row is not None else None
    if row is not None and row.kind == "refresh" and row.revoked_at is None and user:
        assert user.id is not None
        logon = service.logon_of_refresh_token(refresh_token)
        if logon is not None:
            service.end_logon(session=session, session_id=logon, user_id=user.id)
        _end_logon(session, row, service.principal_of(user), "api", client_addr)


def console_logout(*, session: Session, actor: Principal, session_id: str,
                   client_addr: str = "") -> None:
    """End one console logon: its cookie, even if copied, no longer opens a page or calls
    the API."""
    assert actor.user_id is not None
    row = service.console_session_row(session=session, session_id=session_id,
                                      user_id=actor.user_id)
    if row is not None:  # the page that posted the form found it live
        _end_logon(session, row, actor, "console", client_addr)


def record_denial(*, engine: Engine, principal: Principal | None, method: str, path: str,
                  client_addr: str, status: int, code: str) -> None:
    """Record a refused request (401/403) in its own transaction (whatever its path holds)."""
    route = storable_text(f"{method} {path}")
    record_apart(engine=engine, actor=principal or ANONYMOUS, action="access.denied",
                 target_type="route", target_id=route[:80],
                 client_addr=client_addr, details={"status": status, "code": code})
