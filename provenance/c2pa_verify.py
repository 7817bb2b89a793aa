"""Check a released file's C2PA manifest offline: trusted under the agency's roots, valid
but untrusted, or invalid (naming each failed check), with the release assertion."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa
from cryptography import x509

from provenance.assertion import RELEASE_LABEL, ReleaseAssertion
from provenance.ca import cert_pem

# Offline and self-contained: never fetch a remote manifest or an OCSP answer.
READ_SETTINGS: dict[str, Any] = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
}

# Checks of our own, beside the C2PA validation codes (prefixed so they never read as one).
NO_MANIFEST = "bwc.manifest_missing"
UNREADABLE = "bwc.manifest_unreadable"
SHA256_MISMATCH = "bwc.sha256_mismatch"

# Plain words for the C2PA codes a person is most likely to meet.
EXPLAIN = {
    "assertion.bmffHash.mismatch": "the video's bytes are not the ones signed (altered after "
                                   "signing, or the manifest was taken from another file)",
    "assertion.dataHash.mismatch": "the file's bytes are not the ones signed",
    "assertion.hashedURI.mismatch": "an assertion in the manifest was changed after signing",
    "claimSignature.mismatch": "the manifest's signature does not match its claim",
    "signingCredential.untrusted": "signed by a certificate that does not chain to the "
                                   "trusted roots given",
    "signingCredential.expired": "the signing certificate was not valid at the signing time "
                                 "(or now, when the signature carries no trusted timestamp)",
    "signingCredential.revoked": "the signing certificate was revoked",
    "signingCredential.invalid": "the signing certificate is not acceptable for C2PA",
    NO_MANIFEST: "the file carries no C2PA manifest (stripped, re-encoded or never signed); "
                 "compare its SHA-256 with the one in the written response",
    UNREADABLE: "the manifest could not be read (damaged, or not a media file C2PA knows)",
    SHA256_MISMATCH: "the file's SHA-256 is not the one the release names",
}


class Verdict(enum.StrEnum):
    """The three answers `bwc verify-file` gives."""

    TRUSTED = "trusted"  # valid, and signed under one of the trusted roots
    VALID_UNTRUSTED = "valid_untrusted"  # intact and well signed, by a certificate not trusted
    INVALID = "invalid"  # a check failed: see failures


@dataclass(frozen=True)
class Check:
    """One failed (or notable) check: a C2PA validation code or one of ours."""

    code: str
    explanation: str


@dataclass(frozen=True)
class FileVerification:
    """What `verify_file` found."""

    verdict: Verdict
    failures: tuple[Check, ...]
    sha256: str
    signer: str | None = None  # the signing certificate's subject
    issuer: str | None = None
    signed_at: dt.datetime | None = None  # the RFC 3161 time in the signature, if any
    # "trusted", "untrusted" (the TSA not under the roots it was checked against) or "absent"
    timestamp: str = "absent"
    # what the timestamp was checked against: "tsa_roots" (BWC_TSA_CA_FILE) or "signing_roots"
    timestamp_roots: str = "signing_roots"
    actions: tuple[dict[str, Any], ...] = ()
    release: ReleaseAssertion | None = None
    manifest_label: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready report (for `bwc verify-file --json`)."""
        return {
            "verdict": self.verdict.value, "sha256": self.sha256,
            "failures": [{"code": c.code, "explanation": c.explanation} for c in self.failures],
            "signer": self.signer, "issuer": self.issuer,
            "signed_at": self.signed_at.isoformat() if self.signed_at else None,
            "timestamp": self.timestamp, "timestamp_roots": self.timestamp_roots,
            "actions": list(self.actions),
            "release": self.release.to_dict() if self.release else None,
            "manifest_label": self.manifest_label,
        }

    def lines(self) -> list[str]:
        """A short report for people, verdict first."""
        head = {Verdict.TRUSTED: "VALID and TRUSTED: signed under the agency root",
                Verdict.VALID_UNTRUSTED: "VALID but UNTRUSTED: intact, but not signed under "
                                         "a root you trust",
                Verdict.INVALID: "INVALID"}[self.verdict]
        out = [head, f"sha256: {self.sha256}"]
        out += [f"failed: {c.code}: {c.explanation}" for c in self.failures]
        if self.signer:
            out.append(f"signer: {self.signer} (issued by {self.issuer})")
        if self.signed_at:
            under = ("under the TSA CA given (BWC_TSA_CA_FILE)"
                     if self.timestamp_roots == "tsa_roots" else "under the signing roots")
            out.append(f"signed at: {self.signed_at.isoformat()} (RFC 3161 timestamp "
                       f"{self.timestamp.upper()} {under})")
        for action in self.actions:
            if action.get("description"):
                out.append(f"{action.get('action')}: {action['description']}")
        if self.release:
            claimed = "" if self.verdict is Verdict.TRUSTED else " (claimed; not trusted)"
            out.append(f"release assertion{claimed}: "
                       + json.dumps(self.release.to_dict(), sort_keys=True))
        return out


