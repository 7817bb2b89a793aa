"""`bwc users ...` and `bwc init` set-up of the first admin."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from bwc_custody.auth.models import USERNAME_MAX
from bwc_custody.cli import app
from bwc_custody.roles import Role
from tests.auth.conftest import MFA_KEYS, one_time_code


def _bwc(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    text = result.stdout if result.exit_code == 0 else (result.stderr or result.stdout)
    return result.exit_code, json.loads(text)


def _me(client: TestClient, token: str) -> int:
    return client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_users_lifecycle(client: TestClient) -> None:
    code, out = _bwc("users", "add", "lee", "--role", "custodian", "--role", "auditor",
                     "--generate-password", "--token")
    assert code == 0
    assert out["roles"] == ["auditor", "custodian"]
    token, password = out["token"], out["password"]
    assert out["mfa"]["otpauth_uri"].startswith("otpauth://totp/bwc-custody:lee?secret=")
    MFA_KEYS["lee"] = out["mfa"]["secret"]
    assert _me(client, token) == 200
    r = client.post("/api/v1/auth/token", data={"username": "lee", "password": password,
                                                "otp": one_time_code("lee")})
    assert r.status_code == 200
    code, err = _bwc("users", "add", "lee", "--role", "officer")
    assert code == 2
    assert err["error"]["code"] == "conflict"

    code, issued = _bwc("users", "token", "issue", "lee", "--name", "laptop")
    assert _me(client, issued["token"]) == 200
    assert _bwc("users", "token", "revoke", "lee", str(issued["token_id"]))[0] == 0
    assert _me(client, issued["token"]) == 401

    assert _bwc("users", "disable", "lee", "--reason", "left the district")[0] == 0
    assert _me(client, token) == 401
    assert _bwc("users", "enable", "lee")[0] == 0
    assert _me(client, token) == 200
    code, out = _bwc("users", "reset", "lee", "--password", "a brand new passphrase")
    assert out["password"] is None
    r = client.post("/api/v1/auth/token", data={"username": "lee",
                                                "password": "a brand new passphrase",
                                                "otp": one_time_code("lee")})
    assert r.status_code == 200
    code, out = _bwc("users", "roles", "lee", "--role", "legal_reviewer")
    assert out["roles"] == ["legal_reviewer"]
    code, listing = _bwc("users", "list")
    assert listing == [{"username": "lee", "roles": ["legal_reviewer"], "disabled": False,
                        "locked": False}]
    code, log = _bwc("log", "--target", "lee")
    assert [e["action"] for e in log] == [
        "user.create", "auth.mfa_provision", "auth.token_issue", "auth.login", "auth.token_issue",
        "auth.token_issue", "auth.token_revoke", "user.disable", "user.enable",
        "user.password_reset", "auth.login", "auth.token_issue", "user.roles"]
    assert {e["reason"] for e in log if e["action"] == "user.disable"} == {"left the district"}


def test_init_creates_admin_with_password(bwc_home: object, tmp_path: object) -> None:
    code, out = _bwc("init", "--password", "the first admin passphrase")
    assert code == 0
    assert out["admin_token"].startswith("bwc_")
    assert out["console"] == "http://127.0.0.1:8400/console/"
    assert out["admin_password"] is None
    MFA_KEYS["admin"] = out["admin_mfa"]["secret"]
    from bwc_custody.app import create_app

    with TestClient(create_app()) as client:
        r = client.post("/api/v1/auth/token", data={"username": "admin",
                                                    "password": "the first admin passphrase",
                                                    "otp": one_time_code("admin")})
        assert r.status_code == 200


def test_init_logs_the_first_admin_and_is_idempotent(bwc_home: object) -> None:
    code, first = _bwc("init")
    assert code == 0
    assert len(first["admin_password"]) >= 12
    from sqlmodel import Session, select

    from bwc_custody.custody.models import CustodyEntry
    from bwc_custody.db import get_engine

    with Session(get_engine()) as session:
        actions = [e.action for e in session.exec(select(CustodyEntry))]
    assert actions == ["user.create", "auth.token_issue", "auth.mfa_provision"]
    code, again = _bwc("init")
    assert code == 0
    assert again["admin_token"] is None
    assert again["admin_password"] is None


def test_a_username_the_custody_log_cannot_name_is_refused(
        client: TestClient, make_token: Callable[..., str]) -> None:
    longest, too_long = "u" * USERNAME_MAX, "u" * (USERNAME_MAX + 1)
    admin = {"Authorization": f"Bearer {make_token(Role.admin)}"}
    made = client.post("/api/v1/users", headers=admin,
                       json={"username": longest, "roles": ["officer"]})
    assert made.status_code == 201, made.text
    refused = client.post("/api/v1/users", headers=admin,
                          json={"username": too_long, "roles": ["officer"]})
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "invalid_input")
    for bad in (too_long, "two words", "semi;colon"):
        code, err = _bwc("users", "add", bad, "--role", "officer")
        assert (code, err["error"]["code"]) == (2, "invalid_input"), bad
    code, listing = _bwc("users", "list")
    assert [u["username"] for u in listing if u["username"].startswith("uu")] == [longest]


def test_a_person_gets_no_api_token_unless_asked_a_device_does(sqlite_migrated: str) -> None:
    # an API token skips the one-time code, so staff get one only when an admin asks
    code, person = _bwc("users", "add", "kim", "--role", "custodian", "--generate-password")
    assert code == 0
    assert person["token"] is None
    assert person["mfa"]["secret"]
    code, dock = _bwc("users", "add", "dock-3", "--role", "dock")
    assert code == 0
    assert dock["token"].startswith("bwc_")
    assert dock["mfa"] is None
