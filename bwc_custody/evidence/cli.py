"""`bwc ingest`, `bwc export`, `bwc package`, `bwc dock watch`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from sqlmodel import Session

from bwc_custody.auth.service import Principal, cli_operator
from bwc_custody.errors import BwcError
from bwc_custody.roles import Role


def _operator() -> Principal:
    """Whoever runs the command: as the admin, or (`--as` a custodian) as the custodian."""
    return cli_operator(Role.admin, Role.custodian)


def _transfer_progress() -> Progress:
    """A byte-transfer progress bar on stderr, shown only to a person at a terminal."""
    return Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(),
        TransferSpeedColumn(), TimeRemainingColumn(), transient=True,
        disable=not typer.get_text_stream("stderr").isatty(),
    )


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `bwc` app."""
    from bwc_custody.commands import emit, fail, in_session

    dock_app = typer.Typer(help="The docking-station upload agent.", no_args_is_help=True)
    app.add_typer(dock_app, name="dock")
    evidence_app = typer.Typer(help="Recordings in custody.", no_args_is_help=True)
    app.add_typer(evidence_app, name="evidence")

    @evidence_app.command("list")
    def list_recordings(
        campus: str | None = typer.Option(None, help="Part of the campus name."),
        officer: str | None = typer.Option(None, help="The officer's id."),
        case: str | None = typer.Option(None, help="The start of the case number."),
        tag: str | None = typer.Option(None, help="A tag in force, e.g. multi_student."),
        since: str | None = typer.Option(None, help="Received on or after this day "
                                         "(YYYY-MM-DD, the agency's time zone)."),
        until: str | None = typer.Option(None, help="Received on or before this day."),
        incident: str | None = typer.Option(None, help="The incident type."),
        retention: str | None = typer.Option(None, help="kept, held, due or disposed."),
        open_request: bool | None = typer.Option(None, "--open-request/--no-open-request",
                                                 help="Only those with (without) a live "
                                                 "request."),
        search: str | None = typer.Option(None, "--search", help="An id's start, or words "
                                          "of the file name, case number or campus."),
        limit: int = typer.Option(50, help="At most this many (1-200)."),
        offset: int = typer.Option(0, help="Skip this many first."),
    ) -> None:
        """Recordings matching the filters, newest first (JSON: total and rows, each with
        its tags in force, live requests and retention state)."""
        from bwc_custody.flows.recordings import parse_query
        from bwc_custody.flows.recordings import search as find

        def run(session: Session) -> dict[str, object]:
            query = parse_query({
                "campus": campus, "officer": officer, "case_number": case, "tag": tag,
                "received_from": since, "received_to": until, "incident_type": incident,
                "retention": retention, "open_request": open_request, "q": search,
                "limit": limit, "offset": offset})
            return find(session=session, query=query).model_dump(mode="json")

        emit(in_session(run))

    @app.command()
    def ingest(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
        sha256: str | None = typer.Option(None, help="Expected SHA-256 (hex); refuse on mismatch."),
        officer: str | None = typer.Option(None, help="Officer id."),
        recorded_at: str | None = typer.Option(None, help="ISO 8601 time with offset."),
        campus: str | None = typer.Option(None),
        case: str | None = typer.Option(None, help="Incident/case number."),
        device: str | None = typer.Option(None, help="Camera serial."),
        category: str | None = typer.Option(None),
        metadata: Path | None = typer.Option(None, help="Sidecar metadata JSON file."),
    ) -> None:
        """Take a file into custody (hash + encrypt + write-once); prints the receipt JSON."""
        from bwc_custody.db import check_migrated, session_scope
        from bwc_custody.evidence.errors import InvalidMetadata
        from bwc_custody.evidence.models import parse_metadata
        from bwc_custody.flows.ingest import ingest_stream
        from bwc_custody.vault.service import get_keyring, get_signer, get_store

        try:
            check_migrated()
            fields: dict[str, object] = json.loads(metadata.read_text()) if metadata else {}
            given = {"officer_id": officer, "recorded_at": recorded_at, "campus": campus,
                     "case_number": case, "device_serial": device, "category": category}
            fields.update({k: v for k, v in given.items() if v is not None})
            fields.setdefault("filename", file.name)
            meta = parse_metadata(fields)
            progress = _transfer_progress()
            with progress, session_scope() as session, open(file, "rb") as fh:
                task = progress.add_task("ingest", total=file.stat().st_size)
                receipt = ingest_stream(
                    session=session, store=get_store(), keyring=get_keyring(),
                    signer=get_signer(), source=fh, metadata=meta, actor=_operator(),
                    expected_sha256=sha256, client_addr="cli",
                    on_progress=lambda n: progress.advance(task, n),
                )
        except BwcError as exc:
            fail(exc)
        except json.JSONDecodeError as exc:
            fail(InvalidMetadata(f"metadata file is not JSON: {exc}"))
        out = receipt.model_dump(mode="json")
        out["evidence_id"] = receipt.evidence_id
        emit(out)

    @app.command("export")
    def export(
        evidence_id: str,
        out: Path = typer.Option(..., "--out", help="Destination file (must not exist)."),
        reason: str = typer.Option("", help="Why (recorded in the custody log)."),
    ) -> None:
        """Decrypt an original to a file, verifying its SHA-256 on the way out."""
        from bwc_custody.evidence.service import export_original
        from bwc_custody.vault.service import get_keyring, get_store

        if out.exists():
            fail(BwcError(f"{out} exists; choose a new path"))
        sha = in_session(lambda session: export_original(
            session=session, store=get_store(), keyring=get_keyring(), evidence_id=evidence_id,
            out=out, actor=_operator(), reason=reason, client_addr="cli"))
        emit({"evidence_id": evidence_id, "sha256": sha, "out": str(out), "verified": True})

    @app.command()
    def package(
        evidence_id: str,
        out: Path = typer.Option(..., "--out", help="Empty or new directory for the package."),
        reason: str = typer.Option("", help="Why (recorded in the custody log)."),
    ) -> None:
        """Write an evidence package: original, SHA-256, proven custody entries, key, verifier."""
        from bwc_custody.db import check_migrated, get_engine
        from bwc_custody.evidence.package import build_package
        from bwc_custody.vault.service import get_agency_ca, get_keyring, get_signer, get_store

        try:
            check_migrated()
            manifest = build_package(
                engine=get_engine(), store=get_store(), keyring=get_keyring(),
                signer=get_signer(), c2pa_roots_pem=get_agency_ca().trusted_roots_pem(),
                evidence_id=evidence_id, out=out, actor=_operator(),
                reason=reason, client_addr="cli",
            )
        except BwcError as exc:
            fail(exc)
        emit({"out": str(out), "evidence_id": evidence_id, "sha256": manifest["sha256"],
              "entries": len(manifest["entries"]),
              "checkpoint": manifest["checkpoint"]["tree_size"],
              "key_id": manifest["key_id"],
              # the reader pins the key id the agency publishes (GET /api/v1/keys/signing)
              "verify": f"python {out / 'verify_package.py'} {out} --key-id "
                        f"{manifest['key_id']}"})

    @dock_app.command("watch")
    def dock_watch(
        directory: Path = typer.Argument(..., exists=True, file_okay=False),
        server: str = typer.Option(..., help="Base URL, e.g. http://127.0.0.1:8400"),
        token: str = typer.Option(..., envvar="BWC_DOCK_TOKEN", help="Dock API token."),
        once: bool = typer.Option(False, help="Upload what is there now, then exit."),
        interval: float = typer.Option(5.0, help="Seconds between scans."),
        chunk_mib: int = typer.Option(8, help="PATCH size in MiB."),
    ) -> None:
        """Upload every new video in DIR (resuming), move confirmed files to DIR/uploaded/.

        A video `NAME.mp4` may have a sidecar `NAME.json`, a JSON object with any of:
        `officer_id`; `device_serial`; `recorded_at` (ISO 8601 with its offset, e.g.
        2026-03-02T10:15:00-05:00); `campus`; `case_number` (at most 80 characters);
        `category`; `involves_juvenile` (true or false); `incident_type` (e.g. arrest,
        detention_under_18, firearm_unholstered); `filename`; `extra` (an object of the
        vendor's own fields, kept as given). Any other key, or a sidecar that is not such
        an object, is refused before the upload starts (nothing is sent): the file and its
        sidecar go to DIR/refused/ with a .refused.json saying why and listing the accepted
        keys."""
        from bwc_custody.dock.agent import DockAgent

        agent = DockAgent(directory, server=server, token=token, chunk_size=chunk_mib << 20)
        if once:
            results = agent.scan_once()
            emit(results)
            if any(r.get("error") for r in results):
                raise typer.Exit(code=1)
            return
        agent.run_forever(interval)
