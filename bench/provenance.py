#!/usr/bin/env python3
"""What C2PA provenance adds to a release: time (sign + verify) and bytes (the manifest),
as ratios of the time to redact that clip and of the clip's size.

Builds body-camera-like clips (1280x720, 30 fps) from ../shared/data/faces-dev with
../shared/tools/make_clip.py, redacts each with `bwc redact` (the baseline: what a release
already costs), also times a plain ffmpeg x264 re-encode (a lower bound for any redaction),
then signs the redacted file with a fresh agency CA and verifies it, `--reps` times each,
interleaved. Also times what a submission adds in the release path
(`bwc_custody/redactions/signing.py: sign_copy`): decrypt the stored redacted copy to
scratch checking its hash, sign it, and hash+encrypt the signed file for the store (the
same `storage/crypto.py` code; the database rows and the store's own I/O left out).
Optionally (`--tsa`) also signs with an RFC 3161 timestamp from a local `openssl ts` TSA
(a public TSA adds its network round trip).

    nice -n 10 .venv/bin/python bench/provenance.py                  # 10 s and 60 s clips
    nice -n 10 .venv/bin/python bench/provenance.py --seconds 10 --reps 9 --tsa

Times are wall seconds and CPU seconds (user+sys, children included); CPU is the steadier
figure when others share the machine. Medians over the repetitions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared").resolve()
sys.path.insert(0, str(ROOT))

from provenance.assertion import ReleaseAssertion  # noqa: E402
from provenance.c2pa_sign import sign_release  # noqa: E402
from provenance.c2pa_verify import Verdict, file_sha256, verify_file  # noqa: E402
from provenance.ca import AgencyCA  # noqa: E402
from storage.crypto import RangeReader, SegmentCipher, encrypt_file, new_data_key  # noqa: E402

T = TypeVar("T")


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn: Callable[[], T]) -> tuple[float, float]:
    """(wall, CPU) seconds of one call."""
    return timed_result(fn)[1:]


def timed_result(fn: Callable[[], T]) -> tuple[T, float, float]:
    """The call's result, and its (wall, CPU) seconds."""
    w, c = time.perf_counter(), _cpu()
    result = fn()
    return result, time.perf_counter() - w, _cpu() - c


def make_clip(out_dir: Path, seconds: float, seed: int) -> Path:
    """A 1280x720 30 fps clip of real faces (reused when already made)."""
    clip = out_dir / f"prov_{int(seconds)}s_s{seed}.mp4"
    if not clip.exists():
        faces = SHARED / "data" / "faces-dev"
        subprocess.run([sys.executable, str(SHARED / "tools" / "make_clip.py"),
                        "--images", str(faces), "--boxes", str(faces / "boxes.json"),
                        "--out", str(clip), "--truth", str(clip.with_suffix(".truth.json")),
                        "--seconds", str(seconds), "--seed", str(seed)],
                       check=True, stdout=subprocess.DEVNULL)
    return clip


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextmanager
def local_tsa(directory: Path) -> Iterator[str]:
    """The test suite's real TSA (openssl ts -reply on 127.0.0.1)."""
    from tests.support.tsa import running_tsa

    with running_tsa(directory) as server:
        yield server.url


def _encrypted(plain: Path, out: Path, key: bytes) -> Path:
    """`plain` encrypted as the vault stores an object (1 MiB segments)."""
    cipher = SegmentCipher.new(key, uuid.uuid4(), 1 << 20)
    with open(plain, "rb") as src, open(out, "wb") as dst:
        def sink(data: bytes) -> None:
            dst.write(data)

        encrypt_file(src, cipher, sink)
    return out


def release_path(stored: Path, key: bytes, work: Path, sign: Callable[[Path, Path], Any],
                 expected_sha256: str) -> None:
    """What `sign_copy` does to the bytes: decrypt + hash to scratch, sign, hash+encrypt."""
    plain, signed = work / "rp-redacted.mp4", work / "rp-signed.mp4"
    with open(stored, "rb") as fh:
        def read_at(off: int, n: int) -> bytes:
            fh.seek(off)
            return fh.read(n)

        reader = RangeReader(key, read_at, stored.stat().st_size)
        hasher = hashlib.sha256()
        with open(plain, "wb") as out:
            for chunk in reader.iter_plaintext():
                hasher.update(chunk)
                out.write(chunk)
    assert hasher.hexdigest() == expected_sha256
    sign(plain, signed)
    _encrypted(signed, work / "rp-signed.enc", new_data_key())
    for path in (plain, signed, work / "rp-signed.enc"):
        path.unlink()


