"""Logon, lock-out, refresh rotation, disabling, and the custody record of each."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import text

from bwc_custody.roles import Role
from tests.auth.conftest import MFA_KEYS, PASSWORD, one_time_code


def _login(client: TestClient, username: str, password: str = PASSWORD,  # type: ignore[no-untyped-def]
           otp: str | None = None):
    """A password logon; `otp` None: a fresh code of the user's key, if they have one."""
    if otp is None:
        otp = one_time_code(username) if username in MFA_KEYS else ""
    return client.post("/api/v1/auth/token", data={"username": username, "password": password,
                                                   "grant_type": "password", "otp": otp})


def _me(client: TestClient, token: str) -> int:
    return client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_password_logon_issues_working_tokens_and_is_logged(
    client: TestClient, make_user: Callable[..., int], actions: Callable[..., list[str]],
    migrated: str,
) -> None:
    make_user("carla", Role.custodian, Role.auditor)
    r = _login(client, "carla")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"username": "carla", "roles": ["auditor", "custodian"]}
    assert actions("carla") == ["user.create", "auth.mfa_provision", "auth.login",
                                "auth.token_issue"]
    from bwc_custody.db import make_engine

    engine = make_engine(migrated)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM \"user\" WHERE username='carla'"))
        assert stored.scalar_one().startswith("$argon2id$")
    engine.dispose()


def test_lockout_after_five_failures_survives_the_right_password_until_reset(
    client: TestClient, make_user: Callable[..., int], actions: Callable[..., list[str]],
    migrated: str,
) -> None:
    make_user("dave", Role.legal_reviewer)
    for _ in range(4):
        r = _login(client, "dave", "wrong password!!", otp="")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_credentials"
    r = _login(client, "dave", "wrong password!!", otp="")
    assert r.json()["error"]["code"] == "account_locked"
    r = _login(client, "dave")  # the right password and code, during the lock
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "account_locked"
    assert actions("dave") == ["user.create", "auth.mfa_provision"] + ["auth.login_failed"] * 5 + [
        "auth.locked_out", "auth.login_failed"]
    # The lock lasts at least 10 minutes: move it into the past rather than wait.
    from bwc_custody.db import make_engine

    engine = make_engine(migrated)
    with engine.begin() as conn:
        until = conn.execute(text("SELECT locked_until FROM \"user\" WHERE username='dave'"))
        assert until.scalar_one() is not None
        conn.execute(text("UPDATE \"user\" SET locked_until = '2000-01-01 00:00:00+00:00' "
                          "WHERE username='dave'"))
    engine.dispose()
    assert _login(client, "dave").status_code == 200


def test_unknown_user_and_disabled_user_fail_alike(
    client: TestClient, make_user: Callable[..., int], disable: Callable[[str], None],
    actions: Callable[..., list[str]],
) -> None:
    make_user("erin", Role.requester)
    disable("erin")
    for name in ("erin", "nobody"):
        r = _login(client, name)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_credentials"
    assert actions("nobody") == ["auth.login_failed"]


