"""Users, passwords and tokens: create, look up, authenticate, disable, reset."""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import secrets
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlmodel import Session, col, select

from bwc_custody.auth.errors import (
    OperatorDisabled,
    OperatorLacksRole,
    UnknownOperator,
    WeakPassword,
)
from bwc_custody.auth.models import USERNAME_MAX, USERNAME_PATTERN, ApiToken, User
from bwc_custody.auth.tokens import decode_access_token
from bwc_custody.config import get_settings
from bwc_custody.db import INTEGER_MAX
from bwc_custody.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from bwc_custody.roles import Role
from bwc_custody.timeutil import as_utc, utcnow

TOKEN_PREFIX = "bwc_"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request or command."""

    user_id: int | None
    username: str
    roles: frozenset[Role]

    def has_any(self, roles: Iterable[Role]) -> bool:
        """True when the caller holds at least one of `roles`."""
        return bool(self.roles & set(roles))

    @property
    def role_label(self) -> str:
        """Roles as one sorted string, for the custody log."""
        return ",".join(sorted(r.value for r in self.roles))


# ---- who runs a `bwc` command ---------------------------------------------------------
# Whoever runs the CLI holds the database and the keys, so a command acts with the role it
# needs (admin, or custodian for the request commands); the custody log names the person:
# the operating-system account as `os:NAME` (no user of ours has a ":" in their name, so it
# is never mistaken for one), or the user named by `--as NAME`, checked against the users
# table before the command does anything.
OS_PREFIX = "os:"


@dataclass(frozen=True)
class CliOperator:
    """The user `--as` named for this command: their id and the roles they hold."""

    username: str
    user_id: int
    roles: frozenset[Role]


_CLI_OPERATOR: ContextVar[CliOperator | None] = ContextVar("bwc_cli_operator", default=None)


def os_account() -> str:
    """The operating-system account running this process (`uid-N` when it has no name)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container user with no passwd entry and no $USER
        return f"uid-{os.getuid()}"


def name_cli_operator(*, session: Session | None, username: str | None) -> None:
    """Make the commands of this invocation act as `username` (None: the operating-system
    account); an unknown or disabled user is refused before anything is done."""
    if username is None or session is None:
        _CLI_OPERATOR.set(None)
        return
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise UnknownOperator(f"--as {username!r}: no such user (bwc users list shows them); "
                              "nothing was done", username=username)
    if user.disabled:
        raise OperatorDisabled(f"--as {username!r}: the user is disabled; nothing was done",
                               username=username)
    assert user.id is not None
    _CLI_OPERATOR.set(CliOperator(username=user.username, user_id=user.id,
                                  roles=user.role_set))


def cli_operator(*roles: Role) -> Principal:
    """Who runs this command, acting with the first of `roles` (default admin): the user
    `--as` named, with those of `roles` they hold (none: refused), else the
    operating-system account."""
    roles = roles or (Role.admin,)
    named = _CLI_OPERATOR.get()
    if named is None:
        return Principal(user_id=None, username=OS_PREFIX + os_account(),
                         roles=frozenset(roles[:1]))
    held = named.roles & set(roles)
    if not held:
        wanted = " or ".join(r.value for r in roles)
        raise OperatorLacksRole(
            f"--as {named.username!r}: this command acts as {wanted}, a role "
            f"{named.username!r} does not hold; nothing was done",
            username=named.username, required=[r.value for r in roles],
            holds=sorted(r.value for r in named.roles))
    return Principal(user_id=named.user_id, username=named.username, roles=frozenset(held))


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    *, session: Session, username: str, roles: Iterable[Role], display_name: str = ""
) -> User:
    """Create a user with `roles`; the username must be new and well formed."""
    if len(username) > USERNAME_MAX or not re.fullmatch(USERNAME_PATTERN, username):
        raise InvalidInput(f"username {username!r} is not 1-{USERNAME_MAX} of A-Z a-z 0-9 . _ @ -",
                           username=username)
    if session.exec(select(User).where(User.username == username)).first():
        raise Conflict(f"user {username!r} already exists", username=username)
    user = User(
        username=username,
        display_name=display_name,
        roles=",".join(sorted(Role(r).value for r in roles)),
    )
    session.add(user)
    session.flush()
    return user


def get_user_by_username_or_raise(*, session: Session, username: str) -> User:
    """The user named `username`."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username!r}", username=username)
    return user


def create_api_token(*, session: Session, user: User, name: str = "") -> str:
    """Issue a new API token for `user`; returns the secret, which is shown only once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    assert user.id is not None
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_hash_token(token)))
    session.flush()
    return token


def principal_of(user: User) -> Principal:
    """The principal acting as `user`."""
    return Principal(user_id=user.id, username=user.username, roles=user.role_set)


