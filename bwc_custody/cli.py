"""The `bwc` command line: one Typer app, a sub-app per domain."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, TypeVar

import typer

from bwc_custody.commands import fail
from bwc_custody.errors import BwcError

if TYPE_CHECKING:
    pass

T = TypeVar("T")

# Markdown help: a docstring's single line breaks are rewrapped, not printed mid-sentence.
app = typer.Typer(help="bwc-custody: custody and release of SRO body-camera footage.",
                  no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode="markdown")
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


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


_register_domains()


def main() -> None:
    """Entry point of the `bwc` console script."""
    try:
        app()
    except BwcError as exc:
        typer.echo(json.dumps(exc.to_dict(), indent=2, default=str), err=True)
        sys.exit(2)
