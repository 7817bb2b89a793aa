"""`bwc verify`, `bwc checkpoint`, `bwc log`."""

from __future__ import annotations

from typing import Any

import typer

from bwc_custody.errors import BwcError


class _RichProgress:
    """Verification progress as a rich bar per stage, on stderr."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def start(self, stage: str, total: int) -> None:
        self.tasks[stage] = self.progress.add_task(stage, total=total or None)

    def advance(self, stage: str, amount: int) -> None:
        self.progress.advance(self.tasks[stage], amount)


def register(app: typer.Typer) -> None:
    """Add the custody-log commands to the `bwc` app."""
    from bwc_custody.commands import emit, fail, in_session

    @app.command()
    def verify(
        fixity: bool = typer.Option(True, help="Also decrypt and re-hash every stored object."),
    ) -> None:
        """Check the custody chain, checkpoints, stored objects and the database's state
        against the log; exit 0 only if all hold."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        from bwc_custody.db import check_migrated, session_scope
        from bwc_custody.flows.verify_state import verify_everything
        from bwc_custody.vault.service import get_keyring, get_signer, get_store

        try:
            check_migrated()
            bar = Progress("[progress.description]{task.description}", BarColumn(),
                           MofNCompleteColumn(), TimeRemainingColumn(),
                           console=Console(stderr=True), transient=True)
            with bar, session_scope() as session:
                report = verify_everything(session=session, store=get_store(),
                                           keyring=get_keyring(), signer=get_signer(),
                                           fixity=fixity, progress=_RichProgress(bar))
        except BwcError as exc:
            fail(exc)
        emit(report.to_dict())
        if not report.ok:
            raise typer.Exit(code=1)

    @app.command()
    def checkpoint() -> None:
        """Sign a checkpoint over the log so far and keep a WORM copy in the object store."""
        from bwc_custody.custody import service as custody
        from bwc_custody.vault.service import get_signer, get_store

        emit(in_session(lambda session: custody.checkpoint_document(custody.create_checkpoint(
            session=session, signer=get_signer(), store=get_store()))))

    @app.command("log")
    def log(
        target: str | None = typer.Option(None, help="Only entries about this target id."),
    ) -> None:
        """Print custody entries (all, or one target's) as JSON."""
        from bwc_custody.custody import service as custody
        from bwc_custody.custody.models import EntryRead

        def entries(session: Any) -> list[dict[str, Any]]:
            rows = (custody.entries_for(session=session, target_id=target) if target
                    else custody.all_entries(session=session))
            return [EntryRead.model_validate(r).model_dump(mode="json") for r in rows]

        emit(in_session(entries))
