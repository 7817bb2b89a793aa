"""The second factor of a password logon: one-time codes (RFC 6238) from a key an
administrator provisions, kept sealed under the KEK, each code good once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from bwc_custody.roles import Role
from tests.auth.conftest import MFA_KEYS, PASSWORD


def _logon(client: TestClient, username: str, otp: str = "") -> tuple[int, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD,
                                                "otp": otp})
    return r.status_code, r.json().get("error", {}).get("code", "")


def _code(username: str, steps_from_now: int = 0) -> str:
    """The user's code `steps_from_now` 30-second steps away. A step boundary may pass before
    the server checks it, so a code meant to be too early is 3 steps ahead, not 2."""
    import time

    return pyotp.TOTP(MFA_KEYS[username]).at(time.time() + 30 * steps_from_now)


def test_a_staff_logon_needs_a_fresh_code_and_a_wrong_one_counts_toward_the_lock(
        client: TestClient, make_user: Callable[..., int],
        actions: Callable[..., list[str]]) -> None:
    make_user("nora", Role.custodian)
    assert _logon(client, "nora") == (401, "invalid_credentials")  # the password alone
    assert _logon(client, "nora", _code("nora", 3)) == (401, "invalid_credentials")  # early
    assert _logon(client, "nora", _code("nora", -3)) == (401, "invalid_credentials")  # stale
    assert _logon(client, "nora", _code("nora")) == (200, "")
    assert _logon(client, "nora", _code("nora")) == (401, "invalid_credentials")  # replayed
    assert _logon(client, "nora", _code("nora", -1)) == (401, "invalid_credentials")  # older
    assert _logon(client, "nora", "not a code") == (401, "invalid_credentials")
    assert _logon(client, "nora", _code("nora", 3)) == (401, "invalid_credentials")
    # the fifth failure since the last logon locks: then a right code is refused too
    assert _logon(client, "nora", "") == (401, "account_locked")
    assert _logon(client, "nora", _code("nora", 1)) == (401, "account_locked")
    assert actions("nora") == (["user.create", "auth.mfa_provision"]
                               + ["auth.login_failed"] * 3 + ["auth.login", "auth.token_issue"]
                               + ["auth.login_failed"] * 5 + ["auth.locked_out",
                                                              "auth.login_failed"])


def test_the_public_logs_on_with_a_password_and_the_roles_are_a_setting(
        client: TestClient, make_user: Callable[..., int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bwc_custody.config import get_settings

    make_user("pat", Role.requester)
    assert "pat" not in MFA_KEYS
    assert _logon(client, "pat") == (200, "")
    make_user("ora", Role.officer, password=None)
    from bwc_custody.db import session_scope
    from bwc_custody.flows import auth as flows
    from tests.support.actors import LOCAL_OPERATOR

    with session_scope() as session:
        flows.reset_password(session=session, actor=LOCAL_OPERATOR, username="ora",
                             password=PASSWORD)
    assert _logon(client, "ora") == (403, "mfa_not_provisioned")
    monkeypatch.setenv("BWC_MFA_ROLES", "custodian")
    get_settings.cache_clear()
    assert _logon(client, "ora") == (200, "")
    get_settings.cache_clear()


def test_the_key_is_sealed_and_survives_a_kek_rotation(
        client: TestClient, make_user: Callable[..., int], migrated: str) -> None:
    from bwc_custody.cli import app
    from bwc_custody.db import get_engine

    make_user("quinn", Role.auditor)
    secret = MFA_KEYS["quinn"]
    with get_engine().connect() as conn:
        row = conn.execute(text("SELECT * FROM user_mfa")).one()
        kek_before = row.kek_id
    assert secret not in repr(tuple(row))
    assert secret.encode() not in repr(tuple(row)).encode()
    rotated = CliRunner().invoke(app, ["keys", "rotate"], catch_exceptions=False)
    assert rotated.exit_code == 0, rotated.stdout
    assert '"rewrapped_mfa_keys": 1' in rotated.stdout
    with get_engine().connect() as conn:
        assert conn.execute(text("SELECT kek_id FROM user_mfa")).scalar_one() != kek_before
    assert _logon(client, "quinn", _code("quinn")) == (200, "")


def test_a_new_key_ends_every_logon_and_the_old_key_stops_working(
        client: TestClient, make_user: Callable[..., int]) -> None:
    from bwc_custody.cli import app

    make_user("rae", Role.legal_reviewer)
    old = MFA_KEYS["rae"]
    pair = client.post("/api/v1/auth/token", data={
        "username": "rae", "password": PASSWORD, "otp": _code("rae")}).json()
    out = CliRunner().invoke(app, ["users", "mfa", "rae"], catch_exceptions=False)
    assert out.exit_code == 0
    MFA_KEYS["rae"] = new = __import__("json").loads(out.stdout)["mfa"]["secret"]
    assert new != old
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 401  # the phone was lost: its logons end with it
    assert _logon(client, "rae", pyotp.TOTP(old).now()) == (401, "invalid_credentials")
    assert _logon(client, "rae", _code("rae")) == (200, "")
    nobody = CliRunner().invoke(app, ["users", "mfa", "nobody"])
    assert nobody.exit_code == 2
    assert '"code": "not_found"' in nobody.stderr


def test_two_logons_racing_with_one_code_let_one_in(
        make_user: Callable[..., int], migrated: str) -> None:
    from bwc_custody.auth import mfa
    from bwc_custody.auth.models import UserMfa
    from bwc_custody.db import session_scope
    from bwc_custody.vault.service import get_keyring

    user_id = make_user("sam", Role.custodian)
    code = _code("sam")
    start = threading.Barrier(2)
    accepted: list[bool] = []

    def logon() -> None:
        with session_scope() as session:
            row = mfa.of_user(session=session, user_id=user_id)
            assert isinstance(row, UserMfa)
            start.wait()
            accepted.append(mfa.accept(session=session, keyring=get_keyring(), row=row,
                                       code=code))

    threads = [threading.Thread(target=logon) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(accepted) == [False, True]


def test_codes_are_taken_one_step_either_side_of_now(
        make_user: Callable[..., int], migrated: str) -> None:
    from bwc_custody.auth import mfa
    from bwc_custody.db import session_scope
    from bwc_custody.timeutil import utcnow
    from bwc_custody.vault.service import get_keyring

    user_id = make_user("tia", Role.custodian)
    totp = pyotp.TOTP(MFA_KEYS["tia"])
    now = utcnow().replace(second=15, microsecond=0)  # mid-step
    with session_scope() as session:
        row = mfa.of_user(session=session, user_id=user_id)
        assert row is not None
        assert row.confirmed_at is None
        judged = {offset: mfa.accept(session=session, keyring=get_keyring(), row=row,
                                     code=totp.at(now + timedelta(seconds=30 * offset)), now=now)
                  for offset in (-2, 2, -1, 0, 1)}
        assert row.confirmed_at is not None  # the first good code confirms the key
    assert judged == {-2: False, 2: False, -1: True, 0: True, 1: True}
