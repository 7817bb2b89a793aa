"""JWT access tokens, signed with a server secret kept in the keys directory (never the DB)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt

from bwc_custody.auth.errors import TokenExpired
from bwc_custody.config import get_settings
from bwc_custody.errors import Unauthenticated
from bwc_custody.timeutil import utcnow

ALGORITHM = "HS256"
ISSUER = "bwc-custody"
SECRET_FILE = "jwt-hs256.key"


@lru_cache
def _secret_in(directory: Path) -> bytes:
    path = directory / SECRET_FILE
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first; use theirs
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
                fh.flush()
                os.fsync(fh.fileno())
    secret = path.read_bytes()
    if len(secret) < 32:
        raise RuntimeError(f"{path} holds fewer than 32 bytes; refusing a weak JWT key")
    return secret


def signing_secret() -> bytes:
    """The HMAC key that signs access tokens (created on first use)."""
    return _secret_in(get_settings().keys_dir)


def issue_access_token(
    *, user_id: int, username: str, ttl: timedelta | None = None, secret: bytes | None = None,
    session_id: str | None = None,
) -> tuple[str, int]:
    """A signed access token for the user and its lifetime in seconds; `session_id` (claim
    `sid`) ties renewed console tokens to one logon."""
    ttl = ttl if ttl is not None else timedelta(minutes=get_settings().access_token_minutes)
    now = utcnow()
    claims = {"iss": ISSUER, "sub": str(user_id), "name": username, "typ": "access",
              "iat": int(now.timestamp()), "exp": int((now + ttl).timestamp()),
              "jti": secrets.token_hex(8)}
    if session_id is not None:
        claims["sid"] = session_id
    return jwt.encode(claims, secret or signing_secret(), algorithm=ALGORITHM), int(
        ttl.total_seconds())


def decode_access_token(token: str) -> dict[str, Any]:
    """The claims of a valid access token; Unauthenticated (or TokenExpired) otherwise."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, signing_secret(), algorithms=[ALGORITHM], issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired("the access token has expired; refresh it") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated("invalid access token") from None
    if claims.get("typ") != "access":
        raise Unauthenticated("not an access token")
    return claims
