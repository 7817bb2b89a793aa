"""`bwc users add/list/disable/enable/reset/mfa/roles` and `bwc users token issue/revoke`."""

from __future__ import annotations

from typing import Any

import typer

from bwc_custody.auth.service import cli_operator
from bwc_custody.roles import Role


def mfa_key(session: Any, username: str) -> dict[str, str]:
    """Provision the user's one-time-code key from the command line; the key and its URI."""
    from bwc_custody.auth import mfa
    from bwc_custody.flows import auth as flows

    _user, secret = flows.provision_mfa(session=session, actor=cli_operator(),
                                        username=username, client_addr="cli")
    return {"secret": secret, "otpauth_uri": mfa.uri(secret, username)}


def register(app: typer.Typer) -> None:
    """Add the user-management commands to the `bwc` app."""
    from bwc_custody.commands import emit, in_session

    users_app = typer.Typer(help="Users, passwords and API tokens.", no_args_is_help=True)
    token_app = typer.Typer(help="API tokens (docks, integrations).", no_args_is_help=True)
    app.add_typer(users_app, name="users")
    users_app.add_typer(token_app, name="token")

    @users_app.command("add")
    def users_add(
        username: str,
        role: list[Role] = typer.Option(..., "--role", help="Repeat for several roles."),
        display_name: str = typer.Option(""),
        password: str | None = typer.Option(None, help="Initial password (people)."),
        generate_password: bool = typer.Option(False, help="Generate and print a password."),
        token: bool | None = typer.Option(
            None, help="Also issue an API token (printed once); by default only for a user "
            "without a password (a dock, an integration): a token skips the one-time code."),
    ) -> None:
        """Create a user (docks are users with the dock role) and print its API token; a
        person with a password whose roles need a one-time code also gets its key."""
        from bwc_custody.auth import mfa, service
        from bwc_custody.flows import auth as flows

        if generate_password and password is None:
            password = service.generate_password()

        def add(session: Any) -> tuple[str | None, dict[str, str] | None]:
            user = flows.add_user(session=session, actor=cli_operator(), username=username,
                                  roles=role, display_name=display_name, password=password,
                                  client_addr="cli")
            key = (mfa_key(session, username) if password is not None
                   and mfa.requires_code(user) else None)
            if not (token if token is not None else password is None):
                return None, key
            secret, _row = flows.issue_api_token(session=session, actor=cli_operator(),
                                                 username=username, name="cli",
                                                 client_addr="cli")
            return secret, key

        secret, key = in_session(add)
        emit({"username": username, "roles": sorted(r.value for r in role), "token": secret,
              "password": password if generate_password else None, "mfa": key})

    @users_app.command("list")
    def users_list() -> None:
        """Print every user."""
        from bwc_custody.auth import service

        emit(in_session(lambda session: [
            {"username": u.username, "roles": sorted(r.value for r in u.role_set),
             "disabled": u.disabled, "locked": service.is_locked(u)}
            for u in service.list_users(session=session)]))

    def _set_disabled(username: str, disabled: bool, reason: str) -> None:
        from bwc_custody.flows import auth as flows

        in_session(lambda session: flows.set_disabled(
            session=session, actor=cli_operator(), username=username, disabled=disabled,
            reason=reason, client_addr="cli"))
        emit({"username": username, "disabled": disabled})

    @users_app.command("disable")
    def users_disable(username: str, reason: str = typer.Option("", help="Why.")) -> None:
        """Disable a user: all of their tokens stop working at once."""
        _set_disabled(username, True, reason)

    @users_app.command("enable")
    def users_enable(username: str, reason: str = typer.Option("", help="Why.")) -> None:
        """Re-enable a disabled user."""
        _set_disabled(username, False, reason)

    @users_app.command("reset")
    def users_reset(
        username: str,
        password: str | None = typer.Option(None, help="New password (else one is generated)."),
    ) -> None:
        """Set a new password, lift a lock-out and end the user's sessions."""
        from bwc_custody.flows import auth as flows

        _user, new = in_session(lambda session: flows.reset_password(
            session=session, actor=cli_operator(), username=username, password=password,
            client_addr="cli"))
        emit({"username": username, "password": None if password else new})

    @users_app.command("mfa")
    def users_mfa(username: str) -> None:
        """Give a user a new one-time-code key (a first one, or for a lost phone), printed
        once with its otpauth:// URI for an authenticator app; every logon of theirs ends."""
        emit({"username": username, "mfa": in_session(lambda s: mfa_key(s, username))})

    @users_app.command("roles")
    def users_roles(
        username: str,
        role: list[Role] = typer.Option(..., "--role", help="The complete new set."),
    ) -> None:
        """Replace a user's roles."""
        from bwc_custody.flows import auth as flows

        roles = in_session(lambda session: sorted(r.value for r in flows.set_roles(
            session=session, actor=cli_operator(), username=username, roles=role,
            client_addr="cli").role_set))
        emit({"username": username, "roles": roles})

    @token_app.command("issue")
    def token_issue(username: str, name: str = typer.Option("", help="A label.")) -> None:
        """Issue an API token for a user (printed once)."""
        from bwc_custody.flows import auth as flows

        def issue(session: Any) -> tuple[str, int | None]:
            secret, row = flows.issue_api_token(session=session, actor=cli_operator(),
                                                username=username, name=name,
                                                client_addr="cli")
            return secret, row.id

        secret, token_id = in_session(issue)
        emit({"username": username, "token_id": token_id, "token": secret})

    @token_app.command("revoke")
    def token_revoke(username: str, token_id: int) -> None:
        """Revoke one of a user's API tokens by its id."""
        from bwc_custody.flows import auth as flows

        in_session(lambda session: flows.revoke_api_token(
            session=session, actor=cli_operator(), username=username, token_id=token_id,
            client_addr="cli"))
        emit({"username": username, "token_id": token_id, "revoked": True})