def test_refresh_rotates_and_reuse_ends_the_logon(
    client: TestClient, make_user: Callable[..., int], actions: Callable[..., list[str]],
) -> None:
    make_user("fay", Role.auditor)
    first = _login(client, "fay").json()
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    new = second.json()
    assert _me(client, new["access_token"]) == 200
    # The spent token comes back (stolen copy): refused, and the live one dies with it.
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "invalid_refresh_token"
    live = client.post("/api/v1/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert live.status_code == 401
    assert "auth.refresh_failed" in actions("fay")
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": "bwr_x"}).status_code == 401
    # A refresh token is not a bearer credential.
    assert _me(client, new["refresh_token"]) == 401


def test_logout_spends_the_refresh_token_and_is_logged(
    client: TestClient, make_user: Callable[..., int], actions: Callable[..., list[str]],
) -> None:
    make_user("lou", Role.requester)
    pair = _login(client, "lou").json()
    r = client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 204
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401
    # a spent or unknown token is answered alike, and logs nothing more
    for token in (pair["refresh_token"], "bwr_unknown"):
        assert client.post("/api/v1/auth/logout",
                           json={"refresh_token": token}).status_code == 204
    assert actions("lou").count("auth.logout") == 1


def test_disabling_stops_jwt_api_token_and_refresh_at_once(
    client: TestClient, make_user: Callable[..., int], disable: Callable[[str], None],
) -> None:
    make_user("gus", Role.custodian)
    pair = _login(client, "gus").json()
    assert _me(client, pair["access_token"]) == 200
    disable("gus")
    assert _me(client, pair["access_token"]) == 401
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401


def test_expired_and_foreign_tokens(client: TestClient, make_user: Callable[..., int],
                                    make_jwt: Callable[..., str]) -> None:
    uid = make_user("hal", Role.auditor)
    expired = make_jwt(uid, expired=True)
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "token_expired"
    assert _me(client, make_jwt(uid, foreign=True)) == 401
    assert _me(client, make_jwt(uid)) == 200


def test_refused_requests_are_logged_with_caller_and_route(
    client: TestClient, make_token: Callable[..., str], make_user: Callable[..., int],
    migrated: str,
) -> None:
    from bwc_custody.custody import service as custody
    from bwc_custody.db import session_scope

    token = make_token(Role.officer, username="ivan")
    assert client.get("/api/v1/custody/entries",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 403
    assert client.get("/api/v1/users").status_code == 401
    with session_scope() as session:
        denied = [e for e in custody.all_entries(session=session) if e.action == "access.denied"]
    assert [(e.actor, e.role, e.target_id, e.details["status"]) for e in denied] == [
        ("ivan", "officer", "GET /api/v1/custody/entries", 403),
        ("anonymous", "", "GET /api/v1/users", 401),
    ]
    assert all(e.client_addr == "testclient" for e in denied)


def test_admin_api_manages_users_and_tokens(
    client: TestClient, make_token: Callable[..., str], actions: Callable[..., list[str]],
) -> None:
    admin = {"Authorization": f"Bearer {make_token(Role.admin, username='root')}"}
    r = client.post("/api/v1/users", headers=admin, json={
        "username": "dock-7", "roles": ["dock"]})
    assert r.status_code == 201
    assert r.json()["has_password"] is False
    r = client.post("/api/v1/users", headers=admin, json={
        "username": "kim", "roles": ["custodian"], "password": "short"})
    assert r.json()["error"]["code"] == "weak_password"
    issued = client.post("/api/v1/users/dock-7/tokens", headers=admin, json={"name": "bay 1"})
    assert issued.status_code == 201
    dock = {"Authorization": f"Bearer {issued.json()['token']}"}
    assert client.get("/api/v1/auth/me", headers=dock).json()["roles"] == ["dock"]
    r = client.put("/api/v1/users/dock-7/roles", headers=admin, json={"roles": ["officer"]})
    assert r.json()["roles"] == ["officer"]
    tid = issued.json()["id"]
    assert client.delete(f"/api/v1/users/dock-7/tokens/{tid}", headers=admin).status_code == 200
    assert client.get("/api/v1/auth/me", headers=dock).status_code == 401
    reset = client.post("/api/v1/users/dock-7/reset", headers=admin, json={})
    password = reset.json()["password"]
    assert len(password) >= 12
    # an officer now, so the password alone is not enough: a key must be provisioned first
    r = _login(client, "dock-7", password, otp="")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "mfa_not_provisioned")
    assert client.get("/api/v1/users", headers=admin).json()[0]["has_mfa"] is False
    key = client.post("/api/v1/users/dock-7/mfa", headers=admin)
    assert key.status_code == 201
    MFA_KEYS["dock-7"] = key.json()["secret"]
    assert key.json()["otpauth_uri"].startswith("otpauth://totp/bwc-custody:dock-7?secret=")
    assert _login(client, "dock-7", password).status_code == 200
    listed = {u["username"]: u for u in client.get("/api/v1/users", headers=admin).json()}
    assert (listed["dock-7"]["has_mfa"], listed["dock-7"]["mfa_required"]) == (True, True)
    assert actions("dock-7") == ["user.create", "auth.token_issue", "user.roles",
                                 "auth.token_revoke", "user.password_reset", "auth.login_failed",
                                 "auth.mfa_provision", "auth.login", "auth.token_issue"]


def test_parallel_failures_are_all_counted(make_user: Callable[..., int], migrated: str) -> None:
    import threading

    from bwc_custody.auth import service
    from bwc_custody.auth.models import User
    from bwc_custody.db import session_scope

    user_id = make_user("fran", Role.custodian)
    start = threading.Barrier(4)
    results: list[object] = []

    def fail_once() -> None:
        start.wait()
        with session_scope() as session:
            results.append(service.count_failure(session=session, user_id=user_id))

    threads = [threading.Thread(target=fail_once) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [None] * 4
    with session_scope() as session:
        user = session.get(User, user_id)
        assert user is not None
        assert user.failed_logins == 4  # none lost to a read-then-write race
        assert service.count_failure(session=session, user_id=user_id) is not None
    with session_scope() as session:
        user = session.get(User, user_id)
        assert user is not None
        assert service.is_locked(user)


def test_an_api_logout_or_password_reset_ends_the_access_token_too(
    client: TestClient, make_user: Callable[..., int],
) -> None:
    from bwc_custody.auth.service import LOCAL_OPERATOR
    from bwc_custody.db import session_scope
    from bwc_custody.flows import auth as flows

    make_user("ned", Role.requester)
    pair = _login(client, "ned").json()
    kept = _login(client, "ned").json()  # another logon of the same user
    assert client.post("/api/v1/auth/logout",
                       json={"refresh_token": pair["refresh_token"]}).status_code == 204
    assert (_me(client, pair["access_token"]), _me(client, kept["access_token"])) == (401, 200)
    with session_scope() as session:
        flows.reset_password(session=session, actor=LOCAL_OPERATOR, username="ned")
    assert _me(client, kept["access_token"]) == 401


def _refresh_at_once(token: str, times: int) -> list[object]:
    """Refresh with `token` on `times` threads started together, each with its own database
    session; returns each one's TokenPair or InvalidRefreshToken."""
    import threading

    from bwc_custody.auth.errors import InvalidRefreshToken
    from bwc_custody.db import session_scope
    from bwc_custody.flows import auth as flows

    start = threading.Barrier(times)
    results: list[object] = []

    def use() -> None:
        start.wait()
        try:
            with session_scope() as session:
                results.append(flows.refresh(session=session, refresh_token=token))
        except InvalidRefreshToken as exc:
            results.append(exc)

    threads = [threading.Thread(target=use) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_parallel_refreshes_of_one_token_one_wins_and_its_logon_ends(
    client: TestClient, make_user: Callable[..., int], actions: Callable[..., list[str]],
) -> None:
    """#22 finding 9: six parallel refreshes of one token let more than one win in 9 of 10
    trials (all six in 2). Exactly one may: the others are uses of a spent token, which ends
    the logon (every token of it), not the user's other logons."""
    from bwc_custody.auth.models import TokenPair

    make_user("rex", Role.requester)  # no one-time code: as many logons as the trials need
    other = _login(client, "rex").json()
    for _trial in range(5):
        pair = _login(client, "rex").json()
        results = _refresh_at_once(pair["refresh_token"], 6)
        won = [r for r in results if isinstance(r, TokenPair)]
        assert (len(results), len(won)) == (6, 1), results
        # the spent token came back: the logon ended, its newest tokens with it
        assert _me(client, won[0].access_token) == 401
        assert _me(client, pair["access_token"]) == 401
        assert client.post("/api/v1/auth/refresh", json={
            "refresh_token": won[0].refresh_token}).status_code == 401
    # the user's other logon goes on
    assert _me(client, other["access_token"]) == 200
    renewed = client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert renewed.status_code == 200
    assert actions("rex").count("auth.refresh_failed") >= 5 * 5
