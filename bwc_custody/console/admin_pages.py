"""Console pages for administrators: the people who use the system and the dock devices that
upload to it. List them; add one; change roles; disable and enable; reset a password; give a
new one-time-code key (shown as a QR code drawn here, as inline SVG: nothing is fetched from
anywhere); issue and revoke API tokens. Each form calls the same flow as the API and
`bwc users`, so every step lands in the custody log. A secret (a password, a one-time-code
key, a token) is shown once, on the page that answers the form, and is kept nowhere to be
shown again."""

from __future__ import annotations

from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlmodel import Session

from bwc_custody.auth import mfa
from bwc_custody.auth import service as users
from bwc_custody.auth.models import User
from bwc_custody.console.render import (
    Admin,
    AdminForm,
    Short,
    Text,
    back,
    confirmed,
    page,
)
from bwc_custody.console.session import ConsoleUser
from bwc_custody.deps import RowId, SessionDep, client_addr
from bwc_custody.errors import InvalidInput
from bwc_custody.flows import auth as flows
from bwc_custody.roles import ROLE_DUTIES, Role

router = APIRouter(prefix="/admin")

# What each role lets its holder do, in the words an administrator chooses by.
PEOPLE_ROLES = [r for r in ROLE_DUTIES if r != "dock"]
Roles = Annotated[list[str], Form(max_length=len(ROLE_DUTIES))]


def _roles(given: list[str]) -> list[Role]:
    """The roles ticked on a form: at least one, each one of ours."""
    unknown = sorted(set(given) - set(ROLE_DUTIES))
    if unknown:
        raise InvalidInput(f"no such role: {', '.join(unknown)}", field="roles",
                           known=sorted(ROLE_DUTIES))
    if not given:
        raise InvalidInput("tick at least one role", field="roles")
    return [Role(r) for r in dict.fromkeys(given)]


def qr_svg(uri: str, label: str) -> Markup:
    """`uri` as a QR code in inline SVG, drawn on the server: no image is fetched, no script
    runs, and the page's CSP needs no exception."""
    qr = segno.make(uri, error="m", micro=False)
    return Markup(qr.svg_inline(scale=5, border=4, title=label, light="#fff",
                                svgclass="qr", lineclass=None))


def _key(secret: str, username: str) -> dict[str, Any]:
    """A new one-time-code key as the page shows it: the QR code, and the key in groups of
    four for typing."""
    return {"qr": qr_svg(mfa.uri(secret, username), f"Authenticator key for {username}"),
            "grouped": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
            "issuer": mfa.ISSUER, "account": username}


def _mfa_state(user: User, row: Any) -> str:
    """The user's second factor in words."""
    if row is not None:
        return "in use" if row.confirmed_at else "set up, not used yet"
    return "needed, not set up" if mfa.requires_code(user) else "not needed"


def _accounts(session: Session, devices: bool) -> list[dict[str, Any]]:
    """People (devices False) or dock devices, by name, with what the list shows of each."""
    keys = mfa.by_user(session=session)
    tokens = users.live_api_tokens(session=session)
    rows = []
    for u in users.list_users(session=session):
        assert u.id is not None
        if (Role.dock in u.role_set) != devices:
            continue
        rows.append({"user": u, "roles": sorted(r.value for r in u.role_set),
                     "locked": users.is_locked(u), "mfa": _mfa_state(u, keys.get(u.id)),
                     "tokens": tokens.get(u.id, 0)})
    return rows


def _account_url(username: str) -> str:
    return f"/console/admin/users/{username}"


def _shown_once(request: Request, user: ConsoleUser, account: User, what: str,
                **secrets: Any) -> Response:
    """The page that shows a new secret, once (no-store, as every console page)."""
    return page(request, user, "admin_secret.html", account=account, what=what,
                device=Role.dock in account.role_set, **secrets)


@router.get("/users")
def people(request: Request, session: SessionDep, user: Admin) -> Response:
    """The people who use the system, and a form to add one."""
    return page(request, user, "admin_users.html", accounts=_accounts(session, False),
                role_duties=ROLE_DUTIES, people_roles=PEOPLE_ROLES)


@router.get("/devices")
def devices(request: Request, session: SessionDep, user: Admin) -> Response:
    """The dock devices that upload footage, and a form to add one."""
    return page(request, user, "admin_devices.html", accounts=_accounts(session, True))


@router.get("/users/{username}")
def account(username: str, request: Request, session: SessionDep, user: Admin) -> Response:
    """One person or device: roles, state, second factor, API tokens, and what can be done."""
    found = users.get_user_by_username_or_raise(session=session, username=username)
    assert found.id is not None
    row = mfa.of_user(session=session, user_id=found.id)
    return page(request, user, "admin_account.html", account=found,
                account_roles=sorted(r.value for r in found.role_set),
                locked=users.is_locked(found),
                mfa_state=_mfa_state(found, row), mfa_row=row,
                mfa_required=mfa.requires_code(found), device=Role.dock in found.role_set,
                tokens=users.list_tokens(session=session, user=found),
                role_duties=ROLE_DUTIES, myself=found.id == user.principal.user_id)


