#!/usr/bin/env python3
"""Check a bwc-custody evidence package without the server (Python 3.9+, `cryptography`).

    python verify_package.py PACKAGE_DIR --key-id KEY_ID [--key-id RETIRED_KEY_ID ...]
                             [--tsa-ca-sha256 HEX ...] [--file RELEASED.mp4 [--sha256 HEX]]

It re-hashes the evidence file, recomputes every custody entry's hash and its Merkle leaf
(RFC 6962), walks each inclusion proof up to the checkpoint root (RFC 9162 §2.1.3.2), checks
the checkpoint's Ed25519 signature, and checks that the package holds every entry about the
evidence up to that checkpoint: its last entry, `evidence.package`, is the checkpoint's last
leaf and lists the sequence numbers of all the others.

The enclosed public key proves nothing by itself: anyone can sign a package of their own.
Pin the agency's key: take its key id from the agency (GET /api/v1/keys/signing on its
server, the `key_id` field or a `retired` one; or as its custodian states it under oath) and
pass it with --key-id. Without a pinned key that matches, the package does not verify (the
output prints the key id found, to compare).

When the agency timestamps its checkpoints, the package also holds the checkpoint's RFC 3161
timestamp token (`checkpoint.tsr`, as the Time Stamping Authority sent it) and the TSA's CA
certificate(s) (`tsa-ca.pem`): the token must be a timestamp of the checkpoint's signed bytes
and its signature, signed by a timestamping certificate under that CA; the TSA's time is
printed. A package whose manifest names a timestamp but holds none (or a bad one) fails.
The enclosed TSA CA is named by its SHA-256 (`tsa_ca_sha256`): compare it with the TSA's
published root, and pass `--tsa-ca-sha256` to require a timestamp under that root (then a
package without one fails too). The token check needs `pip install rfc3161-client`, or the
`openssl` command (`openssl ts -verify`), whichever is there.

`--file` also checks a released (redacted) copy of this recording: its C2PA manifest must be
intact and signed under the agency roots enclosed (`c2pa-roots.pem`; compare them with GET
/api/v1/keys/c2pa), and its release assertion must name this package's original. That check
needs `pip install c2pa-python`; without it only `--sha256` (the hash in the written
response) is compared. Exit status 0 only when every check holds.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PACKAGE_FORMAT = "bwc-evidence-package-v2"
LIST_ACTION = "evidence.package"
WHERE_TO_COMPARE = ("the key id the agency publishes at GET /api/v1/keys/signing on its server "
                    "(`key_id`, or one of `retired`), or states under oath")
CHECKPOINT_FORMAT = "bwc-checkpoint-v1"


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2 inclusion-proof verification."""
    if index < 0 or index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def checkpoint_signed_bytes(cp: dict[str, Any]) -> bytes:
    """The bytes the server signed for a checkpoint."""
    return (f"{CHECKPOINT_FORMAT}\n{int(cp['index'])}\n{int(cp['tree_size'])}\n"
            f"{cp['root_hash']}\n{cp['created_at']}\n").encode()


def checkpoint_timestamped_bytes(cp: dict[str, Any]) -> bytes:
    """The bytes the checkpoint's RFC 3161 timestamp covers: signed bytes, then signature."""
    return checkpoint_signed_bytes(cp) + f"{cp['signature']}\n".encode()


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _seqs(numbers: set[int]) -> str:
    return ", ".join(str(n) for n in sorted(numbers))


