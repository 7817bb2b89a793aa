"""The console's door: every page declares its roles and answers every role and every bad
session exactly as declared; forms need this logon's CSRF token and this site's origin; the
logon cookie is HttpOnly and SameSite=Strict, renewed while used, gone when idle."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import col

from bwc_custody.roles import Role
from tests.auth.conftest import PASSWORD, make_user, one_time_code
from tests.console.conftest import Browser

__all__ = ["make_user"]
STAFF = frozenset({"custodian", "legal_reviewer", "auditor"})
CUSTODIAN = frozenset({"custodian"})
REVIEWER = frozenset({"legal_reviewer"})
HOLDERS = frozenset({"custodian", "legal_reviewer"})
ANYONE = frozenset(r.value for r in Role)
PUBLIC = frozenset({"public"})
AUDITOR = frozenset({"auditor"})
ADMIN = frozenset({"admin"})

CONSOLE: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/console/login"): PUBLIC,
    ("POST", "/console/login"): PUBLIC,
    ("GET", "/console/static/{path}"): PUBLIC,
    ("POST", "/console/logout"): ANYONE,
    ("GET", "/console/"): STAFF,
    ("POST", "/console/requests"): CUSTODIAN,
    ("GET", "/console/requests/{request_id}"): STAFF,
    ("POST", "/console/requests/{request_id}/link"): CUSTODIAN,
    ("POST", "/console/requests/{request_id}/recordings/{item_id}/submit"): CUSTODIAN,
    ("POST", "/console/requests/{request_id}/recordings/{item_id}/deny"): CUSTODIAN,
    ("POST", "/console/requests/{request_id}/recordings/{item_id}/approve"): REVIEWER,
    ("POST", "/console/requests/{request_id}/recordings/{item_id}/coverage"): REVIEWER,
    ("POST", "/console/requests/{request_id}/recordings/{item_id}/return"): REVIEWER,
    ("POST", "/console/requests/{request_id}/recordings/{item_id}/release"): CUSTODIAN,
    ("POST", "/console/requests/{request_id}/recordings/{item_id}/close"): CUSTODIAN,
    ("POST", "/console/requests/{request_id}/relationship"): CUSTODIAN,
    ("POST", "/console/requests/{request_id}/facts"): CUSTODIAN,
    ("POST", "/console/requests/{request_id}/appeals"): HOLDERS,
    ("POST", "/console/requests/{request_id}/appeals/{appeal_id}/decision"): HOLDERS,
    ("POST", "/console/requests/{request_id}/close"): CUSTODIAN,
    ("GET", "/console/derivatives/{derivative_id}/video"): HOLDERS,
    ("GET", "/console/evidence/{evidence_id}"): STAFF,
    ("GET", "/console/evidence/{evidence_id}/original"): HOLDERS,
    ("POST", "/console/evidence/{evidence_id}/redactions"): CUSTODIAN,
    ("POST", "/console/evidence/{evidence_id}/analysis"): CUSTODIAN,
    ("POST", "/console/evidence/{evidence_id}/speech"): CUSTODIAN,
    ("POST", "/console/evidence/{evidence_id}/holds"): HOLDERS,
    ("POST", "/console/evidence/{evidence_id}/holds/{hold_id}/lift"): HOLDERS,
    ("POST", "/console/evidence/{evidence_id}/case-closed"): HOLDERS,
    ("POST", "/console/evidence/{evidence_id}/dispose"): CUSTODIAN,
    ("GET", "/console/retention"): STAFF,
    ("GET", "/console/evidence"): STAFF,
    ("GET", "/console/evidence/{evidence_id}/jobs"): STAFF,
    ("POST", "/console/evidence/{evidence_id}/tags"): CUSTODIAN,
    ("POST", "/console/evidence/{evidence_id}/tags/remove"): CUSTODIAN,
    ("POST", "/console/evidence/{evidence_id}/facts"): CUSTODIAN,
    ("POST", "/console/evidence/{evidence_id}/derivatives/{derivative_id}/label"): CUSTODIAN,
    ("GET", "/console/notifications"): CUSTODIAN,
    ("POST", "/console/notifications/{notification_id}/done"): CUSTODIAN,
    ("GET", "/console/custody"): AUDITOR,
    ("POST", "/console/custody/verify"): AUDITOR,
    ("GET", "/console/custody/verifications/{job_id}"): AUDITOR,
    ("GET", "/console/admin/users"): ADMIN,
    ("GET", "/console/admin/devices"): ADMIN,
    ("GET", "/console/admin/users/{username}"): ADMIN,
    ("POST", "/console/admin/users"): ADMIN,
    ("POST", "/console/admin/devices"): ADMIN,
    ("POST", "/console/admin/users/{username}/roles"): ADMIN,
    ("POST", "/console/admin/users/{username}/disable"): ADMIN,
    ("POST", "/console/admin/users/{username}/enable"): ADMIN,
    ("POST", "/console/admin/users/{username}/password"): ADMIN,
    ("POST", "/console/admin/users/{username}/mfa"): ADMIN,
    ("POST", "/console/admin/users/{username}/tokens"): ADMIN,
    ("POST", "/console/admin/users/{username}/tokens/{token_id}/revoke"): ADMIN,
    ("GET", "/console/evidence/{evidence_id}/studio"): CUSTODIAN,
    ("GET", "/console/evidence/{evidence_id}/studio/timeline"): CUSTODIAN,
    ("GET", "/console/evidence/{evidence_id}/studio/original"): CUSTODIAN,
    ("GET", "/console/evidence/{evidence_id}/studio/copies/{copy_id}"): CUSTODIAN,
    ("GET", "/console/evidence/{evidence_id}/studio/boxes"): CUSTODIAN,
    ("POST", "/console/evidence/{evidence_id}/studio/follow"): CUSTODIAN,
    ("POST", "/console/evidence/{evidence_id}/studio/count"): CUSTODIAN,
    ("POST", "/console/evidence/{evidence_id}/studio/render"): CUSTODIAN,
}


_NUMBERED = ("hold_id", "notification_id", "token_id")


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1) in _NUMBERED
                  else "00000000-0000-4000-8000-000000000000", path) + (
        "?request_id=x" if path.endswith("/video") else
        "?reason=why" if path.endswith("/original") else
        "?copy=x" if path.endswith("/boxes") else "")


def _pages(client: TestClient) -> dict[tuple[str, str], list[frozenset[str]]]:
    from bwc_custody.deps import declared_rules

    return {op: rules for op, rules in declared_rules(client.app).items()  # type: ignore[arg-type]
            if not op[1].startswith("/api/") and op[0] != "HEAD"}


def test_every_console_page_declares_exactly_the_expected_rule(client: TestClient) -> None:
    declared = _pages(client)
    assert set(declared) == set(CONSOLE), sorted(set(declared) ^ set(CONSOLE))
    for op, rules in declared.items():
        assert rules == [CONSOLE[op]], f"{op} declares {rules}"


def test_every_role_and_bad_session_gets_exactly_its_answer(
        client: TestClient, make_token: Callable[..., str],
        browser: Callable[..., Browser]) -> None:
    sessions: dict[str, tuple[Browser, frozenset[str]]] = {}
    for role in Role:
        make_token(role, username=f"c-{role.value}")
        sessions[role.value] = (browser(f"c-{role.value}"), frozenset({role.value}))
    bad = {
        "no cookie": Browser(client, "", ""),
        "garbage": Browser(client, "not-a-token", ""),
        "expired": browser("c-custodian", age=timedelta(hours=1)),
        "an API token": Browser(client, make_token(Role.custodian), ""),
    }
    wrong: list[str] = []
    # logout last: it ends the logon on the server, and every page after it would say so
    for (method, path), rule in sorted(
            CONSOLE.items(), key=lambda item: (item[0][1] == "/console/logout", item[0])):
        if rule == PUBLIC:
            continue
        for name, (b, roles) in sessions.items():
            r: Any = b.get(_url(path)) if method == "GET" else b.post(_url(path))
            to_logon = r.status_code == 303 and r.headers["location"] == "/console/login"
            # the one refusal that is a redirect: an administrator at the queue's address is
            # sent to their own first page
            to_home = (method, path, name) == ("GET", "/console/", "admin") and (
                r.status_code, r.headers.get("location")) == (303, "/console/admin/users")
            ok = (r.status_code not in (401, 403) and r.status_code < 500 and not to_logon
                  if roles & rule else r.status_code == 403 or to_home)
            if not ok:
                wrong.append(f"{method} {path} as {name}: {r.status_code}")
        for name, b in bad.items():
            r = b.get(_url(path)) if method == "GET" else b.post(_url(path))
            if (r.status_code, r.headers.get("location")) != (303, "/console/login"):
                wrong.append(f"{method} {path} with {name}: {r.status_code}")
    assert not wrong, "\n".join(wrong)


def test_forms_need_this_logons_token_from_this_site(
        client: TestClient, make_token: Callable[..., str], browser: Callable[..., Browser],
        ingest_clip: Callable[..., str]) -> None:
    make_token(Role.custodian, username="cust-1")
    me = browser("cust-1")
    evidence_id = ingest_clip()
    url = f"/console/evidence/{evidence_id}/holds"
    hold = {"kind": "investigation", "reason": "open criminal investigation"}
    for name, r in {
        "no token": me.post(url, hold, csrf=False),
        "another logon's token": browser("cust-1", logon="another").post(url, {
            **hold, "csrf": me.csrf}, csrf=False),
        "another site": me.post(url, hold, headers={"Origin": "https://evil.example"}),
    }.items():
        assert r.status_code == 403, name
        assert "csrf_failed" in r.text, name
    page: Any = me.get(f"/console/evidence/{evidence_id}")
    assert "Kept because" in page.text
    assert "Custody history" not in page.text  # the log is the auditor's to read
    assert "open criminal investigation" not in page.text  # no hold was placed
    r = me.post(url, hold, headers={"Origin": "http://testserver"})
    assert (r.status_code, r.headers["location"]) == (
        303, f"/console/evidence/{evidence_id}?done=held")
    assert "open criminal investigation" in me.get(f"/console/evidence/{evidence_id}").text


def test_logon_cookie_renewal_and_logout(client: TestClient,
                                         make_user: Callable[..., int],
                                         browser: Callable[..., Browser]) -> None:
    from sqlmodel import select

    from bwc_custody.auth.models import ApiToken
    from bwc_custody.db import session_scope

    make_user("counsel-1", Role.legal_reviewer)
    r = client.post("/console/login", data={"username": "counsel-1", "password": "wrong"})
    assert r.status_code == 401
    assert "wrong username, password or one-time code" in r.text
    r = client.post("/console/login", data={"username": "counsel-1", "password": PASSWORD,
                                            "otp": one_time_code("counsel-1")},
                    follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/console/")
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/console" in cookie
    with session_scope() as session:  # the console keeps no refresh token anywhere
        assert session.exec(select(ApiToken).where(ApiToken.kind == "refresh")).all() == []
    page = client.get("/console/")
    assert page.status_code == 200
    assert "counsel-1" in page.text
    assert page.headers["cache-control"] == "no-store"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "unsafe" not in csp
    assert "<script>" not in page.text
    assert " on" + "click=" not in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    elsewhere = client.post("/console/login", headers={"Origin": "https://evil.example"},
                            data={"username": "counsel-1", "password": PASSWORD})
    assert elsewhere.status_code == 403
    assert "csrf_failed" in elsewhere.text

    fresh = browser("counsel-1").get("/console/")
    assert "set-cookie" not in fresh.headers
    old = browser("counsel-1", age=timedelta(minutes=6)).get("/console/")
    renewed = old.headers["set-cookie"]
    assert renewed.startswith("bwc_console=")
    assert "HttpOnly" in renewed
    idle = browser("counsel-1", age=timedelta(minutes=16)).get("/console/")
    assert (idle.status_code, idle.headers["location"]) == (
        303, "/console/login")

    said: Any = browser("counsel-1").get("/console/?done=call+555-0100+to+unlock")
    assert "555-0100" not in said.text  # a crafted link puts no words on the page
    assert "The hold is placed." in browser("counsel-1").get(
        "/console/?done=held").text
    out = browser("counsel-1").post("/console/logout")
    assert out.status_code == 303
    assert 'bwc_console=""' in out.headers["set-cookie"]


def test_text_from_requesters_is_shown_as_text(
        client: TestClient, make_token: Callable[..., str],
        browser: Callable[..., Browser]) -> None:
    token = make_token(Role.requester)
    r = client.post("/api/v1/requests", headers={"Authorization": f"Bearer {token}"}, json={
        "description": "<script>alert('x')</script> the hallway video",
        "requester_name": "<b>R. Doe</b>", "requester_type": "public", "form": "copy"})
    assert r.status_code == 201, r.text
    make_token(Role.auditor, username="aud-1")
    me = browser("aud-1")
    for url in ("/console/", f"/console/requests/{r.json()['id']}"):
        page: Any = me.get(url)
        assert page.status_code == 200
        assert "<script>alert" not in page.text
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
        assert "&lt;b&gt;R. Doe&lt;/b&gt;" in page.text
    # an auditor reads, but is offered no action; they alone see the custody log
    request_page: Any = me.get(f"/console/requests/{r.json()['id']}")
    assert "<form class=\"action\"" not in request_page.text
    assert "Custody history" in request_page.text
    assert "request.create" in request_page.text
    log: Any = me.get("/console/custody")
    assert f'href="/console/requests/{r.json()["id"]}"' in log.text
    assert "request.create" in log.text


def test_a_logon_ends_on_the_server_at_logout_disable_reset_and_after_its_hours(
        client: TestClient, make_user: Callable[..., int],
        browser: Callable[..., Browser]) -> None:
    from sqlmodel import select

    from bwc_custody.auth.models import ApiToken
    from bwc_custody.custody.models import CustodyEntry
    from bwc_custody.db import session_scope
    from bwc_custody.flows import auth as flows
    from tests.support.actors import LOCAL_OPERATOR

    def to_logon(b: Browser) -> bool:
        r = b.get("/console/")
        return (r.status_code, r.headers.get("location")) == (303, "/console/login")

    make_user("cust-9", Role.custodian)
    r = client.post("/console/login", data={"username": "cust-9", "password": PASSWORD,
                                            "otp": one_time_code("cust-9")},
                    follow_redirects=False)
    token = r.cookies["bwc_console"]
    copied = Browser(client, token, "")  # the same cookie, taken elsewhere
    assert not to_logon(copied)
    client.cookies.set("bwc_console", token)
    out = client.post("/console/logout", data={"csrf": _csrf_of(client)},
                      follow_redirects=False)
    assert out.status_code == 303
    assert to_logon(copied)  # its token has not expired, but its logon has ended
    with session_scope() as session:
        entry = session.exec(select(CustodyEntry).where(
            CustodyEntry.action == "auth.logout")).one()
        assert (entry.actor, entry.target_id) == ("cust-9", "cust-9")

    # an administrator disabling the user, or resetting the password, ends every logon
    for end in ("disable", "reset"):
        mine, other = browser("cust-9", logon=f"{end}-1"), browser("cust-9", logon=f"{end}-2")
        assert not to_logon(mine)
        assert not to_logon(other)
        with session_scope() as session:
            if end == "disable":
                flows.set_disabled(session=session, actor=LOCAL_OPERATOR, username="cust-9",
                                   disabled=True, reason="left the agency")
            else:
                flows.reset_password(session=session, actor=LOCAL_OPERATOR,
                                     username="cust-9")
        if end == "disable":
            with session_scope() as session:
                flows.set_disabled(session=session, actor=LOCAL_OPERATOR, username="cust-9",
                                   disabled=False, reason="back")
        assert to_logon(mine)
        assert to_logon(other)

    # a logon kept busy still ends after console_session_hours
    busy = browser("cust-9", logon="all-day")
    assert not to_logon(busy)
    with session_scope() as session:
        row = session.exec(select(ApiToken).where(
            ApiToken.kind == "console", col(ApiToken.revoked_at).is_(None))).one()
        assert row.expires_at is not None
        row.expires_at = row.expires_at - timedelta(hours=12)
        session.add(row)
    assert to_logon(busy)


def _csrf_of(client: TestClient) -> str:
    """The CSRF token the console's pages put in their forms, as a browser would read it."""
    page = client.get("/console/")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def test_static_serves_only_the_consoles_own_files(client: TestClient) -> None:
    css = client.get("/console/static/console.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    js = client.get("/console/static/vendor/htmx-2.0.11.min.js")
    assert js.status_code == 200
    assert "htmx" in js.text
    for path in ("../templates/base.html", "..%2Fsession.py", "vendor/VENDORED.md",
                 "%2e%2e/%2e%2e/config.py", "nothing.css"):
        r = client.get(f"/console/static/{path}")
        assert r.status_code == 404, path
        assert not any(leak in r.text for leak in ("{%", "import", "sha256")), path


def test_a_console_cookie_used_as_an_api_token_ends_with_its_logon(
        client: TestClient, make_user: Callable[..., int],
        browser: Callable[..., Browser]) -> None:
    """#22 finding 8: the API checked the cookie's signature and user, not that its console
    logon was still live, so a copied cookie read the API (and streamed originals) after
    logout and after a password reset. One check now serves both."""
    from bwc_custody.db import session_scope
    from bwc_custody.flows import auth as flows
    from tests.support.actors import LOCAL_OPERATOR

    def api(token: str) -> int:
        return client.get("/api/v1/auth/me",
                          headers={"Authorization": f"Bearer {token}"}).status_code

    make_user("cust-8", Role.custodian)
    at_logout = browser("cust-8", logon="to-log-out")
    assert api(at_logout.token) == 200
    out = at_logout.post("/console/logout")
    assert (out.status_code, out.headers["location"]) == (303, "/console/login?done=logged+out")
    assert api(at_logout.token) == 401

    at_reset = browser("cust-8", logon="to-reset")
    assert api(at_reset.token) == 200
    with session_scope() as session:
        flows.reset_password(session=session, actor=LOCAL_OPERATOR, username="cust-8")
    assert api(at_reset.token) == 401
    assert at_reset.get("/console/").status_code == 303

    # an API logon's access token cannot open the console
    with session_scope() as session:
        flows.reset_password(session=session, actor=LOCAL_OPERATOR, username="cust-8",
                             password=PASSWORD)
    pair = client.post("/api/v1/auth/token", data={
        "username": "cust-8", "password": PASSWORD, "otp": one_time_code("cust-8")}).json()
    assert api(pair["access_token"]) == 200
    assert Browser(client, pair["access_token"], "").get("/console/").status_code == 303
