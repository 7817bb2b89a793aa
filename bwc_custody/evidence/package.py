"""Evidence export packages: the file, its hash, every custody entry about it with inclusion
proofs to a signed checkpoint, the checkpoint's RFC 3161 timestamp and the TSA's CA (when
the agency timestamps), the public key, the agency's content-credentials (C2PA) roots that
its released copies are signed under, and a standalone verifier.

Completeness: the package's last entry, `evidence.package`, lists the sequence numbers of
every entry about the evidence before it and is the checkpoint's last leaf (appended and
signed under one hold of the log's lock), so a package that leaves an entry out, or ends
early, fails `verify_package.py`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from bwc_custody.auth.service import Principal
from bwc_custody.custody import service as custody
from bwc_custody.custody import timestamps
from bwc_custody.custody.errors import PackageExists, ProofUnavailable
from bwc_custody.db import session_scope
from bwc_custody.evidence.service import export_original, get_or_raise
from storage.keys import Keyring, Signer
from storage.objectstore import ObjectStore

PACKAGE_FORMAT = "bwc-evidence-package-v2"
C2PA_ROOTS = "c2pa-roots.pem"
TIMESTAMP_TOKEN = "checkpoint.tsr"
TSA_CA = "tsa-ca.pem"
# the standalone verifier (stdlib only) lives with the custody log whose proofs it checks
VERIFIER = Path(__file__).parents[1] / "custody" / "verify_package.py"


def _safe_name(name: str | None, fallback: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name or "").name).lstrip(".")
    return cleaned or fallback


def _prepare(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PackageExists(f"{out} exists and is not an empty directory", out=str(out))
    (out / "evidence").mkdir(parents=True, exist_ok=True)


def build_package(
    *,
    engine: Engine,
    store: ObjectStore,
    keyring: Keyring,
    signer: Signer,
    c2pa_roots_pem: str,
    evidence_id: str,
    out: Path,
    actor: Principal,
    reason: str = "",
    client_addr: str = "",
    tsa: timestamps.TsaConfig | None = None,
) -> dict[str, Any]:
    """Write the package for `evidence_id` into the empty directory `out`; returns the manifest.

    `c2pa_roots_pem` (`AgencyCA.trusted_roots_pem()`) goes in as `c2pa-roots.pem`: the
    verifier checks a released copy of this recording against it (`--file`).

    Three transactions: the export (recorded); then, under the log's lock, the list of every
    entry about the evidence (`evidence.package`) and a checkpoint ending with it; then the
    proofs, so every entry in the package is proven against a committed, signed root and
    the signed list says none is missing. Then, with a TSA (`tsa`, default the settings'),
    the checkpoint's timestamp, asked for after it committed: a TSA that is down leaves the
    package without one, which its manifest and the verifier say.
    """
    tsa = tsa if tsa is not None else timestamps.tsa_config()
    _prepare(out)
    with session_scope(engine) as session:
        evidence = get_or_raise(session=session, evidence_id=evidence_id)
        rel = f"evidence/{_safe_name(evidence.filename, evidence_id + '.bin')}"
        sha256 = export_original(
            session=session, store=store, keyring=keyring, evidence_id=evidence_id,
            out=out / rel, actor=actor, reason=reason or "evidence package",
            client_addr=client_addr,
        )
        size = evidence.size
    with session_scope(engine) as session:
        custody.lock_log(session)  # nothing may come between the list and its checkpoint
        about = custody.entries_for(session=session, target_id=evidence_id)
        listed = custody.append(
            session=session, actor=actor, action="evidence.package", target_type="evidence",
            target_id=evidence_id, client_addr=client_addr,
            reason=reason or "evidence package",
            details={"entries": len(about), "seqs": [e.seq for e in about],
                     "sha256": sha256})
        cp = custody.create_checkpoint(session=session, signer=signer, store=store)
        if cp.tree_size != listed.seq:  # the lock above makes this impossible; say so if not
            raise ProofUnavailable("the checkpoint does not end with the package's list of "
                                   "entries; nothing was written", tree_size=cp.tree_size)
        cp_doc = custody.checkpoint_document(cp)
    with session_scope(engine) as session:
        entries = [e for e in custody.entries_for(session=session, target_id=evidence_id)
                   if e.seq <= cp.tree_size]
        proven = []
        for entry in entries:
            proof = custody.inclusion_proof(session=session, seq=entry.seq,
                                            tree_size=cp.tree_size)
            proven.append({
                "canonical": custody.canonical_bytes(entry).decode("utf-8"),
                "entry_hash": entry.entry_hash,
                "leaf_index": proof.leaf_index,
                "inclusion_proof": proof.path,
            })
    stamp = _timestamp(engine=engine, store=store, tsa=tsa, index=int(cp_doc["index"]),
                       out=out)
    manifest: dict[str, Any] = {
        "format": PACKAGE_FORMAT, "evidence_id": evidence_id, "file": rel,
        "sha256": sha256, "size": size, "checkpoint": cp_doc, "entries": proven,
        "public_key_file": "public_key.pem", "key_id": signer.key_id,
        "c2pa_roots_file": C2PA_ROOTS,
    }
    if stamp is not None:
        manifest["timestamp"] = stamp
    (out / "public_key.pem").write_text(signer.public_pem)
    (out / C2PA_ROOTS).write_text(c2pa_roots_pem)
    (out / "checkpoint.json").write_text(json.dumps(cp_doc, indent=2, sort_keys=True))
    (out / "SHA256SUMS").write_text(f"{sha256}  {rel}\n")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    shutil.copyfile(VERIFIER, out / "verify_package.py")
    return manifest


def _timestamp(*, engine: Engine, store: ObjectStore, tsa: timestamps.TsaConfig, index: int,
               out: Path) -> dict[str, Any] | None:
    """The package checkpoint's timestamp token and the TSA CA written into `out`, and what
    the manifest says of them; None when the agency timestamps nothing."""
    if not tsa.configured:
        return None
    (out / TSA_CA).write_text(tsa.ca_pem())
    outcome = timestamps.stamp_pending(engine=engine, store=store, tsa=tsa, only=[index])
    with session_scope(engine) as session:
        row = timestamps.get_timestamp(session=session, index=index)
    token = (timestamps.read_token(store=store, index=index, version=row.object_version)
             if row is not None else None)
    if row is None or token is None:
        why = outcome.error.message if outcome.error is not None else "no token stored"
        return {"token_file": None, "tsa_ca_file": TSA_CA,
                "missing": f"no timestamp when the package was made: {why}"}
    (out / TIMESTAMP_TOKEN).write_bytes(token)
    return {"token_file": TIMESTAMP_TOKEN, "tsa_ca_file": TSA_CA, "url": row.tsa_url,
            "tsa": row.tsa_name, "time": row.gen_time.isoformat()}
