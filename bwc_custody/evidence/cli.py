"""`bwc init`, `bwc ingest`, `bwc export`, `bwc keys rotate`, `bwc users`, `bwc dock watch`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from bwc_custody.auth.models import Role
from bwc_custody.auth.service import LOCAL_OPERATOR
from bwc_custody.errors import BwcError


def _transfer_progress() -> Progress:
    """A byte-transfer progress bar on stderr, shown only to a person at a terminal."""
    return Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(),
        TransferSpeedColumn(), TimeRemainingColumn(), transient=True,
        disable=not typer.get_text_stream("stderr").isatty(),
    )


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `bwc` app."""
    from bwc_custody.cli import emit, fail

    keys_app = typer.Typer(help="Key-encryption keys.", no_args_is_help=True)
    dock_app = typer.Typer(help="The docking-station upload agent.", no_args_is_help=True)
    app.add_typer(keys_app, name="keys")
    app.add_typer(dock_app, name="dock")

    @app.command()
    def init(
        admin: str = typer.Option("admin", help="Username of the first admin."),
        password: str | None = typer.Option(None, help="The admin's password (else generated)."),
    ) -> None:
        """Set up BWC_HOME: migrate the DB, create keys, create the first admin and a token."""
        from sqlmodel import select

        from bwc_custody.auth import flows
        from bwc_custody.auth.models import User
        from bwc_custody.auth.service import generate_password
        from bwc_custody.config import get_settings
        from bwc_custody.db import session_scope, upgrade
        from bwc_custody.vault.service import get_keyring, get_signer

        settings = get_settings()
        upgrade()
        keyring = get_keyring()
        signer = get_signer()
        token = new_password = None
        with session_scope() as session:
            if session.exec(select(User)).first() is None:
                new_password = password or generate_password()
                # Logged like any user creation: the first admin is a custody event too.
                flows.add_user(session=session, actor=LOCAL_OPERATOR, username=admin,
                               roles=[Role.admin], password=new_password, client_addr="cli")
                token, _ = flows.issue_api_token(session=session, actor=LOCAL_OPERATOR,
                                                 username=admin, name="bwc init",
                                                 client_addr="cli")
        emit({
            "home": str(settings.home), "database": settings.db_url.split("@")[-1],
            "store": settings.s3_endpoint or str(settings.objects_dir),
            "kek_active": keyring.active_id, "signing_key_id": signer.key_id,
            "admin_token": token,
            "admin_password": new_password if password is None else None,
        })

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
        from bwc_custody.evidence.models import DockMetadata
        from bwc_custody.evidence.service import ingest_stream
        from bwc_custody.vault.service import get_keyring, get_signer, get_store

        try:
            check_migrated()
            fields: dict[str, object] = json.loads(metadata.read_text()) if metadata else {}
            given = {"officer_id": officer, "recorded_at": recorded_at, "campus": campus,
                     "case_number": case, "device_serial": device, "category": category}
            fields.update({k: v for k, v in given.items() if v is not None})
            fields.setdefault("filename", file.name)
            try:
                meta = DockMetadata.model_validate(fields)
            except ValidationError as exc:
                raise InvalidMetadata("metadata is not valid", errors=exc.errors(
                    include_url=False, include_context=False)) from None
            progress = _transfer_progress()
            with progress, session_scope() as session, open(file, "rb") as fh:
                task = progress.add_task("ingest", total=file.stat().st_size)
                receipt = ingest_stream(
                    session=session, store=get_store(), keyring=get_keyring(),
                    signer=get_signer(), source=fh, metadata=meta, actor=LOCAL_OPERATOR,
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
        from bwc_custody.db import check_migrated, session_scope
        from bwc_custody.evidence.service import export_original
        from bwc_custody.vault.service import get_keyring, get_store

        if out.exists():
            fail(BwcError(f"{out} exists; choose a new path"))
        try:
            check_migrated()
            with session_scope() as session:
                sha = export_original(
                    session=session, store=get_store(), keyring=get_keyring(),
                    evidence_id=evidence_id, out=out, actor=LOCAL_OPERATOR, reason=reason,
                    client_addr="cli",
                )
        except BwcError as exc:
            fail(exc)
        emit({"evidence_id": evidence_id, "sha256": sha, "out": str(out), "verified": True})

    @keys_app.command("rotate")
    def keys_rotate() -> None:
        """Create a new KEK and re-wrap every data key under it (content is not rewritten)."""
        from bwc_custody.custody import service as custody
        from bwc_custody.db import check_migrated, session_scope
        from bwc_custody.tags.service import rewrap_known_adults
        from bwc_custody.uploads.service import rewrap_open_uploads
        from bwc_custody.vault.service import get_keyring, rotate_keys

        check_migrated()
        keyring = get_keyring()
        old = keyring.active_id
        new = keyring.add_kek()
        with session_scope() as session:
            objects = rotate_keys(session=session, keyring=keyring, new_kek_id=new)
            uploads = rewrap_open_uploads(session=session, keyring=keyring, kek_id=new)
            adults = rewrap_known_adults(session=session, keyring=keyring, kek_id=new)
            custody.append(session=session, actor=LOCAL_OPERATOR, action="keys.rotate",
                           target_type="kek", target_id=new,
                           details={"previous": old, "objects": objects, "uploads": uploads,
                                    "known_adults": adults})
        emit({"previous": old, "active": new, "rewrapped_objects": objects,
              "rewrapped_uploads": uploads, "rewrapped_known_adults": adults})

    @dock_app.command("watch")
    def dock_watch(
        directory: Path = typer.Argument(..., exists=True, file_okay=False),
        server: str = typer.Option(..., help="Base URL, e.g. http://127.0.0.1:8400"),
        token: str = typer.Option(..., envvar="BWC_DOCK_TOKEN", help="Dock API token."),
        once: bool = typer.Option(False, help="Upload what is there now, then exit."),
        interval: float = typer.Option(5.0, help="Seconds between scans."),
        chunk_mib: int = typer.Option(8, help="PATCH size in MiB."),
    ) -> None:
        """Upload every new video in DIR (resuming), move confirmed files to DIR/uploaded/."""
        from bwc_custody.dock.agent import DockAgent

        agent = DockAgent(directory, server=server, token=token, chunk_size=chunk_mib << 20)
        if once:
            results = agent.scan_once()
            emit(results)
            if any(r.get("error") for r in results):
                raise typer.Exit(code=1)
            return
        agent.run_forever(interval)
