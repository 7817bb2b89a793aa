"""`bwc verify`, `bwc checkpoint`, `bwc log`, `bwc verify-file`."""

from __future__ import annotations

from pathlib import Path
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
        typer.echo(f"timestamps: {report.timestamp_summary}", err=True)
        if report.witness_summary:
            typer.echo(f"witnesses: {report.witness_summary}", err=True)
        if not report.ok:
            raise typer.Exit(code=1)

    @app.command()
    def checkpoint() -> None:
        """Sign a checkpoint over the log so far and keep a WORM copy in the object store;
        then, with a TSA configured (BWC_TSA_URL), timestamp it and any checkpoint still
        waiting for one (a TSA that is down leaves them to the worker; the checkpoint
        stands), and with witnesses (BWC_WITNESS_URL) send them the newest head."""
        from bwc_custody.config import get_settings
        from bwc_custody.custody import service as custody
        from bwc_custody.custody import timestamps, witness
        from bwc_custody.db import get_engine
        from bwc_custody.vault.service import get_signer, get_store

        doc = in_session(lambda session: custody.checkpoint_document(custody.create_checkpoint(
            session=session, signer=get_signer(), store=get_store())))
        try:
            tsa = timestamps.tsa_config()
            if tsa.configured:
                doc["timestamp"] = timestamps.stamp_pending(
                    engine=get_engine(), store=get_store(), tsa=tsa).to_dict()
            else:
                doc["timestamp"] = "no TSA configured (BWC_TSA_URL)"
        except BwcError as exc:
            doc["timestamp"] = exc.to_dict()
        settings = get_settings()
        if settings.witness_urls:  # optional: the newest head to each witness
            doc["published"] = witness.publish_newest(
                engine=get_engine(), signer=get_signer(), urls=settings.witness_urls,
                origin=settings.log_origin).to_dict()
        emit(doc)

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

    @app.command("verify-file")
    def verify_file(
        file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                    help="A released file (MP4) as the requester got it."),
        root: Path | None = typer.Option(
            None, "--root", exists=True, dir_okay=False,
            help="PEM of the roots to trust (GET /api/v1/keys/c2pa/roots.pem, or the "
                 "evidence package's c2pa-roots.pem); default: this server's CA."),
        sha256: str | None = typer.Option(
            None, help="The SHA-256 the written response names: also binds the bytes C2PA "
                       "leaves outside its own hash."),
    ) -> None:
        """Check a released file's C2PA manifest offline: VALID and TRUSTED (signed under the
        agency root, unaltered; exit 0), VALID but UNTRUSTED (intact, but not signed under a
        root given; exit 3), or INVALID (each failed check named; exit 1); with the
        file's release assertion (the original's SHA-256, the request, what was redacted,
        the custody checkpoint). With BWC_TSA_CA_FILE set, the signature's RFC 3161 timestamp
        is reported trusted or untrusted under that TSA CA."""
        from bwc_custody.config import get_settings
        from provenance.c2pa_verify import Verdict
        from provenance.c2pa_verify import verify_file as check_file
        from provenance.ca import ACTIVE_FILE, AgencyCA, cert_id, load_certificates
        from provenance.tsa import load_ca_file

        try:
            if root is not None:
                roots, source = load_certificates(root.read_bytes()), str(root)
            elif (get_settings().c2pa_dir / ACTIVE_FILE).exists():
                roots, source = AgencyCA(get_settings().c2pa_dir).trusted_roots(), "this server"
            else:  # never make a CA here: this may be anyone's machine
                roots, source = [], "none (give --root)"
            tsa_ca = get_settings().tsa_ca_file
            tsa_roots = load_ca_file(tsa_ca) if tsa_ca is not None else []
            result = check_file(file, roots, expected_sha256=sha256, tsa_roots=tsa_roots)
        except BwcError as exc:
            fail(exc)
        emit({**result.to_dict(), "file": str(file), "roots_from": source,
              "root_ids": [cert_id(r) for r in roots],
              "tsa_roots_from": str(tsa_ca) if tsa_ca is not None else
              "none (BWC_TSA_CA_FILE not set: the timestamp is judged under the signing roots)",
              "report": result.lines()})
        if result.verdict is not Verdict.TRUSTED:
            raise typer.Exit(code=3 if result.verdict is Verdict.VALID_UNTRUSTED else 1)
