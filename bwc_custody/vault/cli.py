"""`bwc init` (set up a home: schema, keys, the content-credentials CA, first admin) and
`bwc keys rotate|rotate-signing|c2pa|rotate-c2pa|import-c2pa`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bwc_custody.auth.service import Principal, cli_operator
from bwc_custody.errors import BwcError
from bwc_custody.roles import Role
from provenance.ca import ACTIVE_FILE, AgencyCA, cert_id

if TYPE_CHECKING:
    from sqlmodel import Session


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `bwc` app."""
    from bwc_custody.commands import emit, fail, in_session

    keys_app = typer.Typer(help="Key-encryption keys, the signing key and the content-credentials "
                                "(C2PA) certificate authority.", no_args_is_help=True)
    app.add_typer(keys_app, name="keys")

    @app.command()
    def init(
        admin: str = typer.Option("admin", help="Username of the first admin."),
        password: str | None = typer.Option(None, help="The admin's password (else generated)."),
    ) -> None:
        """Set up BWC_HOME: migrate the DB, create keys and the agency's C2PA certificate
        authority, create the first admin and a token."""
        from sqlmodel import select

        from bwc_custody.auth.models import User
        from bwc_custody.auth.service import generate_password
        from bwc_custody.config import get_settings
        from bwc_custody.db import session_scope, upgrade
        from bwc_custody.flows import auth as flows
        from bwc_custody.vault.service import get_agency_ca, get_keyring, get_signer

        settings = get_settings()
        upgrade()
        keyring = get_keyring()
        signer = get_signer()
        had_ca = _ca_exists(settings.c2pa_dir)
        ca = get_agency_ca()
        from bwc_custody.auth.cli import mfa_key

        token = new_password = key = None
        with session_scope() as session:
            if not had_ca:
                _log_ca(session, cli_operator(), "keys.c2pa_create", ca, {})
            if session.exec(select(User.id).limit(1)).first() is None:
                new_password = password or generate_password()
                # Logged like any user creation: the first admin is a custody event too.
                flows.add_user(session=session, actor=cli_operator(), username=admin,
                               roles=[Role.admin], password=new_password, client_addr="cli")
                token, _ = flows.issue_api_token(session=session, actor=cli_operator(),
                                                 username=admin, name="bwc init",
                                                 client_addr="cli")
                # its password logon needs a one-time code (BWC_MFA_ROLES): the key, once
                key = mfa_key(session, admin) if Role.admin.value in settings.mfa_role_set else None
        emit({
            "home": str(settings.home), "database": settings.db_url.split("@")[-1],
            "store": settings.s3_endpoint or str(settings.objects_dir),
            "kek_active": keyring.active_id, "signing_key_id": signer.key_id,
            "c2pa": _ca_summary(ca),
            "admin_token": token,
            "admin_password": new_password if password is None else None,
            "admin_mfa": key,
            # the admin's console pages are the people and the docks (/console/admin/users)
            "console": f"http://{settings.api_host}:{settings.api_port}/console/",
            "next": "log on to the console as the admin (password and authenticator code) "
                    "and add people and docks there, or: bwc users add NAME --role "
                    "custodian --generate-password (also --role legal_reviewer, --role "
                    "auditor): hand over the password and the authenticator key it prints",
        })

    @keys_app.command("rotate")
    def keys_rotate() -> None:
        """Create a new KEK and re-wrap every data key under it (content is not rewritten)."""
        from bwc_custody.auth import mfa
        from bwc_custody.custody import service as custody
        from bwc_custody.db import check_migrated, session_scope
        from bwc_custody.tags.service import rewrap_known_adults
        from bwc_custody.uploads.service import rewrap_open_uploads
        from bwc_custody.vault.service import get_keyring, rotate_keys

        try:
            check_migrated()
            actor = cli_operator()  # a refused --as stops here, before a key is made
        except BwcError as exc:
            fail(exc)
        keyring = get_keyring()
        old = keyring.active_id
        new = keyring.add_kek()
        with session_scope() as session:
            objects = rotate_keys(session=session, keyring=keyring, new_kek_id=new)
            uploads = rewrap_open_uploads(session=session, keyring=keyring, kek_id=new)
            adults = rewrap_known_adults(session=session, keyring=keyring, kek_id=new)
            mfa_keys = mfa.rewrap_all(session=session, keyring=keyring, kek_id=new)
            custody.append(session=session, actor=actor, action="keys.rotate",
                           target_type="kek", target_id=new,
                           details={"previous": old, "objects": objects, "uploads": uploads,
                                    "known_adults": adults, "mfa_keys": mfa_keys})
        emit({"previous": old, "active": new, "rewrapped_objects": objects,
              "rewrapped_uploads": uploads, "rewrapped_known_adults": adults,
              "rewrapped_mfa_keys": mfa_keys})

    @keys_app.command("rotate-signing")
    def keys_rotate_signing() -> None:
        """Retire the Ed25519 signing key and make a new one.

        The old public key is kept (in the keys directory and at /keys/signing) so
        everything it signed still verifies; its private key is destroyed. A checkpoint is
        signed with the new key at once."""
        from bwc_custody.config import get_settings
        from bwc_custody.custody import service as custody
        from bwc_custody.vault.service import get_signer, get_store
        from storage.keys import Signer

        def rotate(session: Session) -> dict[str, object]:
            actor = cli_operator()  # a refused --as stops here, before the key is retired
            signer, old = Signer.rotate(get_settings().keys_dir)
            get_signer.cache_clear()
            custody.append(session=session, actor=actor, action="keys.rotate_signing",
                           target_type="signing_key", target_id=signer.key_id,
                           details={"previous": old})
            cp = custody.create_checkpoint(session=session, signer=signer, store=get_store())
            return {"previous": old, "active": signer.key_id, "checkpoint": cp.index}

        emit(in_session(rotate))

    @keys_app.command("c2pa")
    def keys_c2pa() -> None:
        """Show the content-credentials CA: the active root and signer, and every root a
        released file may be signed under (the PEM published at /api/v1/keys/c2pa)."""
        from bwc_custody.vault.service import get_agency_ca

        ca = get_agency_ca()
        emit({**_ca_summary(ca), "roots_pem": ca.trusted_roots_pem()})

    @keys_app.command("rotate-c2pa")
    def keys_rotate_c2pa(
        root: bool = typer.Option(False, "--root", help="Also make a new root (else only a "
                                  "new signing certificate under the current root)."),
    ) -> None:
        """Make a new C2PA signing certificate (and with --root a new root); the retired
        private keys are destroyed, the retired roots stay published so every release they
        signed still verifies as trusted."""
        from bwc_custody.vault.service import get_agency_ca

        def rotate(session: Session) -> dict[str, Any]:
            actor = cli_operator()  # a refused --as stops here, before a key is made
            old = get_agency_ca()
            new = old.rotate_root() if root else old.rotate_signer()
            previous = {"previous_root": old.root_id, "previous_signer": old.signer_id}
            _log_ca(session, actor, "keys.c2pa_rotate", new, {**previous, "root": root})
            return {**_ca_summary(new), **previous}

        emit(in_session(rotate))

    @keys_app.command("import-c2pa")
    def keys_import_c2pa(
        chain: Path = typer.Argument(..., exists=True, dir_okay=False,
                                     help="PEM chain: the signing certificate first, its "
                                     "intermediates, the root last."),
        key: Path = typer.Argument(..., exists=True, dir_okay=False,
                                   help="The signing certificate's private key (unencrypted PEM)."),
        replace: bool = typer.Option(False, help="Retire the CA in use (its roots stay "
                                     "published for the releases it signed)."),
    ) -> None:
        """Sign releases with a certificate from the agency's own CA instead of the one
        `bwc init` made; checked (usage, chain, key) before anything is written."""
        from bwc_custody.config import get_settings

        def install(session: Session) -> dict[str, Any]:
            actor = cli_operator()  # a refused --as stops here, before anything is written
            directory = get_settings().c2pa_dir
            before = AgencyCA(directory) if _ca_exists(directory) else None
            new = AgencyCA.import_chain(directory, chain_pem=chain.read_bytes(),
                                        key_pem=key.read_bytes(), replace=replace)
            previous = ({"previous_root": before.root_id, "previous_signer": before.signer_id}
                        if before else {})
            _log_ca(session, actor, "keys.c2pa_import", new, previous)
            return {**_ca_summary(new), **previous}

        emit(in_session(install))


def _ca_exists(directory: Path) -> bool:
    return (directory / ACTIVE_FILE).exists()


def _ca_summary(ca: AgencyCA) -> dict[str, Any]:
    """What the CA is, for the command's output and the custody log."""
    return {"root_id": ca.root_id, "signer_id": ca.signer_id, "source": ca.source,
            "trusted_root_ids": [cert_id(c) for c in ca.trusted_roots()]}


def _log_ca(session: Session, actor: Principal, action: str, ca: AgencyCA,
            details: dict[str, Any]) -> None:
    """A CA made, rotated or imported is a custody event: releases are signed under it."""
    from bwc_custody.custody import service as custody

    custody.append(session=session, actor=actor, action=action,
                   target_type="c2pa_ca", target_id=ca.signer_id,
                   details={**details, **_ca_summary(ca)})
