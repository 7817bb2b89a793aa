"""Users, their roles, and API tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from bwc_custody.roles import Role
from bwc_custody.timeutil import UtcDateTime, utcnow

# Usernames: what the API and CLI accept. At most 80 characters, because custody entries
# name a user in their target_id (80 characters); PostgreSQL refused a longer one (a 500).
USERNAME_MAX = 80
USERNAME_PATTERN = r"^[A-Za-z0-9._@-]+$"
DISPLAY_NAME_MAX = 200


class User(SQLModel, table=True):
    """A person or a device credential (a dock) that can act on the system."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=120)
    display_name: str = Field(default="", max_length=DISPLAY_NAME_MAX)
    # Comma-separated Role values; read through `role_set`.
    roles: str = Field(default="", max_length=200)
    disabled: bool = Field(default=False)
    # Argon2id hash (PHC string); None for device credentials that only hold API tokens.
    password_hash: str | None = Field(default=None, max_length=200)
    failed_logins: int = Field(default=0)
    locked_until: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )

    @property
    def role_set(self) -> frozenset[Role]:
        """The user's roles as enum members."""
        return frozenset(Role(r) for r in self.roles.split(",") if r)


class ApiToken(SQLModel, table=True):
    """A revocable opaque token, stored only as its hash: an API token or a refresh token."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(default="", max_length=200)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    # "api": a bearer credential (docks, integrations); "refresh": only buys access tokens.
    kind: str = Field(default="api", max_length=20)
    expires_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class UserMfa(SQLModel, table=True):
    """A user's second factor: the key of their one-time codes (RFC 6238 TOTP), sealed like
    stored objects (`vault.sealed`), and the last time step used, so no code counts twice."""

    __tablename__ = "user_mfa"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", unique=True)
    object_id: str = Field(max_length=36, unique=True)
    kek_id: str = Field(max_length=64)
    wrapped_key: str = Field(sa_column=Column(Text, nullable=False))
    ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    created_by: str = Field(max_length=120)
    # The first logon with a code from the user's authenticator (None: not yet used).
    confirmed_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    last_step: int = Field(default=0)


class TokenPair(BaseModel):
    """The OAuth2 token response."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str