def bench_clip(clip: Path, work: Path, reps: int, tsa_url: str | None) -> dict[str, Any]:
    redacted = work / f"{clip.stem}.redacted.mp4"
    redact = timed(lambda: run([str(ROOT / ".venv" / "bin" / "bwc"), "redact", str(clip),
                                str(redacted)]))
    encode = timed(lambda: run(["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-c:v",
                                "libx264", "-preset", "veryfast", "-c:a", "copy",
                                str(work / f"{clip.stem}.x264.mp4")]))
    ca = AgencyCA.create(work / f"ca-{clip.stem}", agency="Bench County Sheriff")
    creds, roots = ca.signing_credentials(), ca.trusted_roots()
    release = ReleaseAssertion(
        original_sha256=file_sha256(clip), request_id="bench-1", agency="Bench County Sheriff",
        redaction="Faces blurred (automatic detection)",
        checkpoint={"index": 1, "tree_size": 10, "root_hash": "0" * 64,
                    "created_at": "2027-01-01T00:00:00+00:00", "key_id": "0" * 16,
                    "signature": "A" * 88})
    samples: dict[str, list[tuple[float, float]]] = {"sign": [], "verify": [], "sign_tsa": [],
                                                     "release_path": []}
    key = new_data_key()
    stored = _encrypted(redacted, work / f"{clip.stem}.redacted.enc", key)
    redacted_sha = file_sha256(redacted)
    signed, tsa_added = None, 0
    for i in range(reps):  # interleaved: sign, verify, (sign with TSA)
        dest = work / f"{clip.stem}.signed-{i}.mp4"
        signed, *sign_t = timed_result(lambda d=dest: sign_release(
            source=redacted, dest=d, credentials=creds, release=release,
            edited_at=dt.datetime.now(dt.UTC)))
        check, *verify_t = timed_result(lambda s=signed: verify_file(
            s.path, roots, expected_sha256=s.sha256))
        assert check.verdict is Verdict.TRUSTED, check.lines()
        samples["sign"].append((sign_t[0], sign_t[1]))
        samples["verify"].append((verify_t[0], verify_t[1]))
        samples["release_path"].append(timed(lambda: release_path(
            stored, key, work, lambda src, dst: sign_release(
                source=src, dest=dst, credentials=creds, release=release,
                edited_at=dt.datetime.now(dt.UTC)), redacted_sha)))
        if tsa_url:
            stamped, *tsa_t = timed_result(lambda d=dest: sign_release(
                source=redacted, dest=d.with_suffix(".tsa.mp4"), credentials=creds,
                release=release, edited_at=dt.datetime.now(dt.UTC), tsa_urls=[tsa_url],
                require_timestamp=True))
            samples["sign_tsa"].append((tsa_t[0], tsa_t[1]))
            tsa_added = stamped.added_bytes
    assert signed is not None

    def med(key: str, which: int) -> float:
        return statistics.median(s[which] for s in samples[key]) if samples[key] else 0.0

    size = redacted.stat().st_size
    out: dict[str, Any] = {
        "clip": clip.name, "redacted_bytes": size,
        "redact_s": {"wall": redact[0], "cpu": redact[1]},
        "x264_reencode_s": {"wall": encode[0], "cpu": encode[1]},
        "sign_s": {"wall": med("sign", 0), "cpu": med("sign", 1)},
        "verify_s": {"wall": med("verify", 0), "cpu": med("verify", 1)},
        "manifest_store_bytes": signed.manifest_bytes, "added_bytes": signed.added_bytes,
        "ratio_sign_verify_to_redact": {
            k: (med("sign", j) + med("verify", j)) / redact[j]
            for j, k in ((0, "wall"), (1, "cpu"))},
        "ratio_sign_verify_to_x264": {
            k: (med("sign", j) + med("verify", j)) / encode[j]
            for j, k in ((0, "wall"), (1, "cpu"))},
        "ratio_added_bytes_to_size": signed.added_bytes / size,
        "release_path_s": {"wall": med("release_path", 0), "cpu": med("release_path", 1)},
        "ratio_release_path_to_redact": {
            k: med("release_path", j) / redact[j] for j, k in ((0, "wall"), (1, "cpu"))},
    }
    if tsa_url:
        out["sign_with_local_tsa_s"] = {"wall": med("sign_tsa", 0), "cpu": med("sign_tsa", 1)}
        out["added_bytes_with_tsa"] = tsa_added
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[10, 60])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tsa", action="store_true", help="also sign with a local RFC 3161 TSA")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "bwc-bench")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        tsa_url = stack.enter_context(local_tsa(Path(tmp) / "tsa")) if args.tsa else None
        for seconds in args.seconds:
            clip = make_clip(args.out, seconds, args.seed)
            work = Path(tmp) / f"w{int(seconds)}"
            work.mkdir()
            results.append(bench_clip(clip, work, args.reps, tsa_url))
            r = results[-1]
            print(f"{r['clip']}: redact {r['redact_s']['wall']:.1f} s wall / "
                  f"{r['redact_s']['cpu']:.1f} s CPU; sign {r['sign_s']['wall'] * 1000:.0f} ms, "
                  f"verify {r['verify_s']['wall'] * 1000:.0f} ms wall; "
                  f"(sign+verify)/redact = {r['ratio_sign_verify_to_redact']['wall']:.4f} wall, "
                  f"{r['ratio_sign_verify_to_redact']['cpu']:.4f} CPU; "
                  f"+{r['added_bytes']} bytes = {r['ratio_added_bytes_to_size']:.5f} of "
                  f"{r['redacted_bytes']}; in the release path (decrypt, sign, encrypt) "
                  f"{r['release_path_s']['wall'] * 1000:.0f} ms = "
                  f"{r['ratio_release_path_to_redact']['wall']:.4f} of the redaction",
                  file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
