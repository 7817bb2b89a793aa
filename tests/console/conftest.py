"""Console fixtures: a logged-on browser session for an existing user, without the password
round trip (the logon form itself is tested in test_session.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx2
import jwt
import pytest
from fastapi.testclient import TestClient


@dataclass
class Browser:
    """One user's console session: its cookie and the CSRF token its forms carry."""

    client: TestClient
    token: str
    csrf: str

    def get(self, url: str, **kw: Any) -> httpx2.Response:
        self.client.cookies.clear()
        self.client.cookies.set("bwc_console", self.token)
        return self.client.get(url, follow_redirects=False, **kw)

    def post(self, url: str, data: dict[str, str] | None = None, *, csrf: bool = True,
             **kw: Any) -> httpx2.Response:
        self.client.cookies.clear()
        self.client.cookies.set("bwc_console", self.token)
        form = dict(data or {})
        if csrf:
            form["csrf"] = self.csrf
        return self.client.post(url, data=form, follow_redirects=False, **kw)


@pytest.fixture
def browser(client: TestClient) -> Callable[..., Browser]:
    """Factory: a console session for the user `username` (created by make_token/make_user)."""
    from sqlmodel import select

    from bwc_custody.auth.models import User
    from bwc_custody.auth.service import start_console_session
    from bwc_custody.auth.tokens import issue_access_token, signing_secret
    from bwc_custody.console.session import csrf_token
    from bwc_custody.db import session_scope

    logons: dict[tuple[str, str], str] = {}

    def _open(username: str, *, age: timedelta = timedelta(0), logon: str = "first") -> Browser:
        """`age`: how long ago the token was issued (its lifetime moves back with it);
        `logon`: which of the user's logons (each started on the server at first use)."""
        with session_scope() as session:
            user = session.exec(select(User).where(User.username == username)).one()
            assert user.id is not None
            uid = user.id
            if (username, logon) not in logons:
                logons[username, logon] = start_console_session(session=session, user=user)
        session_id = logons[username, logon]
        token, _ = issue_access_token(user_id=uid, username=username, session_id=session_id)
        if age:
            claims = jwt.decode(token, signing_secret(), algorithms=["HS256"],
                                options={"verify_signature": True, "verify_iss": False})
            shift = int(age.total_seconds())
            claims["iat"], claims["exp"] = claims["iat"] - shift, claims["exp"] - shift
            token = jwt.encode(claims, signing_secret(), algorithm="HS256")
        return Browser(client, token, csrf_token(session_id))

    return _open
