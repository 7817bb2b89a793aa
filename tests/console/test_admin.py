"""An administrator's day in the console: add people and docks, change roles, disable and
enable, reset a password, give a new authenticator key (a QR code drawn on the server, an
SVG that references nothing outside itself), issue and revoke API tokens. Each step is one
custody entry under the administrator's name; each bad form is refused with its code and
changes nothing."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html import unescape
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from bwc_custody.roles import Role
from tests.auth.conftest import MFA_KEYS, PASSWORD, make_user, one_time_code
from tests.console.conftest import Browser

__all__ = ["make_user"]
USERS = "/console/admin/users"


def _log() -> list[tuple[str, str, str, str]]:
    """The custody log: (actor, action, target, client address) of every entry."""
    from bwc_custody.custody.service import all_entries
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return [(e.actor, e.action, e.target_id, e.client_addr)
                for e in all_entries(session=session)]


def _accounts() -> dict[str, tuple[str, bool, str | None, int]]:
    """Every user: (roles, disabled, password hash, live API tokens)."""
    from bwc_custody.auth import service
    from bwc_custody.db import session_scope

    with session_scope() as session:
        tokens = service.live_api_tokens(session=session)
        return {u.username: (u.roles, u.disabled, u.password_hash, tokens.get(u.id or 0, 0))
                for u in service.list_users(session=session)}


def _keys() -> dict[str, tuple[str, Any]]:
    """Every user's sealed authenticator key (ciphertext, confirmed) by username."""
    from sqlmodel import select

    from bwc_custody.auth.models import User, UserMfa
    from bwc_custody.db import session_scope

    with session_scope() as session:
        return {u.username: (m.ciphertext, m.confirmed_at) for m, u in session.exec(
            select(UserMfa, User).where(UserMfa.user_id == User.id))}


def _state() -> tuple[Any, ...]:
    return (_log(), _accounts(), _keys())


def _shown(page: Any, css: str) -> list[str]:
    """The texts of the page's elements of class `css` (the secrets shown once)."""
    return [unescape(t) for t in re.findall(rf'class="{css} mono">([^<]+)<', page.text)]


@pytest.fixture
def admin(client: TestClient, make_user: Callable[..., int],
          browser: Callable[..., Browser]) -> Browser:
    """An administrator (ada) logged on to the console, with a custodian (cy) and a dock."""
    make_user("ada", Role.admin)
    make_user("cy", Role.custodian)
    make_user("dock-1", Role.dock, password=None)
    return browser("ada")


def test_an_administrator_logs_on_to_their_own_page(client: TestClient,
                                                    make_user: Callable[..., int]) -> None:
    make_user("ada", Role.admin)
    r = client.post("/console/login", data={"username": "ada", "password": PASSWORD,
                                            "otp": one_time_code("ada")},
                    follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, USERS)
    page = client.get(USERS)
    assert page.status_code == 200
    assert 'href="/console/admin/devices"' in page.text
    assert 'href="/console/admin/users">bwc-custody' in page.text  # home is not the queue
    # the console's own address, typed, leads to the same page (not a refusal page)
    typed = client.get("/console/", follow_redirects=False)
    assert (typed.status_code, typed.headers["location"]) == (303, USERS)