def authenticate_api_token(*, session: Session, token: str) -> Principal:
    """The principal a live API token belongs to, or Unauthenticated."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _hash_token(token))).first()
    if row is None or row.revoked_at is not None or row.kind != "api":
        raise Unauthenticated("invalid or revoked token")
    if row.expires_at is not None and as_utc(row.expires_at) <= utcnow():
        raise Unauthenticated("the token has expired")
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        raise Unauthenticated("token belongs to a disabled user")
    return principal_of(user)


@dataclass(frozen=True)
class Access:
    """An access token found good: whose it is, its claims, the logon it belongs to."""

    user: User
    claims: dict[str, Any]
    logon: ApiToken | None  # None: a token that names no logon


def check_access_token(*, session: Session, token: str) -> Access:
    """What a valid access token grants, or Unauthenticated: the user is disabled or gone,
    or the logon it names has ended (logout, a password reset, a refresh token's reuse, its
    hours). The one check of an access token, for the API's bearer and the console's cookie
    alike (a console cookie used as a bearer died with its logon only in the console, #22
    finding 8)."""
    claims = decode_access_token(token)
    sub = str(claims["sub"])
    # a user id the database can hold (a larger one overflowed PostgreSQL's INTEGER: a 500)
    valid = sub.isascii() and sub.isdigit() and len(sub) <= 10 and int(sub) <= INTEGER_MAX
    user = session.get(User, int(sub)) if valid else None
    if user is None or user.disabled:
        raise Unauthenticated("token belongs to a disabled or unknown user")
    session_id = claims.get("sid")
    if session_id is None:
        return Access(user, claims, None)
    assert user.id is not None
    logon = live_logon(session=session, session_id=str(session_id), user_id=user.id)
    if logon is None:
        raise Unauthenticated("the logon this token belongs to has ended; log in again")
    return Access(user, claims, logon)


def authenticate(*, session: Session, token: str) -> Principal:
    """The caller behind a bearer token: an API token (bwc_...) or a JWT access token."""
    if token.startswith(TOKEN_PREFIX):
        return authenticate_api_token(session=session, token=token)
    return principal_of(check_access_token(session=session, token=token).user)


# ---- passwords -----------------------------------------------------------------------

_hasher = PasswordHasher()  # Argon2id with the library's (RFC 9106) defaults
# Verified against when the username is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def generate_password() -> str:
    """A random password that meets the length rule (shown once, to be changed)."""
    return secrets.token_urlsafe(18)


def set_password(*, user: User, password: str) -> None:
    """Store the Argon2id hash of `password` on `user` and clear any lock-out."""
    minimum = get_settings().min_password_length
    if len(password) < minimum:
        raise WeakPassword(f"a password needs at least {minimum} characters", minimum=minimum)
    user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None


def password_matches(user: User | None, password: str) -> bool:
    """True when `password` is the user's; constant work whether or not the user exists."""
    try:
        return _hasher.verify(user.password_hash if user and user.password_hash
                              else _DUMMY_HASH, password) and bool(user and user.password_hash)
    except (VerificationError, InvalidHashError):
        return False


def is_locked(user: User) -> bool:
    """True while the user is locked out after failed logons."""
    return user.locked_until is not None and as_utc(user.locked_until) > utcnow()


def count_failure(*, session: Session, user_id: int) -> datetime | None:
    """Count one failed logon; returns the lock-out end when this failure locks the account.

    The increment is one UPDATE ... RETURNING, so parallel failures are all counted (a read
    then a write let simultaneous guesses overwrite each other's count)."""
    settings = get_settings()
    failures = session.execute(
        update(User).where(col(User.id) == user_id)
        .values(failed_logins=col(User.failed_logins) + 1)
        .returning(col(User.failed_logins))).scalar_one()
    if failures < settings.lockout_threshold:
        return None
    until = utcnow() + timedelta(minutes=settings.lockout_minutes)
    session.execute(update(User).where(col(User.id) == user_id)
                    .values(failed_logins=0, locked_until=until))
    return until


# ---- refresh tokens and token management ---------------------------------------------


# A logon: a row naming one logon of a user, that its access tokens name (claim `sid`) and
# that ends at logout, a password reset, disabling, a new one-time-code key, or the reuse of
# one of its spent refresh tokens. "console": a console logon (its cookie); "logon": an API
# password logon, renewed by rotating refresh tokens (its family).
LOGON_KINDS = ("console", "logon")
# Tokens that make a logon last beyond one access token: ending them ends the logon.
SESSION_KINDS = ("refresh", *LOGON_KINDS)
REFRESH_PREFIX = "bwr_"


def start_logon(*, session: Session, user: User, kind: str = "console") -> str:
    """A new logon of the user: its session id, live until it is ended or for
    `console_session_hours` (a console logon) or `refresh_token_days` (an API logon)."""
    assert kind in LOGON_KINDS, kind
    settings = get_settings()
    session_id = secrets.token_urlsafe(24)
    assert user.id is not None
    life = (timedelta(hours=settings.console_session_hours) if kind == "console"
            else timedelta(days=settings.refresh_token_days))
    session.add(ApiToken(user_id=user.id, name=kind, kind=kind,
                         token_hash=_hash_token(session_id), expires_at=utcnow() + life))
    session.flush()
    return session_id


