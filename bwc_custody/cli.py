"""The `bwc` command line: one Typer app, a sub-app per domain."""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from bwc_custody.commands import fail
from bwc_custody.errors import BwcError, InvalidInput

T = TypeVar("T")
AS_HELP = ("Record this command in the custody log as this user (an enabled user who holds "
           "the role the command acts with); by default the operating-system account, as "
           "os:NAME.")

# Markdown help: a docstring's single line breaks are rewrapped, not printed mid-sentence.
app = typer.Typer(help="bwc-custody: custody and release of SRO body-camera footage.",
                  no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode="markdown")
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
# Where naming who acts means nothing: the server, the schema, the dock (it holds a token).
_NO_ACTOR = {"serve", "upgrade", "check", "watch"}
_global_as: list[str | None] = [None]


def _name_operator(username: str | None) -> None:
    """Act as `username` (checked against the users table now, before the command does
    anything) or, when None, as the operating-system account."""
    from bwc_custody.auth.service import name_cli_operator
    from bwc_custody.db import check_migrated, session_scope

    try:
        if username is None:
            name_cli_operator(session=None, username=None)
            return
        check_migrated()
        with session_scope() as session:
            name_cli_operator(session=session, username=username)
    except BwcError as exc:
        fail(exc)


@app.callback()
def _root(as_: str | None = typer.Option(None, "--as", metavar="NAME", help=AS_HELP)) -> None:
    """bwc-custody: custody and release of SRO body-camera footage."""
    _global_as[0] = as_
    _name_operator(as_)


def _with_as(callback: Callable[..., Any]) -> Callable[..., Any]:
    """`callback` taking `--as NAME` too, so it may follow the command's own arguments."""
    signature = inspect.signature(callback, eval_str=True)

    def command(*args: Any, as_operator: str | None = None, **kwargs: Any) -> Any:
        if as_operator is not None:
            if _global_as[0] not in (None, as_operator):
                fail(InvalidInput(f"--as names two users ({_global_as[0]!r} and "
                                  f"{as_operator!r}); name one", field="as"))
            _name_operator(as_operator)
        return callback(*args, **kwargs)

    as_param = inspect.Parameter("as_operator", inspect.Parameter.KEYWORD_ONLY,
                                 default=typer.Option(None, "--as", metavar="NAME",
                                                      help=AS_HELP),
                                 annotation=str | None)
    params = [p for p in signature.parameters.values()]
    command.__signature__ = signature.replace(parameters=[*params, as_param])  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in (*params, as_param)}
    for name in ("__name__", "__qualname__", "__doc__", "__module__"):
        setattr(command, name, getattr(callback, name))
    return command


def _add_as_everywhere(typer_app: typer.Typer) -> None:
    """Give every command of ours that acts on records its own `--as NAME`."""
    for info in typer_app.registered_commands:
        name = info.name or (info.callback.__name__ if info.callback else "")
        if info.callback and info.callback.__module__.startswith("bwc_custody") \
                and name not in _NO_ACTOR:
            info.callback = _with_as(info.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _add_as_everywhere(group.typer_instance)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    from bwc_custody.config import get_settings
    from bwc_custody.db import upgrade

    upgrade()
    typer.echo(f"database at newest schema: {get_settings().db_url.split('@')[-1]}")


@db_app.command("check")
def db_check() -> None:
    """Exit 0 when the schema is current, else explain."""
    from bwc_custody.db import check_migrated

    try:
        check_migrated()
    except BwcError as exc:
        fail(exc)
    typer.echo("database schema is current")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Bind address (default BWC_API_HOST)."),
    port: int | None = typer.Option(None, help="Port (default BWC_API_PORT)."),
    worker: bool = typer.Option(True, help="Also run one job worker in this process, so "
                                "queued redactions and analyses run without `bwc worker`."),
) -> None:
    """Run the HTTP API (refuses to start on an unmigrated database)."""
    import threading

    import uvicorn

    from bwc_custody.app import create_app
    from bwc_custody.config import get_settings
    from bwc_custody.db import check_migrated, get_engine
    from bwc_custody.flows.jobs import HANDLERS, housekeeping
    from bwc_custody.jobs.worker import run_worker

    settings = get_settings()
    try:
        check_migrated()
    except BwcError as exc:
        fail(exc)
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, name="bwc-worker", daemon=True, kwargs={
        "engine": get_engine(), "home": settings.home, "handlers": HANDLERS,
        "housekeeping": housekeeping, "stop": stop})
    if worker:
        thread.start()
    try:
        uvicorn.run(create_app(), host=host or settings.api_host,
                    port=port or settings.api_port)
    finally:
        stop.set()  # a job in progress is left to its lease: another worker re-runs it


def _register_domains() -> None:
    from bwc_custody.auth.cli import register as register_auth
    from bwc_custody.custody.cli import register as register_custody
    from bwc_custody.evidence.cli import register as register_evidence
    from bwc_custody.jobs.cli import register as register_jobs
    from bwc_custody.redactions.cli import register as register_redactions
    from bwc_custody.requests.cli import register as register_requests
    from bwc_custody.retention.cli import register as register_retention
    from bwc_custody.tags.cli import register as register_tags
    from bwc_custody.vault.cli import register as register_vault
    from policies.cli import app as policy_app
    from redaction.cli import register as register_redaction

    register_vault(app)
    register_evidence(app)
    register_auth(app)
    register_custody(app)
    app.add_typer(policy_app, name="policy")
    register_redaction(app)
    register_tags(app)
    register_jobs(app)
    register_redactions(app)
    register_requests(app)
    register_retention(app)
    _add_as_everywhere(app)


_register_domains()


def main() -> None:
    """Entry point of the `bwc` console script."""
    try:
        app()
    except BwcError as exc:
        typer.echo(json.dumps(exc.to_dict(), indent=2, default=str), err=True)
        sys.exit(2)
