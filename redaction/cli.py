"""`bwc redact`, `bwc worker` and related commands (registered on the main app)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `bwc` app."""