def start_console_session(*, session: Session, user: User) -> str:
    """A new console logon of the user (see `start_logon`)."""
    return start_logon(session=session, user=user, kind="console")


def live_logon(*, session: Session, session_id: str, user_id: int,
               kinds: tuple[str, ...] = LOGON_KINDS) -> ApiToken | None:
    """The user's logon `session_id` (of one of `kinds`) while it is live, else None."""
    row = session.exec(select(ApiToken).where(
        ApiToken.token_hash == _hash_token(session_id), col(ApiToken.kind).in_(kinds),
        ApiToken.user_id == user_id)).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and as_utc(row.expires_at) <= utcnow():
        return None
    return row


def console_session_row(*, session: Session, session_id: str, user_id: int) -> ApiToken | None:
    """The user's console logon `session_id` while it is live, else None."""
    return live_logon(session=session, session_id=session_id, user_id=user_id,
                      kinds=("console",))


def create_refresh_token(*, session: Session, user: User, logon: str | None = None) -> str:
    """Issue a refresh token (rotated on each use) of the API logon `logon`; returns the
    secret, which names its logon (`bwr_<logon>.<secret>`: `logon_of_refresh_token`)."""
    token = REFRESH_PREFIX + (f"{logon}." if logon else "") + secrets.token_urlsafe(32)
    assert user.id is not None
    days = get_settings().refresh_token_days
    session.add(ApiToken(user_id=user.id, name="refresh", kind="refresh",
                         token_hash=_hash_token(token), expires_at=utcnow() + timedelta(days=days)))
    session.flush()
    return token


def logon_of_refresh_token(token: str) -> str | None:
    """The logon a refresh token was issued to (None for one issued before logons were
    kept); to be trusted only once the token's hash has been found."""
    body = token.removeprefix(REFRESH_PREFIX)
    logon, dot, _secret = body.partition(".")
    return logon if dot and logon else None


def spend_refresh_token(*, session: Session, row: ApiToken) -> bool:
    """Mark a live refresh token spent; False when it already was. One conditional UPDATE:
    of parallel uses of one token exactly one spends it (a read then a write let several
    through, #22 finding 9); on PostgreSQL the others wait for its commit, then find none."""
    spent = session.execute(
        update(ApiToken).where(col(ApiToken.id) == row.id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=utcnow()).returning(col(ApiToken.id))).first()
    return spent is not None


def end_logon(*, session: Session, session_id: str, user_id: int) -> bool:
    """End one logon of the user (whatever its kind); False when it had already ended."""
    row = live_logon(session=session, session_id=session_id, user_id=user_id)
    if row is None:
        return False
    row.revoked_at = utcnow()
    session.add(row)
    session.flush()
    return True


def find_token(*, session: Session, token: str) -> ApiToken | None:
    """The stored row of an opaque token, if any."""
    return session.exec(select(ApiToken).where(ApiToken.token_hash == _hash_token(token))).first()


def end_sessions(*, session: Session, user_id: int) -> int:
    """End every logon of the user (API and console logons, every refresh token); returns
    how many logons that ended (a refresh token from before logons were kept, still live,
    is revoked without being counted as one)."""
    rows = session.exec(select(ApiToken).where(
        ApiToken.user_id == user_id, col(ApiToken.kind).in_(SESSION_KINDS),
        col(ApiToken.revoked_at).is_(None)))
    count = 0
    for row in rows:
        row.revoked_at = utcnow()
        session.add(row)
        count += row.kind in LOGON_KINDS
    session.flush()
    return count


def list_tokens(*, session: Session, user: User) -> list[ApiToken]:
    """The user's API tokens (never their secrets), newest first."""
    stmt = (select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.kind == "api")
            .order_by(col(ApiToken.id).desc()))
    return list(session.exec(stmt))


def revoke_token_by_id(*, session: Session, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's tokens by its id."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFound(f"user {user.username!r} has no token {token_id}", token_id=token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
    return row


def live_api_tokens(*, session: Session) -> dict[int, int]:
    """How many unrevoked, unexpired API tokens each user holds, by user id."""
    counts: dict[int, int] = {}
    for row in session.exec(select(ApiToken).where(ApiToken.kind == "api",
                                                   col(ApiToken.revoked_at).is_(None))):
        if row.expires_at is None or as_utc(row.expires_at) > utcnow():
            counts[row.user_id] = counts.get(row.user_id, 0) + 1
    return counts


def list_users(*, session: Session) -> list[User]:
    """Every user, by username."""
    return list(session.exec(select(User).order_by(col(User.username))))


def revoke_api_token(*, session: Session, token: str) -> None:
    """Revoke the token so it can never be used again."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _hash_token(token))).first()
    if row is None:
        raise NotFound("no such token")
    row.revoked_at = utcnow()
    session.add(row)
