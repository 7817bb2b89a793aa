"""What every `bwc` command shares: JSON on stdout, a coded error on stderr with exit code 2,
and one committed session on a migrated database. The domain CLIs import this module, not
the root `cli` app that registers them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from bwc_custody.db import check_migrated, session_scope
from bwc_custody.errors import BwcError

if TYPE_CHECKING:
    from sqlmodel import Session

T = TypeVar("T")


def emit(obj: Any) -> None:
    """Print `obj` as JSON on stdout (the machine-readable output of every command)."""
    typer.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))


def fail(exc: BwcError) -> NoReturn:
    """Print a domain error as JSON on stderr and exit non-zero."""
    typer.echo(json.dumps(exc.to_dict(), indent=2, default=str), err=True)
    raise typer.Exit(code=2)


def in_session(fn: Callable[[Session], T]) -> T:
    """Run `fn` in one committed session on a migrated database; a domain error becomes the
    JSON error on stderr and exit code 2 (the shape every command shares)."""
    try:
        check_migrated()
        with session_scope() as session:
            return fn(session)
    except BwcError as exc:
        fail(exc)
