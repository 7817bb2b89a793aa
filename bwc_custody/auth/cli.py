"""`bwc users add/disable/enable/reset/roles`, `bwc users token issue/revoke`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the user-management commands to the `bwc` app."""
