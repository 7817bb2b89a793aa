"""`bwc redactions request|list|export`: redaction of evidence items (the file-to-file tool
is `bwc redact IN OUT`)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from bwc_custody.auth.service import Principal, cli_operator
from bwc_custody.errors import BwcError
from bwc_custody.roles import Role


def _operator() -> Principal:
    """Whoever runs the command: as the admin, or (`--as` a custodian) as the custodian."""
    return cli_operator(Role.admin, Role.custodian)


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `bwc` app."""
    from bwc_custody.commands import emit, fail, in_session

    red_app = typer.Typer(help="Redacted derivatives of evidence.", no_args_is_help=True)
    app.add_typer(red_app, name="redactions")

    @red_app.command("request")
    def request(
        evidence_id: str,
        regions: Path | None = typer.Option(None, exists=True, dir_okay=False,
                                            help="Regions JSON (boxes, blackout, mute)."),
        keep_adult: list[int] = typer.Option([], help="Known adult id who may stay visible."),
        wait: bool = typer.Option(False, help="Run the job here now instead of leaving it "
                                  "to `bwc worker`."),
    ) -> None:
        """Queue a redaction of an evidence item (prints the job; with --wait, the result)."""
        from bwc_custody.db import check_migrated, session_scope
        from bwc_custody.jobs.cli import _job_dict, run_in_foreground
        from bwc_custody.redactions import service
        from bwc_custody.redactions.models import RedactionRequest
        from redaction.regions import load_regions

        try:
            check_migrated()
            body = RedactionRequest(
                regions=load_regions(regions).model_dump(exclude_defaults=True) if regions
                else {}, keep_adults=keep_adult)
            with session_scope() as session:
                job = service.request_redaction(session=session, evidence_id=evidence_id,
                                                body=body, actor=_operator(),
                                                client_addr="cli")
            out = _job_dict(run_in_foreground(job.id) if wait else job)
        except BwcError as exc:
            fail(exc)
        emit(out)

    @red_app.command("list")
    def list_(evidence_id: str) -> None:
        """An evidence item's derivatives."""
        from bwc_custody.redactions import service
        from bwc_custody.redactions.models import DerivativeRead

        emit(in_session(lambda session: [
            DerivativeRead.model_validate(d).model_dump(mode="json")
            for d in service.list_derivatives(session=session, evidence_id=evidence_id)]))

    @red_app.command("export")
    def export(
        derivative_id: str,
        out: Path = typer.Argument(..., dir_okay=False, help="Where to write the video."),
        reason: str = typer.Option(..., help="Why it is exported (logged)."),
        manifest: Path | None = typer.Option(None, dir_okay=False,
                                             help="Also write the manifest here."),
    ) -> None:
        """Decrypt a derivative (and its manifest) to files; each read is logged."""
        from bwc_custody.db import check_migrated, session_scope
        from bwc_custody.redactions import service
        from bwc_custody.vault.service import get_keyring, get_store

        written = {}
        try:
            check_migrated()
            for part, path in (("video", out), ("manifest", manifest)):
                if path is None:
                    continue
                if path.exists():
                    raise typer.BadParameter(f"{path} exists; not overwritten")
                with session_scope() as session:
                    _row, obj, chunks = service.open_derivative(
                        session=session, store=get_store(), keyring=get_keyring(),
                        derivative_id=derivative_id,
                        part="video" if part == "video" else "manifest",
                        actor=_operator(), reason=reason, client_addr="cli")
                tmp = path.with_name(f".{path.name}.partial")
                with open(tmp, "wb") as fh:
                    for chunk in chunks:
                        fh.write(chunk)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
                written[part] = {"path": str(path), "sha256": obj.sha256, "bytes": obj.size}
        except BwcError as exc:
            fail(exc)
        emit(written)