def _check_complete(manifest: dict[str, Any], entries: list[dict[str, Any]], tree_size: int,
                    problems: list[str]) -> None:
    """The package's entries against the signed list of every entry about the evidence."""
    if not entries:
        problems.append("the package holds no custody entries")
        return
    seqs = [int(e["seq"]) for e in entries]
    if seqs != sorted(set(seqs)):
        problems.append("custody entries are not in sequence order, or one appears twice")
    last = entries[-1]
    if (last.get("action") != LIST_ACTION or int(last["seq"]) != tree_size
            or last.get("target_id") != manifest["evidence_id"]):
        problems.append(f"the package does not end with the {LIST_ACTION} entry that is the "
                        f"checkpoint's last leaf (seq {tree_size}): it cannot show that it "
                        "holds every entry about the evidence")
        return
    listed = last.get("details", {}).get("seqs")
    if not isinstance(listed, list) or len(listed) != last["details"].get("entries"):
        problems.append(f"custody entry seq {last['seq']}: its list of entries is malformed")
        return
    held, wanted = set(seqs[:-1]), {int(n) for n in listed}
    if wanted - held:
        problems.append(
            f"custody entries about the evidence are missing from the package: seq "
            f"{_seqs(wanted - held)} (the log listed {len(wanted)} up "
            f"to checkpoint size {tree_size}, the package holds {len(held)})")
    if held - wanted:
        problems.append(f"custody entries seq {_seqs(held - wanted)} "
                        "are not among those the log listed for the evidence")
    if last["details"].get("sha256") not in (None, manifest["sha256"]):
        problems.append(f"custody entry seq {last['seq']}: lists the entries of another file")


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """The key id the server gives a public key: SHA-256 of its raw bytes, 16 hex digits."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def check_package(directory: Path, expected_key_ids: list[str] | str | None = None,
                  tsa_ca_sha256: list[str] | None = None) -> list[str]:
    """Every problem found in the package at `directory` (empty when it verifies). Without
    `expected_key_ids` (the agency's published key ids) the key is not pinned: a problem.
    With `tsa_ca_sha256`, a checkpoint timestamp under one of those TSA roots is required."""
    pinned = ([expected_key_ids] if isinstance(expected_key_ids, str)
              else list(expected_key_ids or []))
    problems: list[str] = []
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != PACKAGE_FORMAT:
        return [f"manifest.json: unknown format {manifest.get('format')!r} (this verifier "
                f"reads {PACKAGE_FORMAT}; use the verify_package.py that came with it)"]
    pem = (directory / manifest["public_key_file"]).read_bytes()
    public_key = serialization.load_pem_public_key(pem)
    if not isinstance(public_key, Ed25519PublicKey):
        return ["public key is not Ed25519"]
    key_id = key_id_of(public_key)
    if not pinned:
        problems.append(f"the signing key is not pinned: compare key id {key_id} with "
                        f"{WHERE_TO_COMPARE}, then run again with --key-id")
    elif key_id not in pinned:
        problems.append(f"public key id {key_id} is not the expected "
                        f"{' or '.join(pinned)}: the package was signed by another key")

    cp = manifest["checkpoint"]
    if cp.get("key_id") != key_id:
        problems.append(f"checkpoint names key {cp.get('key_id')}, package key is {key_id}")
    try:
        public_key.verify(base64.b64decode(cp["signature"]), checkpoint_signed_bytes(cp))
    except (InvalidSignature, ValueError):
        problems.append(f"checkpoint {cp['index']}: signature does not verify")
    root = bytes.fromhex(cp["root_hash"])

    file_path = directory / manifest["file"]
    if not file_path.is_file():
        problems.append(f"{manifest['file']}: missing")
    elif sha256_file(file_path) != manifest["sha256"]:
        problems.append(f"{manifest['file']}: SHA-256 differs from the manifest")

    ingest_hashes = set()
    entries = []
    for item in manifest["entries"]:
        canonical = item["canonical"].encode("utf-8")
        entry = json.loads(canonical)
        entries.append(entry)
        ref = f"custody entry seq {entry['seq']}"
        if hashlib.sha256(canonical).hexdigest() != item["entry_hash"]:
            problems.append(f"{ref}: entry_hash does not match its content")
        if entry.get("target_id") != manifest["evidence_id"]:
            problems.append(f"{ref}: concerns {entry.get('target_id')!r}, not this evidence")
        if int(item["leaf_index"]) != int(entry["seq"]) - 1:
            problems.append(f"{ref}: leaf index does not match its sequence number")
        proof = [bytes.fromhex(h) for h in item["inclusion_proof"]]
        if not verify_inclusion(int(item["leaf_index"]), int(cp["tree_size"]),
                                leaf_hash(canonical), proof, root):
            problems.append(f"{ref}: inclusion proof does not lead to the checkpoint root")
        if entry.get("action") == "evidence.ingest":
            ingest_hashes.add(entry.get("details", {}).get("sha256"))
    if manifest["sha256"] not in ingest_hashes:
        problems.append("no proven evidence.ingest entry records this file's SHA-256")
    _check_complete(manifest, entries, int(cp["tree_size"]), problems)
    problems += check_timestamp(directory, manifest, tsa_ca_sha256)[1]
    return problems


# ---- the checkpoint's RFC 3161 timestamp ------------------------------------------------

SHA256_OID = "2.16.840.1.101.3.4.2.1"
WHERE_TO_COMPARE_TSA = ("the SHA-256 of the root certificate the Time Stamping Authority "
                        "publishes (or the agency's BWC_TSA_CA_FILE, as its custodian states it)")


def _fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _with_rfc3161_client(token: bytes, message: bytes, certs: list[x509.Certificate]
                         ) -> dict[str, Any] | None:
    """The token checked by rfc3161-client; None when it is not installed."""
    try:
        import rfc3161_client  # optional: openssl is the other way
    except ImportError:
        return None
    try:
        response = rfc3161_client.decode_timestamp_response(token)
        info = response.tst_info
        found: dict[str, Any] = {"time": info.gen_time.isoformat(),
                                 "serial": str(info.serial_number), "checked_by": "rfc3161-client"}
        imprint = info.message_imprint
    except ValueError as exc:
        return {"checked_by": "rfc3161-client", "problem": f"not a readable token: {exc}"}
    if (imprint.hash_algorithm.dotted_string == SHA256_OID
            and imprint.message != hashlib.sha256(message).digest()):
        return {**found, "problem": "the token timestamps another message, not this "
                                    "checkpoint (moved from another one?)"}
    builder = rfc3161_client.VerifierBuilder()
    for cert in certs:
        builder = (builder.add_root_certificate(cert) if cert.issuer == cert.subject
                   else builder.add_intermediate_certificate(cert))
    try:
        builder.build().verify_message(response, message)
    except rfc3161_client.VerificationError as exc:
        return {**found, "problem": f"does not verify under the enclosed TSA CA: {exc}"}
    return found


def _with_openssl(token: bytes, message: bytes, ca_pem: bytes) -> dict[str, Any] | None:
    """The token checked by `openssl ts -verify`; None when openssl is not installed."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data, tsr, ca = Path(tmp) / "data", Path(tmp) / "token.tsr", Path(tmp) / "ca.pem"
        data.write_bytes(message)
        tsr.write_bytes(token)
        ca.write_bytes(ca_pem)
        text = subprocess.run([openssl, "ts", "-reply", "-in", str(tsr), "-text"],
                              capture_output=True, text=True, check=False).stdout
        run = subprocess.run([openssl, "ts", "-verify", "-data", str(data), "-in", str(tsr),
                              "-CAfile", str(ca)], capture_output=True, text=True, check=False)
    found: dict[str, Any] = {"checked_by": "openssl"}
    when = re.search(r"^Time stamp: (.+)$", text, re.MULTILINE)
    if when:
        found["time"] = when.group(1).strip()
    if run.returncode != 0 or "Verification: OK" not in run.stdout:
        detail = " ".join((run.stdout + run.stderr).split())[-300:]
        found["problem"] = ("the token timestamps another message, not this checkpoint "
                            "(moved from another one?)" if "imprint mismatch" in detail
                            else f"openssl ts -verify failed: {detail}")
    return found


def check_timestamp(directory: Path, manifest: dict[str, Any],
                    pinned: list[str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """What the checkpoint's timestamp check found, and its problems (empty when it holds
    or the agency timestamps nothing and none is required)."""
    pinned = [p.lower() for p in pinned or []]
    stamp = manifest.get("timestamp")
    if not isinstance(stamp, dict):
        found: dict[str, Any] = {"status": "none: the agency's server timestamps no "
                                           "checkpoints (no TSA configured)"}
        return found, (["--tsa-ca-sha256 was given but the package holds no timestamp"]
                       if pinned else [])
    problems: list[str] = []
    ca_path = directory / str(stamp.get("tsa_ca_file") or "tsa-ca.pem")
    certs = (x509.load_pem_x509_certificates(ca_path.read_bytes())
             if ca_path.is_file() and ca_path.stat().st_size else [])
    roots = [_fingerprint(c) for c in certs if c.issuer == c.subject]
    found = {"tsa_ca_sha256": roots, "compare_tsa_ca_with": WHERE_TO_COMPARE_TSA,
             "tsa_pinned": bool(pinned), "tsa": stamp.get("tsa"), "url": stamp.get("url")}
    if not roots:
        problems.append(f"the package holds no TSA root certificate ({ca_path.name})")
    elif pinned and not set(roots) & set(pinned):
        problems.append(f"the enclosed TSA root(s) {', '.join(roots)} are not the expected "
                        f"{' or '.join(pinned)}")
    token_file = stamp.get("token_file")
    if not token_file:
        found["status"] = "missing"
        return found, [*problems, "the checkpoint is not timestamped: "
                       + str(stamp.get("missing") or "no token in the package")]
    token_path = directory / str(token_file)
    if not token_path.is_file():
        found["status"] = "missing"
        return found, [*problems, f"{token_file}: the checkpoint's timestamp token is missing"]
    token = token_path.read_bytes()
    message = checkpoint_timestamped_bytes(manifest["checkpoint"])
    checked = _with_rfc3161_client(token, message, certs) if certs else None
    if checked is None and certs:
        checked = _with_openssl(token, message, ca_path.read_bytes())
    if checked is None:
        found["status"] = "not checked: pip install rfc3161-client, or install openssl"
        return found, problems + ([f"{token_file}: {found['status']}"] if pinned else [])
    found.update(checked)
    if "problem" in checked:
        found["status"] = "NOT verified"
        problems.append(f"{token_file}: {checked['problem']}")
    else:
        found["status"] = "verified"
    return found, problems


RELEASE_LABEL = "org.bwc-custody.release"


def _c2pa_store(path: Path, roots_pem: str) -> dict[str, Any] | str:
    """The file's C2PA manifest store as c2pa validates it under `roots_pem` only (offline),
    or why there is none; a string "unavailable" when c2pa-python is not installed."""
    try:
        import c2pa  # optional: only a released file's manifest needs it
    except ImportError:
        return "unavailable"
    settings = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
                "trust": {"trust_anchors": roots_pem}}
    try:
        with open(path, "rb") as fh:
            reader = c2pa.Reader.try_create("video/mp4", fh, None,
                                            c2pa.Context.from_dict(settings))
            if reader is None:
                return "no C2PA manifest (stripped, re-encoded or never signed)"
            with reader:
                store: dict[str, Any] = json.loads(reader.json())
    except c2pa.C2paError as exc:
        return f"the C2PA manifest cannot be read: {exc}"
    return store


def check_release_file(directory: Path, manifest: dict[str, Any], path: Path,
                       expected_sha256: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """What a released copy's check found, and its problems (empty when it holds)."""
    problems: list[str] = []
    digest = sha256_file(path)
    found: dict[str, Any] = {"file": str(path), "sha256": digest}
    if expected_sha256 and expected_sha256.lower() != digest:
        problems.append(f"{path.name}: SHA-256 {digest} is not the expected {expected_sha256}")
    roots = directory / manifest.get("c2pa_roots_file", "c2pa-roots.pem")
    if not roots.is_file():
        return found, [*problems, "the package carries no C2PA roots (c2pa-roots.pem)"]
    store = _c2pa_store(path, roots.read_text(encoding="utf-8"))
    if store == "unavailable":
        found["c2pa"] = "not checked: pip install c2pa-python"
        if not expected_sha256:
            problems.append(f"{path.name}: C2PA not checked (pip install c2pa-python) and no "
                            "--sha256 to compare")
        return found, problems
    if isinstance(store, str):
        return found, [*problems, f"{path.name}: {store}"]
    validation = store.get("validation_results", {})
    results = validation.get("activeManifest") or validation.get("active_manifest") or {}
    failures = [f"{f.get('code')}: {f.get('explanation', '')}".strip()
                for f in results.get("failure", [])]
    found["c2pa"] = store.get("validation_state")
    if store.get("validation_state") != "Trusted" or failures:
        problems += [f"{path.name}: C2PA {store.get('validation_state')}"] + [
            f"{path.name}: {f}" for f in failures]
    active = store.get("manifests", {}).get(store.get("active_manifest"), {})
    release = next((a.get("data") for a in active.get("assertions", [])
                    if a.get("label") == RELEASE_LABEL), None)
    found["release"] = release
    if not isinstance(release, dict):
        problems.append(f"{path.name}: no {RELEASE_LABEL} assertion")
    elif release.get("original_sha256") != manifest["sha256"]:
        problems.append(f"{path.name}: its release assertion names original "
                        f"{release.get('original_sha256')}, not this package's")
    return found, problems


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="the package directory")
    parser.add_argument("--key-id", action="append", default=[],
                        help="a signing key id the agency publishes (repeat for retired ones)")
    parser.add_argument("--tsa-ca-sha256", action="append", default=[],
                        help="SHA-256 of a TSA root to require the checkpoint's timestamp "
                             "under (repeat for several)")
    parser.add_argument("--file", type=Path, help="a released copy of this recording")
    parser.add_argument("--sha256", help="the released copy's SHA-256 (written response)")
    args = parser.parse_args(argv)
    problems = check_package(args.package, args.key_id, args.tsa_ca_sha256)
    manifest = json.loads((args.package / "manifest.json").read_text(encoding="utf-8"))
    released = None
    if args.file is not None:
        released, found = check_release_file(args.package, manifest, args.file, args.sha256)
        problems += found
    cp = manifest["checkpoint"]
    public_key = serialization.load_pem_public_key(
        (args.package / manifest["public_key_file"]).read_bytes())
    result = {
        "ok": not problems, "evidence_id": manifest["evidence_id"],
        "sha256": manifest["sha256"], "entries": len(manifest["entries"]),
        "checkpoint": {k: cp[k] for k in ("index", "tree_size", "root_hash", "created_at")},
        "key_id": (key_id_of(public_key) if isinstance(public_key, Ed25519PublicKey)
                   else None),
        "key_pinned": bool(args.key_id),
        "compare_key_id_with": WHERE_TO_COMPARE,
        "timestamp": check_timestamp(args.package, manifest, args.tsa_ca_sha256)[0],
        "problems": problems,
    }
    if released is not None:
        result["released_file"] = released
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
