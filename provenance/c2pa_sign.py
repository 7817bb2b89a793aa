"""Embed a C2PA 2.x manifest in a released MP4 (with `c2pa-python`, offline).

The manifest says: the file was opened from the original recording (an ingredient named
by title only: the original is never embedded, nor any thumbnail), then edited
(`c2pa.edited`, described in plain words; not `c2pa.redacted`, which in C2PA means
assertions removed from a manifest), by the agency (the signing certificate), when; and
carries the agency's own `org.bwc-custody.release` assertion. With a Time Stamping
Authority the signature also carries an RFC 3161 time, which keeps a release verifiable
after its signing certificate expires.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import c2pa

from provenance.assertion import RELEASE_LABEL, ReleaseAssertion
from provenance.ca import SigningCredentials, cert_id
from provenance.errors import OutputIsInput, SigningFailed, TsaUnavailable, UnsupportedMedia

MIME_MP4 = "video/mp4"
GENERATOR = "bwc-custody"
ORIGINAL_INGREDIENT = "original"
# Nothing of the original goes into the manifest: no thumbnail of it, and none of the
# release either (the release is public anyway; a thumbnail only adds bytes).
BUILD_SETTINGS: dict[str, Any] = {
    "builder": {"thumbnail": {"enabled": False}},
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
}


def _generator_version() -> str:
    try:
        return version("bwc-custody")
    except PackageNotFoundError:
        return "0"


@dataclass(frozen=True)
class TsaAttempt:
    """One TSA that could not timestamp the signature, and why."""

    url: str
    reason: str


@dataclass(frozen=True)
class SignedRelease:
    """The signed file and what signing added."""

    path: Path
    sha256: str  # of the exact bytes written: what the reviewer signs and the requester gets
    size: int
    source_size: int
    manifest_bytes: int  # the C2PA manifest store (JUMBF) as returned by the signer
    signer_id: str  # SHA-256 prefix of the leaf certificate that signed
    timestamp_url: str | None  # the TSA that timestamped the signature, if any
    tsa_attempts: tuple[TsaAttempt, ...]  # TSAs tried first that failed

    @property
    def added_bytes(self) -> int:
        """Bytes the manifest added to the file."""
        return self.size - self.source_size


def manifest_definition(*, release: ReleaseAssertion, edited_at: dt.datetime,
                        title: str, software_version: str | None = None) -> dict[str, Any]:
    """The manifest JSON handed to the C2PA builder (public for tests and review)."""
    when = edited_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return {
        "claim_generator_info": [{"name": GENERATOR, "version": _generator_version()}],
        "title": title,
        "format": MIME_MP4,
        "ingredients": [{
            # Named, never embedded: C2PA 2.x wants an `opened` parent; the original's
            # SHA-256 is in the release assertion.
            "title": "Original recording (withheld; not embedded)",
            "format": MIME_MP4,
            "relationship": "parentOf",
            "label": ORIGINAL_INGREDIENT,
        }],
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [
                {"action": "c2pa.opened",
                 "parameters": {"ingredientIds": [ORIGINAL_INGREDIENT]}},
                {"action": "c2pa.edited", "when": when, "description": release.redaction,
                 "softwareAgent": {"name": f"{GENERATOR} redaction",
                                   "version": software_version or _generator_version()}},
            ]}},
            {"label": RELEASE_LABEL, "data": release.to_dict()},
        ],
    }


def is_mp4(path: Path) -> bool:
    """True when the file starts with an ISO BMFF `ftyp` box."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    return len(head) == 12 and head[4:8] == b"ftyp"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sign_once(definition: dict[str, Any], credentials: SigningCredentials, source: Path,
               tmp: Path, tsa_url: str | None) -> int:
    """One signing attempt into `tmp`; returns the manifest store's size."""
    info = c2pa.C2paSignerInfo(credentials.alg, credentials.chain_pem,
                               credentials.private_key_pem, tsa_url)
    signer = c2pa.Signer.from_info(info)
    context = c2pa.Context.from_dict(BUILD_SETTINGS)
    with c2pa.Builder(definition, context=context) as builder, \
            open(source, "rb") as src, open(tmp, "w+b") as dst:
        manifest: bytes = builder.sign(signer, MIME_MP4, src, dst)
    return len(manifest)


def sign_release(*, source: Path, dest: Path, credentials: SigningCredentials,
                 release: ReleaseAssertion, edited_at: dt.datetime, title: str | None = None,
                 tsa_urls: Sequence[str] = (), require_timestamp: bool = False,
                 software_version: str | None = None) -> SignedRelease:
    """Write `dest`: `source` with the release manifest embedded and signed.

    Each TSA in `tsa_urls` is tried in turn for the signature's timestamp; if none answers,
    the file is signed without one (or TsaUnavailable is raised with `require_timestamp`).
    `dest` appears complete or not at all.
    """
    if not source.is_file():
        raise UnsupportedMedia(f"{source} is not a file", path=str(source))
    if dest.resolve() == source.resolve():
        raise OutputIsInput("the signed copy must not overwrite its source", path=str(dest))
    if not is_mp4(source):
        raise UnsupportedMedia(f"{source.name} is not an MP4 (ISO BMFF) file", path=str(source))
    definition = manifest_definition(release=release, edited_at=edited_at,
                                     title=title or dest.name, software_version=software_version)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.signing")
    attempts: list[TsaAttempt] = []
    try:
        manifest_bytes, used = _sign_trying_tsas(definition, credentials, source, tmp,
                                                 tsa_urls, require_timestamp, attempts)
        sha256, size = _sha256(tmp), tmp.stat().st_size
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return SignedRelease(path=dest, sha256=sha256, size=size, source_size=source.stat().st_size,
                         manifest_bytes=manifest_bytes, signer_id=cert_id(credentials.leaf),
                         timestamp_url=used, tsa_attempts=tuple(attempts))


def _sign_trying_tsas(definition: dict[str, Any], credentials: SigningCredentials,
                      source: Path, tmp: Path, tsa_urls: Sequence[str],
                      require_timestamp: bool,
                      attempts: list[TsaAttempt]) -> tuple[int, str | None]:
    for url in tsa_urls:
        try:
            return _sign_once(definition, credentials, source, tmp, url), url
        except c2pa.C2paError as exc:
            attempts.append(TsaAttempt(url, str(exc)))
    if require_timestamp:
        raise TsaUnavailable(
            "no Time Stamping Authority timestamped the release signature" if tsa_urls
            else "a timestamp is required but no TSA URL is configured",
            attempts=[{"url": a.url, "reason": a.reason} for a in attempts])
    try:
        return _sign_once(definition, credentials, source, tmp, None), None
    except c2pa.C2paError as exc:
        raise SigningFailed(f"C2PA signing failed: {exc}",
                            attempts=[{"url": a.url, "reason": a.reason} for a in attempts]
                            ) from None
