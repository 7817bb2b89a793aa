"""Dock agent: tus uploads with resume, receipt check, then (only then) move the file away.

State for each file in flight lives in DIR/.bwc-dock/<name>.json (upload URL and the local
hash), so a dock that loses power resumes where the server says it stopped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from bwc_custody.evidence.errors import InvalidMetadata
from bwc_custody.evidence.models import DockMetadata, Receipt, parse_metadata
from storage.crypto import sha256_file

log = logging.getLogger("bwc.dock")

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".mts", ".ts", ".3gp", ".wmv"}
TUS = {"Tus-Resumable": "1.0.0"}


class DockError(Exception):
    """An upload step failed; the file stays where it is and is retried later."""


class DockRefused(DockError):
    """The server refuses this file for good (its recording was destroyed under the
    retention schedule): retrying can never succeed, so the file is set aside."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


def _code(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("error", {}).get("code", ""))
    except (ValueError, AttributeError):
        return ""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class DockAgent:
    """Watches one directory and uploads each video once, confirmed by a signed receipt."""

    def __init__(
        self,
        directory: Path,
        *,
        server: str,
        token: str,
        chunk_size: int = 8 << 20,
        client: httpx.Client | None = None,
        show_progress: bool | None = None,
    ) -> None:
        self.directory = directory
        self.done_dir = directory / "uploaded"
        self.state_dir = directory / ".bwc-dock"
        self.chunk_size = chunk_size
        self.client = client or httpx.Client(base_url=server.rstrip("/"), timeout=120)
        self.client.headers["Authorization"] = f"Bearer {token}"
        self.show_progress = show_progress if show_progress is not None else os.isatty(2)
        self._public_key: Ed25519PublicKey | None = None
        self._public_key_id: str | None = None
        self._seen_sizes: dict[Path, tuple[int, int]] = {}

    # -- discovery -------------------------------------------------------------------
    def pending_files(self, require_stable: bool = False) -> list[Path]:
        """Videos waiting in the directory (optionally only those not growing)."""
        found = []
        for path in sorted(self.directory.iterdir()):
            if not path.is_file() or path.suffix.lower() not in VIDEO_SUFFIXES:
                continue
            stat = path.stat()
            sig = (stat.st_size, stat.st_mtime_ns)
            if require_stable and self._seen_sizes.get(path) != sig:
                self._seen_sizes[path] = sig  # still being copied in: wait a scan
                continue
            found.append(path)
        return found

    def sidecar(self, video: Path) -> Path:
        """The metadata JSON that may accompany a video."""
        return video.with_suffix(".json")

    # -- server ----------------------------------------------------------------------
    def public_key(self, key_id: str | None = None) -> Ed25519PublicKey:
        """The server's receipt-signing key, fetched once and again when a receipt names
        another key (the server rotated its signing key)."""
        if self._public_key is None or (key_id and key_id != self._public_key_id):
            resp = self.client.get("/api/v1/keys/signing")
            resp.raise_for_status()
            key = load_pem_public_key(resp.json()["public_key_pem"].encode())
            assert isinstance(key, Ed25519PublicKey)
            self._public_key, self._public_key_id = key, resp.json()["key_id"]
        return self._public_key

    def _state_path(self, video: Path) -> Path:
        return self.state_dir / f"{video.name}.json"

    def _load_state(self, video: Path) -> dict[str, Any]:
        path = self._state_path(video)
        return json.loads(path.read_text()) if path.exists() else {}

    def _save_state(self, video: Path, state: dict[str, Any]) -> None:
        self.state_dir.mkdir(exist_ok=True)
        tmp = self._state_path(video).with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self._state_path(video))

    def _create(self, video: Path, sha: str) -> str:
        size = video.stat().st_size
        resp = self.client.post("/api/v1/uploads", headers={
            **TUS, "Upload-Length": str(size),
            "Upload-Metadata": f"filename {_b64(video.name)},sha256 {_b64(sha)}",
        })
        if resp.status_code != 201:
            raise DockError(f"create failed: {resp.status_code} {resp.text}")
        return resp.headers["Location"]

    def _server_offset(self, url: str) -> int | None:
        resp = self.client.head(url, headers=TUS)
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise DockError(f"HEAD failed: {resp.status_code}")
        return int(resp.headers["Upload-Offset"])

    def _send(self, video: Path, url: str, offset: int) -> None:
        size = video.stat().st_size
        progress = None
        if self.show_progress:
            from rich.progress import Progress

            progress = Progress(transient=True)
            progress.start()
            task = progress.add_task(video.name, total=size, completed=offset)
        try:
            with open(video, "rb") as fh:
                fh.seek(offset)
                while offset < size:
                    chunk = fh.read(self.chunk_size)
                    digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
                    resp = self.client.patch(url, content=chunk, headers={
                        **TUS, "Upload-Offset": str(offset),
                        "Content-Type": "application/offset+octet-stream",
                        "Upload-Checksum": f"sha256 {digest}",
                    })
                    if resp.status_code != 204:
                        raise DockError(f"PATCH at {offset} failed: {resp.status_code} {resp.text}")
                    offset = int(resp.headers["Upload-Offset"])
                    fh.seek(offset)
                    if progress:
                        progress.update(task, completed=offset)
        finally:
            if progress:
                progress.stop()

    def metadata(self, video: Path) -> dict[str, Any]:
        """The video's sidecar metadata, checked as the server checks it before a byte is
        sent: a sidecar that could never be accepted (not a JSON object, NaN, a key the
        server does not take) is refused for good, naming the keys it may use."""
        sidecar = self.sidecar(video)
        if not sidecar.exists():
            return {}

        def no_constant(name: str) -> Any:
            raise ValueError(f"{name} is not a JSON number")

        accepted = f"(accepted keys: {', '.join(sorted(DockMetadata.model_fields))})"
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"), parse_constant=no_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DockRefused("invalid_metadata", f"sidecar {sidecar.name} is not JSON: "
                              f"{exc}; it must be a JSON object {accepted}") from None
        if not isinstance(meta, dict):
            raise DockRefused("invalid_metadata", f"sidecar {sidecar.name} holds a "
                              f"{type(meta).__name__}, not a JSON object {accepted}")
        try:
            parse_metadata({"filename": video.name, **meta})
        except InvalidMetadata as exc:
            raise DockRefused("invalid_metadata",
                              f"sidecar {sidecar.name}: {exc.message} {accepted}") from None
        return meta

    def _finalize(self, video: Path, url: str, sha: str, meta: dict[str, Any]) -> Receipt:
        resp = self.client.post(f"{url}/finalize", json={**meta, "sha256": sha})
        if resp.status_code == 410 or (resp.status_code == 422 and _code(resp) in (
                "invalid_metadata",)):  # gone for good, or metadata never accepted
            try:
                error = resp.json().get("error", {})
            except ValueError:  # a proxy's own page, not our JSON: still gone
                error = {}
            raise DockRefused(str(error.get("code", "gone")),
                              str(error.get("message", resp.text[:200])))
        if resp.status_code != 200:
            raise DockError(f"finalize failed: {resp.status_code} {resp.text}")
        receipt = Receipt.model_validate(resp.json())
        if receipt.sha256 != sha:
            raise DockError(f"server receipt hash {receipt.sha256} differs from local {sha}")
        try:
            self.public_key(receipt.key_id).verify(base64.b64decode(receipt.signature),
                                                   receipt.signed_bytes())
        except InvalidSignature:
            raise DockError("receipt signature does not verify with the server key") from None
        return receipt

    # -- one file --------------------------------------------------------------------
    def upload(self, video: Path) -> Receipt:
        """Upload (or resume) one video; move it to uploaded/ only after a valid receipt."""
        meta = self.metadata(video)
        state = self._load_state(video)
        size = video.stat().st_size
        if state.get("size") != size or state.get("mtime_ns") != video.stat().st_mtime_ns:
            state = {"size": size, "mtime_ns": video.stat().st_mtime_ns,
                     "sha256": sha256_file(video)}
        sha = state["sha256"]
        url = state.get("url")
        offset = self._server_offset(url) if url else None
        if offset is None:
            url = self._create(video, sha)
            offset = 0
            state["url"] = url
            self._save_state(video, state)
        assert url is not None
        self._send(video, url, offset)
        receipt = self._finalize(video, url, sha, meta)
        self._move_done(video, receipt)
        self._state_path(video).unlink(missing_ok=True)
        log.info(json.dumps({"event": "uploaded", "file": video.name,
                             "evidence_id": receipt.evidence_id, "sha256": sha,
                             "duplicate": receipt.duplicate}))
        return receipt

    def _move_done(self, video: Path, receipt: Receipt) -> None:
        self.done_dir.mkdir(exist_ok=True)
        for path in (video, self.sidecar(video)):
            if path.exists():
                os.replace(path, self.done_dir / path.name)
        (self.done_dir / f"{video.name}.receipt.json").write_text(
            receipt.model_dump_json(indent=2)
        )

    def _set_aside(self, video: Path, refusal: DockRefused) -> None:
        """Move a file the server refuses for good to refused/, with why, so it is neither
        lost nor uploaded again and again."""
        refused_dir = self.directory / "refused"
        refused_dir.mkdir(exist_ok=True)
        for path in (video, self.sidecar(video)):
            if path.exists():
                os.replace(path, refused_dir / path.name)
        (refused_dir / f"{video.name}.refused.json").write_text(json.dumps(
            {"code": refusal.code, "message": refusal.message,
             "at": datetime.now(UTC).isoformat()}, indent=2))
        self._state_path(video).unlink(missing_ok=True)

    # -- loops -----------------------------------------------------------------------
    def scan_once(self, require_stable: bool = False) -> list[dict[str, Any]]:
        """Try every pending video once; a failure leaves that file for the next scan."""
        results: list[dict[str, Any]] = []
        for video in self.pending_files(require_stable):
            try:
                receipt = self.upload(video)
                results.append({"file": video.name, "evidence_id": receipt.evidence_id,
                                "sha256": receipt.sha256, "duplicate": receipt.duplicate})
            except DockRefused as refusal:
                self._set_aside(video, refusal)
                log.warning(json.dumps({"event": "upload_refused", "file": video.name,
                                        "code": refusal.code, "error": refusal.message}))
                results.append({"file": video.name, "refused": refusal.code,
                                "error": str(refusal)})
            except (DockError, httpx.HTTPError, OSError) as exc:
                log.warning(json.dumps({"event": "upload_failed", "file": video.name,
                                        "error": str(exc)}))
                results.append({"file": video.name, "error": str(exc)})
        return results

    def run_forever(self, interval: float) -> None:
        """Scan, upload, wait; until interrupted."""
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        while True:
            self.scan_once(require_stable=True)
            time.sleep(interval)  # polling cadence of a service loop, not synchronisation