def test_adding_a_person_shows_password_and_key_once_and_they_log_on(
        admin: Browser, client: TestClient) -> None:
    before = _log()
    page: Any = admin.post(USERS, {"username": "lee", "display_name": "Lee Park",
                                   "roles": "legal_reviewer"})
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    (password,) = _shown(page, "secret")[:1]
    key = _shown(page, "secret")[1].replace(" ", "")
    assert len(password) >= 12
    assert "<svg" in page.text
    assert _log()[len(before):] == [("ada", "user.create", "lee", "testclient"),
                                    ("ada", "auth.mfa_provision", "lee", "testclient")]
    assert _accounts()["lee"][0] == "legal_reviewer"
    # the page is all they need: the password and a code from the key log them on
    client.cookies.clear()
    MFA_KEYS["lee"] = key
    r = client.post("/console/login", data={"username": "lee", "password": password,
                                            "otp": one_time_code("lee")},
                    follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/console/")
    # nothing secret is shown again
    again: Any = admin.get(f"{USERS}/lee")
    assert password not in again.text
    assert key[:8] not in again.text.replace(" ", "")
    assert "in use" in again.text  # the key was used at the logon


def test_the_qr_code_is_the_key_drawn_as_an_svg_that_fetches_nothing(admin: Browser) -> None:
    from bwc_custody.auth import mfa
    from bwc_custody.console.admin_pages import qr_svg

    page: Any = admin.post(f"{USERS}/cy/mfa", {"confirm": "yes"})
    assert page.status_code == 200
    key = _shown(page, "secret")[0].replace(" ", "")
    svg = re.search(r"<svg.*?</svg>", page.text, re.S)
    assert svg is not None
    # it encodes the key's otpauth URI, for this user
    assert svg.group(0) == str(qr_svg(mfa.uri(key, "cy"), "Authenticator key for cy"))
    tree = ET.fromstring(svg.group(0))
    assert {el.tag for el in tree.iter()} <= {"svg", "title", "g", "path"}
    for el in tree.iter():
        assert not {a for a in el.attrib if "href" in a or a in ("src", "style")}, el.attrib
    assert not re.search(r"https?:|url\(|//|<image|<use|<script|<foreignObject", svg.group(0))
    assert "<script" not in page.text.replace(
        '<script src="/console/static/', "")  # only the console's own files
    assert pyotp.TOTP(key).now().isdigit()


def test_each_action_is_one_entry_under_the_administrators_name(
        admin: Browser, client: TestClient) -> None:
    start = len(_log())
    r: Any = admin.post(f"{USERS}/cy/roles", {"roles": ["custodian", "auditor"]})
    assert (r.status_code, r.headers["location"]) == (303, f"{USERS}/cy?done=roles+changed")
    assert _accounts()["cy"][0] == "auditor,custodian"
    assert "The roles are changed" in admin.get(r.headers["location"]).text

    r = admin.post(f"{USERS}/cy/disable", {"reason": "left the district", "confirm": "yes"})
    assert (r.status_code, r.headers["location"]) == (303, f"{USERS}/cy?done=disabled")
    assert _accounts()["cy"][1] is True
    r = admin.post(f"{USERS}/cy/enable", {"reason": "came back"})
    assert (r.status_code, r.headers["location"]) == (303, f"{USERS}/cy?done=enabled")
    assert _accounts()["cy"][1] is False

    old_hash = _accounts()["cy"][2]
    page: Any = admin.post(f"{USERS}/cy/password", {"confirm": "yes"})
    assert page.status_code == 200
    new_password = _shown(page, "secret")[0]
    assert _accounts()["cy"][2] != old_hash
    r = client.post("/console/login", data={"username": "cy", "password": new_password,
                                            "otp": one_time_code("cy")},
                    follow_redirects=False)
    assert r.headers["location"] == "/console/"

    page = admin.post(f"{USERS}/dock-1/tokens", {"name": "after repair"})
    token = _shown(page, "secret")[0]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "dock-1"
    token_id = re.search(r"API token (\d+)", page.text)
    assert token_id is not None
    r = admin.post(f"{USERS}/dock-1/tokens/{token_id.group(1)}/revoke", {"confirm": "yes"})
    assert (r.status_code, r.headers["location"]) == (303, f"{USERS}/dock-1?done=token+revoked")
    assert client.get("/api/v1/auth/me",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 401

    # (cy's logon and the revoked token's refusal are cy's and the caller's own entries)
    assert [(actor, action, target) for actor, action, target, _ in _log()[start:]
            if actor == "ada"] == [("ada", "user.roles", "cy"), ("ada", "user.disable", "cy"),
                  ("ada", "user.enable", "cy"), ("ada", "user.password_reset", "cy"),
                  ("ada", "auth.token_issue", "dock-1"), ("ada", "auth.token_revoke", "dock-1")]


def test_a_dock_is_added_with_its_token_and_listed_as_a_device(
        admin: Browser, client: TestClient) -> None:
    page: Any = admin.post("/console/admin/devices", {
        "username": "dock-central-2", "display_name": "Central High, SRO office"})
    assert page.status_code == 200
    token = _shown(page, "secret")[0]
    assert token.startswith("bwc_")
    assert "BWC_DOCK_TOKEN" in page.text
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {"username": "dock-central-2", "roles": ["dock"]}
    devices: Any = admin.get("/console/admin/devices")
    assert "dock-central-2" in devices.text
    assert "Central High, SRO office" in devices.text
    assert "dock-central-2" not in admin.get(USERS).text  # people only
    assert [a for _, a, t, _ in _log() if t == "dock-central-2"] == [
        "user.create", "auth.token_issue"]
    account: Any = admin.get(f"{USERS}/dock-central-2")
    assert "Reset the password" not in account.text  # a dock has a token, not a password


BAD: list[tuple[str, str, dict[str, Any], str]] = [
    ("bad username", USERS, {"username": "two words", "roles": "custodian"}, "invalid_input"),
    ("no role", USERS, {"username": "new-1"}, "invalid_input"),
    ("unknown role", USERS, {"username": "new-1", "roles": "superuser"}, "invalid_input"),
    ("a dock as a person", USERS, {"username": "new-1", "roles": "dock"}, "invalid_input"),
    ("weak password", USERS, {"username": "new-1", "roles": "auditor", "password": "short"},
     "weak_password"),
    ("taken username", USERS, {"username": "cy", "roles": "auditor"}, "conflict"),
    ("long name", USERS, {"username": "new-1", "roles": "auditor", "display_name": "x" * 201},
     "invalid_input"),
    ("bad device name", "/console/admin/devices", {"username": "dock 9"}, "invalid_input"),
    ("taken device name", "/console/admin/devices", {"username": "dock-1"}, "conflict"),
    ("no roles left", f"{USERS}/cy/roles", {}, "invalid_input"),
    ("unknown role", f"{USERS}/cy/roles", {"roles": ["custodian", "root"]}, "invalid_input"),
    ("own admin role", f"{USERS}/ada/roles", {"roles": "auditor"}, "own_account"),
    ("unknown user", f"{USERS}/nobody/roles", {"roles": "auditor"}, "not_found"),
    ("disable unconfirmed", f"{USERS}/cy/disable", {"reason": "left"},
     "confirmation_required"),
    ("disable without reason", f"{USERS}/cy/disable", {"confirm": "yes"}, "invalid_input"),
    ("disable myself", f"{USERS}/ada/disable", {"reason": "testing", "confirm": "yes"},
     "own_account"),
    ("enable without reason", f"{USERS}/cy/enable", {}, "invalid_input"),
    ("reset unconfirmed", f"{USERS}/cy/password", {}, "confirmation_required"),
    ("weak new password", f"{USERS}/cy/password", {"password": "short", "confirm": "yes"},
     "weak_password"),
    ("a dock's password", f"{USERS}/dock-1/password", {"confirm": "yes"}, "invalid_input"),
    ("key unconfirmed", f"{USERS}/cy/mfa", {}, "confirmation_required"),
    ("a dock's key", f"{USERS}/dock-1/mfa", {"confirm": "yes"}, "invalid_input"),
    ("unnamed token", f"{USERS}/dock-1/tokens", {"name": " "}, "invalid_input"),
    ("token of nobody", f"{USERS}/nobody/tokens", {"name": "x1"}, "not_found"),
    ("revoke unconfirmed", f"{USERS}/dock-1/tokens/1/revoke", {}, "confirmation_required"),
    ("someone else's token", f"{USERS}/cy/tokens/{{dock_token}}/revoke", {"confirm": "yes"},
     "not_found"),
]


@pytest.mark.parametrize(("why", "url", "form", "code"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_form_is_refused_with_its_code_and_changes_nothing(
        admin: Browser, make_token: Callable[..., str], why: str, url: str,
        form: dict[str, Any], code: str) -> None:
    make_token(Role.dock, username="dock-2")
    dock_token = max(t.id for t in _tokens("dock-2"))
    before = _state()
    r: Any = admin.post(url.format(dock_token=dock_token), form)
    assert r.status_code in (403, 404, 409, 422), (why, r.status_code)
    assert f'<span class="mono">{code}</span>' in r.text, (why, r.text[-800:])
    assert "nothing was changed" in r.text
    assert _state() == before, why


def _tokens(username: str) -> list[Any]:
    from bwc_custody.auth import service
    from bwc_custody.db import session_scope

    with session_scope() as session:
        user = service.get_user_by_username_or_raise(session=session, username=username)
        return service.list_tokens(session=session, user=user)


def test_the_lists_say_what_state_each_account_is_in(admin: Browser) -> None:
    admin.post(f"{USERS}/cy/disable", {"reason": "on leave", "confirm": "yes"})
    people: Any = admin.get(USERS)
    row = re.search(r'href="/console/admin/users/cy".*?</tr>', people.text, re.S)
    assert row is not None
    assert "disabled" in row.group(0)
    assert ">records custodian</span>" in row.group(0)  # the role's name, not its identifier
    assert "ada (administrator)" in people.text  # who is logged on, in the page's header
    ada = re.search(r'href="/console/admin/users/ada".*?</tr>', people.text, re.S)
    assert ada is not None
    assert "set up, not used yet" in ada.group(0)  # make_user's key, no logon with it yet
    mine: Any = admin.get(f"{USERS}/ada")
    assert "your own account" in mine.text


def test_the_account_page_ticks_the_accounts_roles_not_the_viewers(admin: Browser) -> None:
    page: Any = admin.get(f"{USERS}/cy")
    ticked = re.findall(r'name="roles" value="(\w+)" checked', page.text)
    assert ticked == ["custodian"]  # a save without changes keeps cy a custodian