@router.post("/users")
def add_person(request: Request, session: SessionDep, user: AdminForm, username: Short,
               display_name: Short = "", roles: Roles = [],  # noqa: B006
               password: Short = "") -> Response:
    """Add a person with roles and a password (generated unless typed); when their roles
    need a one-time code, their authenticator key too. Both are shown once."""
    chosen = _roles(roles)
    if Role.dock in chosen:
        raise InvalidInput("a dock is a device: add it on the Dock devices page",
                           field="roles")
    new = password or users.generate_password()
    addr = client_addr(request)
    made = flows.add_user(session=session, actor=user.principal, username=username.strip(),
                          roles=chosen, display_name=display_name.strip(), password=new,
                          client_addr=addr)
    key = None
    if mfa.requires_code(made):
        _made, secret = flows.provision_mfa(session=session, actor=user.principal,
                                            username=made.username, client_addr=addr)
        key = _key(secret, made.username)
    return _shown_once(request, user, made, "added", password=new,
                       password_typed=bool(password), key=key)


@router.post("/devices")
def add_device(request: Request, session: SessionDep, user: AdminForm, username: Short,
               display_name: Short = "") -> Response:
    """Add a dock device and issue its API token (shown once, for the dock's settings)."""
    addr = client_addr(request)
    made = flows.add_user(session=session, actor=user.principal, username=username.strip(),
                          roles=[Role.dock], display_name=display_name.strip(),
                          client_addr=addr)
    token, row = flows.issue_api_token(session=session, actor=user.principal,
                                       username=made.username, name="dock", client_addr=addr)
    return _shown_once(request, user, made, "device added", token=token, token_row=row)


@router.post("/users/{username}/roles")
def change_roles(username: str, request: Request, session: SessionDep, user: AdminForm,
                 roles: Roles = []) -> Response:  # noqa: B006
    """Replace the account's roles (at least one; not your own admin role)."""
    flows.set_roles(session=session, actor=user.principal, username=username,
                    roles=_roles(roles), client_addr=client_addr(request))
    return back(request, user, _account_url(username), "roles+changed")


@router.post("/users/{username}/disable")
def disable(username: str, request: Request, session: SessionDep, user: AdminForm,
            reason: Text = "", confirm: Short = "") -> Response:
    """Disable the account: every logon and token of it stops at once (the box must be
    ticked, a reason given)."""
    confirmed(confirm, f"disabling {username}")
    if len(reason.strip()) < 3:
        raise InvalidInput("say why the account is disabled (it goes in the custody log)",
                           field="reason")
    flows.set_disabled(session=session, actor=user.principal, username=username,
                       disabled=True, reason=reason.strip(), client_addr=client_addr(request))
    return back(request, user, _account_url(username), "disabled")


@router.post("/users/{username}/enable")
def enable(username: str, request: Request, session: SessionDep, user: AdminForm,
           reason: Text = "") -> Response:
    """Enable a disabled account again, with a reason."""
    if len(reason.strip()) < 3:
        raise InvalidInput("say why the account is enabled again (it goes in the custody "
                           "log)", field="reason")
    flows.set_disabled(session=session, actor=user.principal, username=username,
                       disabled=False, reason=reason.strip(), client_addr=client_addr(request))
    return back(request, user, _account_url(username), "enabled")


@router.post("/users/{username}/password")
def reset_password(username: str, request: Request, session: SessionDep, user: AdminForm,
                   password: Short = "", confirm: Short = "") -> Response:
    """A new password (generated unless typed), shown once; a lock-out is lifted and every
    logon of the account ends (the box must be ticked)."""
    confirmed(confirm, f"replacing the password of {username} and ending their logons")
    found = users.get_user_by_username_or_raise(session=session, username=username)
    if Role.dock in found.role_set:
        raise InvalidInput("a dock logs on with its API token, not a password: issue it a "
                           "new token instead", field="password")
    made, new = flows.reset_password(session=session, actor=user.principal,
                                     username=username, password=password or None,
                                     client_addr=client_addr(request))
    return _shown_once(request, user, made, "password reset", password=new,
                       password_typed=bool(password))


@router.post("/users/{username}/mfa")
def new_key(username: str, request: Request, session: SessionDep, user: AdminForm,
            confirm: Short = "") -> Response:
    """A new one-time-code key (first one, or for a lost phone), shown once as a QR code and
    as text; the old key stops working and every logon ends (the box must be ticked)."""
    confirmed(confirm, f"replacing the authenticator key of {username}")
    found = users.get_user_by_username_or_raise(session=session, username=username)
    if Role.dock in found.role_set:
        raise InvalidInput("a dock has no one-time code: it uploads with its API token",
                           field="mfa")
    made, secret = flows.provision_mfa(session=session, actor=user.principal,
                                       username=username, client_addr=client_addr(request))
    return _shown_once(request, user, made, "new key", key=_key(secret, made.username))


@router.post("/users/{username}/tokens")
def issue_token(username: str, request: Request, session: SessionDep, user: AdminForm,
                name: Short = "") -> Response:
    """Issue an API token (a dock's, an integration's), shown once."""
    if len(name.strip()) < 2:
        raise InvalidInput("name the token (where it will be used), so that it can be told "
                           "apart when it must be revoked", field="name")
    token, row = flows.issue_api_token(session=session, actor=user.principal,
                                       username=username, name=name.strip(),
                                       client_addr=client_addr(request))
    found = users.get_user_by_username_or_raise(session=session, username=username)
    return _shown_once(request, user, found, "token issued", token=token, token_row=row)


@router.post("/users/{username}/tokens/{token_id}/revoke")
def revoke_token(username: str, token_id: RowId, request: Request, session: SessionDep,
                 user: AdminForm, confirm: Short = "") -> Response:
    """Revoke one API token: whatever uses it is refused from now on (the box must be
    ticked)."""
    confirmed(confirm, f"revoking token {token_id} of {username}")
    flows.revoke_api_token(session=session, actor=user.principal, username=username,
                           token_id=token_id, client_addr=client_addr(request))
    return back(request, user, _account_url(username), "token+revoked")
