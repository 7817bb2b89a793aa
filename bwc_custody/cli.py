"""The `bwc` command line: one Typer app, a sub-app per domain."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from bwc_custody.errors import BwcError

app = typer.Typer(help="bwc-custody: custody and release of SRO body-camera footage.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def emit(obj: Any) -> None:
    """Print `obj` as JSON on stdout (the machine-readable output of every command)."""
    typer.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))


def fail(exc: BwcError) -> None:
    """Print a domain error as JSON on stderr and exit non-zero."""
    typer.echo(json.dumps(exc.to_dict(), indent=2, default=str), err=True)
    raise typer.Exit(code=2)


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
) -> None:
    """Run the HTTP API (refuses to start on an unmigrated database)."""
    import uvicorn

    from bwc_custody.app import create_app
    from bwc_custody.config import get_settings
    from bwc_custody.db import check_migrated

    settings = get_settings()
    try:
        check_migrated()
    except BwcError as exc:
        fail(exc)
    uvicorn.run(create_app(), host=host or settings.api_host, port=port or settings.api_port)


def _register_domains() -> None:
    from bwc_custody.auth.cli import register as register_auth
    from bwc_custody.custody.cli import register as register_custody
    from bwc_custody.evidence.cli import register as register_evidence
    from bwc_custody.tags.cli import register as register_tags
    from policies.cli import app as policy_app
    from redaction.cli import register as register_redaction

    register_evidence(app)
    register_auth(app)
    register_custody(app)
    app.add_typer(policy_app, name="policy")
    register_redaction(app)
    register_tags(app)


_register_domains()


def main() -> None:
    """Entry point of the `bwc` console script."""
    try:
        app()
    except BwcError as exc:
        typer.echo(json.dumps(exc.to_dict(), indent=2, default=str), err=True)
        sys.exit(2)
