"""Auth fixtures: users with passwords, and JWTs (live, expired, foreign-signed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bwc_custody.roles import Role

PASSWORD = "correct horse battery staple"

# The one-time-code keys make_user provisioned (tests add those the CLI printed), and the
# last time step a test used of each key (a code counts once: each logon takes the next
# step, starting at now, so that a step boundary passing before the server checks it
# leaves it within the server's one step of drift).
MFA_KEYS: dict[str, str] = {}
_STEPS_USED: dict[str, int] = {}


def one_time_code(username: str) -> str:
    """A code of the user's authenticator that the server has not seen yet (up to two
    logons a 30-second step: now's code and the next one, which the server accepts)."""
    import time

    import pyotp

    key = MFA_KEYS[username]
    now = int(time.time()) // 30
    step = max(now, _STEPS_USED.get(key, now - 1) + 1)
    assert step <= now + 1, f"{username}: more than two logons within 30 s"
    _STEPS_USED[key] = step
    return pyotp.TOTP(key).at(step * 30)


@pytest.fixture
def make_user(migrated: str) -> Callable[..., int]:
    """Factory: a user with roles and the test password, and the one-time-code key its roles
    need (kept in MFA_KEYS); returns the user id."""
    from bwc_custody.auth import mfa
    from bwc_custody.db import session_scope
    from bwc_custody.flows import auth as flows
    from tests.support.actors import LOCAL_OPERATOR

    def _make(username: str, *roles: Role, password: str | None = PASSWORD) -> int:
        with session_scope() as session:
            user = flows.add_user(session=session, actor=LOCAL_OPERATOR, username=username,
                                  roles=roles or (Role.requester,), password=password)
            if password is not None and mfa.requires_code(user):
                _user, MFA_KEYS[username] = flows.provision_mfa(
                    session=session, actor=LOCAL_OPERATOR, username=username)
            assert user.id is not None
            return user.id

    return _make


@pytest.fixture
def make_jwt() -> Callable[..., str]:
    """Factory: an access token for a user id (optionally expired, or signed elsewhere)."""
    from bwc_custody.auth.tokens import issue_access_token

    def _jwt(user_id: int, username: str = "x", *, expired: bool = False,
             foreign: bool = False) -> str:
        token, _ttl = issue_access_token(
            user_id=user_id, username=username,
            ttl=timedelta(seconds=-120) if expired else None,
            secret=b"another server's secret, 32 bytes+" if foreign else None)
        return token

    return _jwt


@pytest.fixture
def disable() -> Callable[[str], None]:
    """Disable a user through the admin flow."""
    from bwc_custody.db import session_scope
    from bwc_custody.flows import auth as flows
    from tests.support.actors import LOCAL_OPERATOR

    def _disable(username: str) -> None:
        with session_scope() as session:
            flows.set_disabled(session=session, actor=LOCAL_OPERATOR, username=username,
                               disabled=True)

    return _disable


@pytest.fixture
def actions(migrated: str) -> Callable[..., list[str]]:
    """The custody log's actions (optionally only those about one target)."""
    from bwc_custody.custody import service as custody
    from bwc_custody.db import session_scope

    def _actions(target: str | None = None) -> list[str]:
        with session_scope() as session:
            rows = (custody.entries_for(session=session, target_id=target) if target
                    else custody.all_entries(session=session))
            return [r.action for r in rows]

    return _actions
