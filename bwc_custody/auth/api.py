"""Auth routes: OAuth2 password logon, refresh, whoami; admin routes for users and tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlmodel import Session

from bwc_custody.auth import mfa, service
from bwc_custody.auth.models import (
    DISPLAY_NAME_MAX,
    USERNAME_MAX,
    USERNAME_PATTERN,
    ApiToken,
    TokenPair,
    User,
)
from bwc_custody.deps import PUBLIC, Admin, AnyUser, ClientAddr, RowId, SessionDep, allow
from bwc_custody.flows import auth as flows
from bwc_custody.roles import Role
from bwc_custody.timeutil import UtcRead

router = APIRouter(tags=["auth"])



class RefreshIn(BaseModel):
    refresh_token: str


class Me(BaseModel):
    username: str
    roles: list[str]


class UserRead(UtcRead):
    username: str
    display_name: str
    roles: list[str]
    disabled: bool
    locked: bool
    has_password: bool
    # a one-time-code key is provisioned; whether the user's roles need one at logon
    has_mfa: bool
    mfa_required: bool
    created_at: datetime


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=USERNAME_MAX, pattern=USERNAME_PATTERN)
    roles: list[Role] = Field(min_length=1)
    display_name: str = Field(default="", max_length=DISPLAY_NAME_MAX)
    password: str | None = None


class RolesIn(BaseModel):
    roles: list[Role] = Field(min_length=1)


class ReasonIn(BaseModel):
    reason: str = ""


class PasswordIn(BaseModel):
    password: str | None = None


class PasswordOut(BaseModel):
    username: str
    password: str


class MfaKey(BaseModel):
    """A new one-time-code key, shown once: typed into (or scanned by) an authenticator app."""

    username: str
    secret: str
    otpauth_uri: str


class TokenIn(BaseModel):
    name: str = ""


class TokenRead(UtcRead):
    id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None


class TokenIssued(TokenRead):
    token: str


def _user_read(session: Session, user: User) -> UserRead:
    assert user.id is not None
    return UserRead(username=user.username, display_name=user.display_name,
                    roles=sorted(r.value for r in user.role_set), disabled=user.disabled,
                    locked=service.is_locked(user), has_password=bool(user.password_hash),
                    has_mfa=mfa.of_user(session=session, user_id=user.id) is not None,
                    mfa_required=mfa.requires_code(user), created_at=user.created_at)


def _token_read(row: ApiToken) -> TokenRead:
    assert row.id is not None
    return TokenRead(id=row.id, name=row.name, created_at=row.created_at,
                     revoked_at=row.revoked_at)


@router.post("/auth/token", response_model=TokenPair, dependencies=[Depends(allow(PUBLIC))])
def token(addr: ClientAddr, session: SessionDep,
          form: Annotated[OAuth2PasswordRequestForm, Depends()],
          otp: Annotated[str, Form(max_length=12)] = "") -> TokenPair:
    """OAuth2 password flow: a short-lived access token and a refresh token. `otp`: the
    current code of the user's authenticator, for users who have one (every holder of a role
    in BWC_MFA_ROLES must)."""
    return flows.login(session=session, username=form.username, password=form.password,
                       client_addr=addr, otp=otp)


@router.post("/auth/refresh", response_model=TokenPair, dependencies=[Depends(allow(PUBLIC))])
def refresh(addr: ClientAddr, session: SessionDep, body: RefreshIn) -> TokenPair:
    """Trade a refresh token for a new pair (the old refresh token is spent)."""
    return flows.refresh(session=session, refresh_token=body.refresh_token,
                         client_addr=addr)


@router.post("/auth/logout", status_code=204, dependencies=[Depends(allow(PUBLIC))])
def logout(addr: ClientAddr, session: SessionDep, body: RefreshIn) -> None:
    """End the logon the refresh token belongs to (logged as `auth.logout`); answered alike
    for a token that is unknown or already spent."""
    flows.api_logout(session=session, refresh_token=body.refresh_token,
                     client_addr=addr)


@router.get("/auth/me", response_model=Me)
def me(actor: AnyUser) -> Me:
    """Who the bearer token belongs to."""
    return Me(username=actor.username, roles=sorted(r.value for r in actor.roles))


@router.get("/users", response_model=list[UserRead])
def list_users(session: SessionDep, _admin: Admin) -> list[UserRead]:
    """Every user."""
    return [_user_read(session, u) for u in service.list_users(session=session)]


@router.post("/users", response_model=UserRead, status_code=201)
def create_user(addr: ClientAddr, session: SessionDep, actor: Admin,
                body: UserCreate) -> UserRead:
    """Create a user with roles (and a password, for people)."""
    user = flows.add_user(session=session, actor=actor, username=body.username,
                          roles=body.roles, display_name=body.display_name,
                          password=body.password, client_addr=addr)
    return _user_read(session, user)


@router.post("/users/{username}/disable", response_model=UserRead)
def disable_user(username: str, addr: ClientAddr, session: SessionDep, actor: Admin,
                 body: ReasonIn) -> UserRead:
    """Disable a user: every token of theirs stops working at once."""
    user = flows.set_disabled(session=session, actor=actor, username=username, disabled=True,
                              reason=body.reason, client_addr=addr)
    return _user_read(session, user)


@router.post("/users/{username}/enable", response_model=UserRead)
def enable_user(username: str, addr: ClientAddr, session: SessionDep, actor: Admin,
                body: ReasonIn) -> UserRead:
    """Re-enable a disabled user."""
    user = flows.set_disabled(session=session, actor=actor, username=username, disabled=False,
                              reason=body.reason, client_addr=addr)
    return _user_read(session, user)


@router.post("/users/{username}/reset", response_model=PasswordOut)
def reset_password(username: str, addr: ClientAddr, session: SessionDep, actor: Admin,
                   body: PasswordIn) -> PasswordOut:
    """Set a new password (generated when none is given) and lift a lock-out."""
    user, password = flows.reset_password(session=session, actor=actor, username=username,
                                          password=body.password,
                                          client_addr=addr)
    return PasswordOut(username=user.username, password=password)


@router.post("/users/{username}/mfa", response_model=MfaKey, status_code=201)
def provision_mfa(username: str, addr: ClientAddr, session: SessionDep, actor: Admin) -> MfaKey:
    """Give the user a new one-time-code key (a first one, or for a lost phone): every logon
    of theirs ends, and the key is shown only here."""
    user, secret = flows.provision_mfa(session=session, actor=actor, username=username,
                                       client_addr=addr)
    return MfaKey(username=user.username, secret=secret,
                  otpauth_uri=mfa.uri(secret, user.username))


@router.put("/users/{username}/roles", response_model=UserRead)
def set_roles(username: str, addr: ClientAddr, session: SessionDep, actor: Admin,
              body: RolesIn) -> UserRead:
    """Replace a user's roles."""
    user = flows.set_roles(session=session, actor=actor, username=username, roles=body.roles,
                           client_addr=addr)
    return _user_read(session, user)


@router.get("/users/{username}/tokens", response_model=list[TokenRead])
def list_tokens(username: str, session: SessionDep, _admin: Admin) -> list[TokenRead]:
    """A user's API tokens (never their secrets)."""
    user = service.get_user_by_username_or_raise(session=session, username=username)
    return [_token_read(t) for t in service.list_tokens(session=session, user=user)]


@router.post("/users/{username}/tokens", response_model=TokenIssued, status_code=201)
def issue_token(username: str, addr: ClientAddr, session: SessionDep, actor: Admin,
                body: TokenIn) -> TokenIssued:
    """Issue an API token (docks, integrations); the secret is shown only here."""
    secret, row = flows.issue_api_token(session=session, actor=actor, username=username,
                                        name=body.name, client_addr=addr)
    return TokenIssued(**_token_read(row).model_dump(), token=secret)


@router.delete("/users/{username}/tokens/{token_id}", response_model=TokenRead)
def revoke_token(username: str, token_id: RowId, addr: ClientAddr, session: SessionDep,
                 actor: Admin) -> TokenRead:
    """Revoke an API token."""
    return _token_read(flows.revoke_api_token(session=session, actor=actor, username=username,
                                              token_id=token_id, client_addr=addr))
