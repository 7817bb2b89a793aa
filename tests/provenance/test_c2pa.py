"""C2PA manifests on released files: what is embedded, and each kind of tampering caught."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import c2pa
import pytest

from provenance.assertion import RELEASE_LABEL, ReleaseAssertion
from provenance.c2pa_sign import SignedRelease, sign_release
from provenance.c2pa_verify import (
    NO_MANIFEST,
    SHA256_MISMATCH,
    UNREADABLE,
    Verdict,
    file_sha256,
    verify_file,
)
from provenance.ca import AgencyCA
from provenance.errors import OutputIsInput, SigningFailed, TsaUnavailable, UnsupportedMedia
from tests.provenance.conftest import AGENCY, EDITED_AT, box, top_boxes
from tests.support.s3server import free_port
from tests.support.tsa import TsaServer


def _store(path: Path) -> dict[str, object]:
    with open(path, "rb") as fh, c2pa.Reader("video/mp4", fh) as reader:
        store: dict[str, object] = json.loads(reader.json())
    return store


def _write_flipped(src: Path, dest: Path, offset: int) -> Path:
    data = bytearray(src.read_bytes())
    data[offset] ^= 0x01
    dest.write_bytes(bytes(data))
    return dest


def test_a_release_verifies_trusted_under_the_agency_root(
        signed: SignedRelease, agency_ca: AgencyCA, release: ReleaseAssertion, clip: Path) -> None:
    assert signed.sha256 == file_sha256(signed.path)
    assert signed.size == signed.path.stat().st_size
    assert signed.source_size == clip.stat().st_size
    assert 0 < signed.manifest_bytes < signed.added_bytes
    result = verify_file(signed.path, agency_ca.trusted_roots(), expected_sha256=signed.sha256)
    assert result.verdict is Verdict.TRUSTED
    assert result.failures == ()
    assert result.release == release  # every given field comes back
    assert result.signer == f"{AGENCY} Release Signing"
    assert result.issuer == AGENCY
    assert [a["action"] for a in result.actions] == ["c2pa.opened", "c2pa.edited"]
    edited = result.actions[1]
    assert edited["description"] == release.redaction
    assert dt.datetime.fromisoformat(edited["when"]) == EDITED_AT
    assert result.timestamp == "absent"
    assert result.signed_at is None
    assert "VALID and TRUSTED" in result.lines()[0]


def test_the_manifest_is_c2pa_2_and_carries_nothing_of_the_original(
        signed: SignedRelease) -> None:
    store = _store(signed.path)
    manifests = store["manifests"]
    assert isinstance(manifests, dict)
    assert len(manifests) == 1
    manifest = manifests[store["active_manifest"]]
    assert manifest["claim_version"] == 2
    text = json.dumps(store)
    assert "thumbnail" not in text
    assert "c2pa.redacted" not in text
    (ingredient,) = manifest["ingredients"]
    assert ingredient["relationship"] == "parentOf"
    assert set(ingredient) <= {"title", "format", "relationship", "label", "instance_id",
                               "validation_results"}  # no data, no thumbnail, no manifest
    labels = [a["label"] for a in manifest["assertions"]]
    assert RELEASE_LABEL in labels
    assert "c2pa.actions.v2" in labels
    # the whole manifest box is a few kB: no picture of anything fits in it
    assert box(signed.path.read_bytes(), "uuid")[1] < 16 * 1024


def test_a_wrong_root_or_no_root_is_valid_but_untrusted(
        signed: SignedRelease, tmp_path: Path) -> None:
    stranger = AgencyCA.create(tmp_path / "stranger", agency="Some Other Agency")
    for roots in (stranger.trusted_roots(), []):
        result = verify_file(signed.path, roots)
        assert result.verdict is Verdict.VALID_UNTRUSTED
        assert [c.code for c in result.failures] == ["signingCredential.untrusted"]
        assert result.release is not None
        assert "(claimed; not trusted)" in "\n".join(result.lines())


@pytest.mark.parametrize("where", ["mdat", "moov", "manifest-signature"])
def test_a_flipped_byte_is_caught(signed: SignedRelease, agency_ca: AgencyCA, tmp_path: Path,
                                  where: str) -> None:
    data = signed.path.read_bytes()
    if where == "manifest-signature":  # the COSE signature sits at the end of the store
        off, size = box(data, "uuid")
        offset = off + size - 20
    else:
        off, size = box(data, where)
        offset = off + size // 2
    bad = _write_flipped(signed.path, tmp_path / "flipped.mp4", offset)
    result = verify_file(bad, agency_ca.trusted_roots())
    assert result.verdict is Verdict.INVALID
    expected = {"mdat": "assertion.bmffHash.mismatch", "moov": "assertion.bmffHash.mismatch",
                "manifest-signature": "claimSignature.mismatch"}[where]
    assert expected in [c.code for c in result.failures]


def test_a_flipped_byte_in_a_signed_assertion_is_caught(
        signed: SignedRelease, agency_ca: AgencyCA, tmp_path: Path) -> None:
    data = signed.path.read_bytes()
    at = data.index(b"req-0001")  # the request id inside the release assertion
    assert data.count(b"req-0001") == 1
    result = verify_file(_write_flipped(signed.path, tmp_path / "f.mp4", at + 4),
                         agency_ca.trusted_roots())
    assert result.verdict is Verdict.INVALID
    assert "assertion.hashedURI.mismatch" in [c.code for c in result.failures]


def test_a_flipped_byte_in_the_manifest_structure_is_unreadable(
        signed: SignedRelease, agency_ca: AgencyCA, tmp_path: Path) -> None:
    data = signed.path.read_bytes()
    at = data.index(b"c2pa.claim.v2") - 13  # the claim box's size field
    result = verify_file(_write_flipped(signed.path, tmp_path / "f.mp4", at),
                         agency_ca.trusted_roots())
    assert result.verdict is Verdict.INVALID
    assert [c.code for c in result.failures] == [UNREADABLE]


def _padding_offset(data: bytes) -> int:
    """A byte in the zero padding c2pa reserves for the signature (outside what is signed)."""
    off, size = box(data, "uuid")
    return data.index(b"\x00" * 256, off, off + size) + 128


@pytest.mark.parametrize("where", ["ftyp", "signature-padding"])
def test_bytes_c2pa_leaves_unsigned_are_caught_by_the_release_hash(
        signed: SignedRelease, agency_ca: AgencyCA, tmp_path: Path, where: str) -> None:
    # C2PA's BMFF hash excludes the ftyp box, and its signature leaves the JUMBF labels and
    # the signature's padding unsigned, by design: such a flip still validates. The SHA-256
    # the release names (written response, reviewer's statement) does not.
    data = signed.path.read_bytes()
    offset = 12 if where == "ftyp" else _padding_offset(data)
    bad = _write_flipped(signed.path, tmp_path / "flipped.mp4", offset)
    assert verify_file(bad, agency_ca.trusted_roots()).verdict is Verdict.TRUSTED
    result = verify_file(bad, agency_ca.trusted_roots(), expected_sha256=signed.sha256)
    assert result.verdict is Verdict.INVALID
    assert [c.code for c in result.failures] == [SHA256_MISMATCH]


def test_a_stripped_manifest_is_caught(signed: SignedRelease, agency_ca: AgencyCA,
                                       tmp_path: Path) -> None:
    data = signed.path.read_bytes()
    stripped = tmp_path / "stripped.mp4"
    stripped.write_bytes(b"".join(data[o:o + s] for o, s, k in top_boxes(data) if k != "uuid"))
    remuxed = tmp_path / "remuxed.mp4"  # what any re-encode or remux does
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(signed.path), "-c", "copy",
                    str(remuxed)], check=True)
    for path in (stripped, remuxed):
        result = verify_file(path, agency_ca.trusted_roots())
        assert result.verdict is Verdict.INVALID
        assert [c.code for c in result.failures] == [NO_MANIFEST]
        assert result.release is None


def test_a_manifest_transplanted_from_another_file_is_caught(
        signed: SignedRelease, agency_ca: AgencyCA, other_clip: Path, tmp_path: Path,
        sign_with: Callable[..., SignedRelease]) -> None:
    data = signed.path.read_bytes()
    start, size = box(data, "uuid")
    manifest_box = data[start:start + size]
    # into an unsigned file, right after its ftyp (where c2pa puts it) ...
    other = other_clip.read_bytes()
    end_ftyp = sum(box(other, "ftyp"))
    into_unsigned = tmp_path / "into-unsigned.mp4"
    into_unsigned.write_bytes(other[:end_ftyp] + manifest_box + other[end_ftyp:])
    # ... and in place of the manifest of another release signed by the same agency
    other_signed = sign_with(agency_ca, source=other_clip).path.read_bytes()
    o, s = box(other_signed, "uuid")
    swapped = tmp_path / "swapped.mp4"
    swapped.write_bytes(other_signed[:o] + manifest_box + other_signed[o + s:])
    for path in (into_unsigned, swapped):
        result = verify_file(path, agency_ca.trusted_roots())
        assert result.verdict is Verdict.INVALID
        assert "assertion.bmffHash.mismatch" in [c.code for c in result.failures]


def test_bad_inputs_to_signing_are_refused(
        clip: Path, agency_ca: AgencyCA, release: ReleaseAssertion, tmp_path: Path) -> None:
    creds = agency_ca.signing_credentials()
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(UnsupportedMedia) as exc:
        sign_release(source=text, dest=tmp_path / "out.mp4", credentials=creds,
                     release=release, edited_at=EDITED_AT)
    assert exc.value.code == "unsupported_media"
    with pytest.raises(OutputIsInput):
        sign_release(source=clip, dest=clip, credentials=creds, release=release,
                     edited_at=EDITED_AT)
    with pytest.raises(ValueError, match="64 lowercase hex"):
        ReleaseAssertion(original_sha256="abc", request_id="r", redaction="x", agency="a")


def test_a_leaf_c2pa_refuses_fails_loudly_and_writes_nothing(
        clip: Path, agency_ca: AgencyCA, release: ReleaseAssertion, tmp_path: Path) -> None:
    # a self-signed signer (the root's own certificate and key): C2PA refuses it
    creds = agency_ca.signing_credentials()
    root_key = (agency_ca.directory / "roots" / f"{agency_ca.root_id}.key.pem").read_bytes()
    bogus = type(creds)(certificates=(agency_ca.root,), private_key_pem=root_key, alg="es256")
    with pytest.raises(SigningFailed) as exc:
        sign_release(source=clip, dest=tmp_path / "out.mp4", credentials=bogus,
                     release=release, edited_at=EDITED_AT)
    assert exc.value.code == "c2pa_signing_failed"
    assert list(tmp_path.glob("*out.mp4*")) == []


# ---- the signature's own RFC 3161 timestamp ---------------------------------------------

def test_a_tsa_timestamps_the_signature_after_a_dead_one_is_skipped(
        agency_ca: AgencyCA, tsa: TsaServer, sign_with: Callable[..., SignedRelease]) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"
    signed = sign_with(agency_ca, tsa_urls=[dead, tsa.url])
    assert signed.timestamp_url == tsa.url
    assert [a.url for a in signed.tsa_attempts] == [dead]
    result = verify_file(signed.path, agency_ca.trusted_roots())
    assert result.verdict is Verdict.TRUSTED
    assert result.signed_at is not None
    assert abs(result.signed_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    assert result.timestamp == "untrusted"  # the TSA's root is not an agency root


def test_with_every_tsa_down_the_release_is_signed_without_a_time_unless_required(
        agency_ca: AgencyCA, sign_with: Callable[..., SignedRelease], tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"
    signed = sign_with(agency_ca, tsa_urls=[dead])
    assert signed.timestamp_url is None
    assert [a.url for a in signed.tsa_attempts] == [dead]
    assert verify_file(signed.path, agency_ca.trusted_roots()).verdict is Verdict.TRUSTED
    with pytest.raises(TsaUnavailable) as exc:
        sign_with(agency_ca, tsa_urls=[dead], require_timestamp=True)
    assert exc.value.status == 503
    assert exc.value.details["attempts"][0]["url"] == dead
    assert sorted(p.name for p in tmp_path.glob("signed-*.mp4")) == ["signed-0.mp4"]
