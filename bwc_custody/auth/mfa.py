"""The second factor of a password logon: one-time codes from the user's authenticator app
(RFC 6238 TOTP: six digits, 30-second steps, HMAC-SHA1, as every authenticator app reads an
`otpauth://` URI).

An administrator provisions a user's key and hands it over like the password (the key is
shown once); the key is kept sealed under the KEK (`vault.sealed`). A code is accepted one
step either side of now (clock drift between phone and server), and never twice: the step
of the last accepted code is kept, and no code from it or before it counts again (RFC 6238
section 5.2).
"""

from __future__ import annotations

from datetime import datetime

import pyotp
from sqlalchemy import update
from sqlmodel import Session, col, select

from bwc_custody.auth.models import User, UserMfa
from bwc_custody.config import get_settings
from bwc_custody.timeutil import utcnow
from bwc_custody.vault.sealed import of_row, rewrap_rows, seal, unseal
from storage.keys import Keyring

ISSUER = "bwc-custody"
STEP_S = 30
DRIFT_STEPS = 1


def requires_code(user: User) -> bool:
    """True when the user holds a role whose password logon must give a one-time code
    (`BWC_MFA_ROLES`); a user with a key provisioned gives one whatever their roles."""
    return bool({r.value for r in user.role_set} & get_settings().mfa_role_set)


def of_user(*, session: Session, user_id: int) -> UserMfa | None:
    """The user's second factor, if one is provisioned."""
    return session.exec(select(UserMfa).where(UserMfa.user_id == user_id)).first()


def by_user(*, session: Session) -> dict[int, UserMfa]:
    """Every provisioned second factor, by user id."""
    return {row.user_id: row for row in session.exec(select(UserMfa))}


def provision(*, session: Session, keyring: Keyring, user: User, by: str) -> str:
    """A new one-time-code key for the user (replacing any earlier one); returns it in
    base32, the form authenticator apps take, for showing once."""
    assert user.id is not None
    secret = pyotp.random_base32()
    sealed = seal(keyring, secret.encode())
    row = of_user(session=session, user_id=user.id)
    if row is None:
        row = UserMfa(user_id=user.id, object_id=sealed.object_id, kek_id=sealed.kek_id,
                      wrapped_key=sealed.wrapped_key, ciphertext=sealed.ciphertext,
                      created_by=by)
    else:
        row.object_id, row.kek_id = sealed.object_id, sealed.kek_id
        row.wrapped_key, row.ciphertext = sealed.wrapped_key, sealed.ciphertext
        row.created_at, row.created_by, row.confirmed_at, row.last_step = utcnow(), by, None, 0
    session.add(row)
    session.flush()
    return secret


def uri(secret: str, username: str) -> str:
    """The `otpauth://` URI an authenticator app reads (typed in, or as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def accept(*, session: Session, keyring: Keyring, row: UserMfa, code: str,
           now: datetime | None = None) -> bool:
    """True, and the code's step spent, when `code` is the user's code for a step within
    the drift of `now` and later than the last one accepted."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return False
    totp = pyotp.TOTP(unseal(keyring, of_row(row)).decode())
    current = int((now or utcnow()).timestamp()) // STEP_S
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if step > row.last_step and pyotp.utils.strings_equal(code, totp.at(step * STEP_S)):
            # spent in one conditional write: of two logons racing with the same code, the
            # second finds the step taken (on PostgreSQL it waits for the first to commit)
            spent = session.execute(update(UserMfa).where(
                col(UserMfa.id) == row.id, col(UserMfa.last_step) < step).values(
                last_step=step, confirmed_at=row.confirmed_at or utcnow()))
            session.refresh(row)
            return bool(spent.rowcount == 1)  # type: ignore[attr-defined]
    return False


def rewrap_all(*, session: Session, keyring: Keyring, kek_id: str) -> int:
    """Re-wrap every user's sealed key under `kek_id` (after a KEK rotation)."""
    return rewrap_rows(session=session, keyring=keyring, rows=session.exec(select(UserMfa)),
                       kek_id=kek_id)