def _explain(code: str, fallback: str = "") -> Check:
    return Check(code, EXPLAIN.get(code) or fallback or code)


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_store(path: Path, roots: Sequence[x509.Certificate]) -> dict[str, Any] | Check:
    """The manifest store as c2pa reports it (validated), or the check that stopped us."""
    settings = dict(READ_SETTINGS)
    if roots:
        # Replaces c2pa's built-in anchors: "trusted" means under these roots only.
        settings["trust"] = {"trust_anchors": b"".join(cert_pem(r) for r in roots).decode()}
    context = c2pa.Context.from_dict(settings)
    try:
        with open(path, "rb") as fh:
            reader = c2pa.Reader.try_create("video/mp4", fh, None, context)
            if reader is None:
                return _explain(NO_MANIFEST)
            with reader:
                store: dict[str, Any] = json.loads(reader.json())
    except c2pa.C2paError as exc:
        return Check(UNREADABLE, f"{EXPLAIN[UNREADABLE]}: {exc}")
    return store


def verify_file(path: Path, trusted_roots: Sequence[x509.Certificate] = (), *,
                expected_sha256: str | None = None,
                tsa_roots: Sequence[x509.Certificate] = ()) -> FileVerification:
    """Validate the C2PA manifest in `path`; "trusted" only under `trusted_roots`.

    `expected_sha256` (from the written response or the reviewer's statement) also binds the
    bytes C2PA leaves outside its hash (the `ftyp`, `free` and `skip` boxes). With
    `tsa_roots` (BWC_TSA_CA_FILE) the signature's RFC 3161 timestamp is checked under them,
    in a read of its own: never added to the signing roots, where a TSA's CA would also
    vouch for signers.
    """
    sha256 = file_sha256(path)
    sha_failure = ([_explain(SHA256_MISMATCH)]
                   if expected_sha256 and expected_sha256.lower() != sha256 else [])
    store = _read_store(path, trusted_roots)
    if isinstance(store, Check):
        return FileVerification(Verdict.INVALID, (store, *sha_failure), sha256)
    label = store.get("active_manifest")
    manifest = store.get("manifests", {}).get(label, {})
    results = store.get("validation_results", {}).get("active_manifest") \
        or store.get("validation_results", {}).get("activeManifest") or {}
    failures = [_explain(f["code"], f.get("explanation", "")) for f in results.get("failure", [])]
    codes = {s["code"] for s in results.get("success", [])} \
        | {s["code"] for s in results.get("informational", [])}
    state = store.get("validation_state")
    untrusted_only = all(f.code == "signingCredential.untrusted" for f in failures)
    if state == "Trusted" and not failures and not sha_failure:
        verdict = Verdict.TRUSTED
    elif state in ("Trusted", "Valid") and untrusted_only and not sha_failure:
        verdict = Verdict.VALID_UNTRUSTED
    else:
        verdict = Verdict.INVALID
        failures = [f for f in failures if f.code != "signingCredential.untrusted"] or failures
        failures += sha_failure
        if not failures:
            failures = [Check(f"c2pa.{state}", f"c2pa reported the manifest {state}")]
    info = manifest.get("signature_info", {})
    signed_at = dt.datetime.fromisoformat(info["time"]) if info.get("time") else None
    timestamp = ("trusted" if "timeStamp.trusted" in codes else
                 "untrusted" if signed_at is not None else "absent")
    if tsa_roots and signed_at is not None:
        timestamp = _timestamp_under(path, tsa_roots)
    return FileVerification(
        verdict=verdict, failures=tuple(failures), sha256=sha256,
        signer=info.get("common_name"), issuer=info.get("issuer"), signed_at=signed_at,
        timestamp=timestamp, timestamp_roots="tsa_roots" if tsa_roots else "signing_roots",
        actions=tuple(_actions(manifest)),
        release=_release(manifest), manifest_label=label)


def _timestamp_under(path: Path, tsa_roots: Sequence[x509.Certificate]) -> str:
    """"trusted" when c2pa finds the signature's timestamp signed under `tsa_roots`, else
    "untrusted" (only its timestamp codes are read: the signer is judged by the first read)."""
    store = _read_store(path, tsa_roots)
    if isinstance(store, Check):
        return "untrusted"
    results = store.get("validation_results", {}).get("active_manifest") \
        or store.get("validation_results", {}).get("activeManifest") or {}
    codes = {s["code"] for part in ("success", "informational", "failure")
             for s in results.get(part, [])}
    return "trusted" if "timeStamp.trusted" in codes else "untrusted"


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    for assertion in manifest.get("assertions", []):
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            return list(assertion.get("data", {}).get("actions", []))
    return []


def _release(manifest: dict[str, Any]) -> ReleaseAssertion | None:
    for assertion in manifest.get("assertions", []):
        if assertion.get("label") == RELEASE_LABEL:
            try:
                return ReleaseAssertion.from_dict(assertion.get("data", {}))
            except ValueError:
                return None
    return None
