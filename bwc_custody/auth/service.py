"""Users and API tokens: create, look up, authenticate."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, select

from bwc_custody.auth.models import ApiToken, Role, User
from bwc_custody.errors import Conflict, NotFound, Unauthenticated
from bwc_custody.timeutil import utcnow

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


# The identity of local command-line use by the machine's operator (bwc ingest, bwc export).
LOCAL_OPERATOR = Principal(user_id=None, username="local-operator", roles=frozenset({Role.admin}))


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    *, session: Session, username: str, roles: Iterable[Role], display_name: str = ""
) -> User:
    """Create a user with `roles`; the username must be new."""
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


def authenticate_api_token(*, session: Session, token: str) -> Principal:
    """The principal a live API token belongs to, or Unauthenticated."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _hash_token(token))).first()
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("invalid or revoked token")
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        raise Unauthenticated("token belongs to a disabled user")
    return Principal(user_id=user.id, username=user.username, roles=user.role_set)


def revoke_api_token(*, session: Session, token: str) -> None:
    """Revoke the token so it can never be used again."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _hash_token(token))).first()
    if row is None:
        raise NotFound("no such token")
    row.revoked_at = utcnow()
    session.add(row)
