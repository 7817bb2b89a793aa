"""Key-encryption keys (a keyring on disk, one active) and the server's Ed25519 signing key.

Data keys are wrapped with AES-256-GCM under a KEK; the wrap binds the object id and the
KEK id as associated data, so a wrapped key cannot be moved to another object. KEKs live
only in the keyring directory (mode 0700, files 0600), never in the object store or DB.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.errors import IntegrityError, KeyMissing

KEK_SUFFIX = ".kek"
ACTIVE_FILE = "ACTIVE"
SIGNING_FILE = "signing.ed25519.pem"
# Public halves of retired signing keys, `<key_id>.pub.pem`: what was signed before a
# rotation (receipts, checkpoints) stays verifiable; the private halves are destroyed.
RETIRED_DIR = "signing-retired"
LOCK_FILE = ".lock"


def _key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _write_secret(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 atomically; never overwrite an existing key."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    finally:
        tmp.unlink()


@contextmanager
def _keyring_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on the keyring directory (threads and processes alike): two
    servers or workers starting on a fresh home must not each create a "first" KEK."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@dataclass(frozen=True)
class WrappedKey:
    """A data key encrypted under the KEK `kek_id`: nonce(12) || ciphertext || tag(16)."""

    kek_id: str
    blob: bytes

    @property
    def b64(self) -> str:
        """The blob as base64 text (how the DB stores it)."""
        return base64.b64encode(self.blob).decode()


class Keyring:
    """The KEKs in one directory; new data keys are wrapped under the active one."""

    def __init__(self, directory: Path, active: str | None = None) -> None:
        self.directory = directory
        self._override = active

    def ensure(self) -> Keyring:
        """Create the directory and a first KEK if there is none."""
        if self.kek_ids():
            return self
        with _keyring_lock(self.directory):
            if not self.kek_ids():  # re-read under the lock: another may have made it
                self._add_kek_locked()
        return self

    def kek_ids(self) -> list[str]:
        """Ids of every KEK in the keyring."""
        if not self.directory.is_dir():
            return []
        return sorted(p.name[: -len(KEK_SUFFIX)] for p in self.directory.glob(f"*{KEK_SUFFIX}"))

    @property
    def active_id(self) -> str:
        """The KEK new data keys are wrapped under."""
        if self._override:
            return self._override
        marker = self.directory / ACTIVE_FILE
        if marker.exists():
            return marker.read_text().strip()
        ids = self.kek_ids()
        if not ids:
            raise KeyMissing(f"no key-encryption key in {self.directory}; run `bwc init`")
        return ids[-1]

    def add_kek(self) -> str:
        """Generate a new KEK and make it active; returns its id."""
        with _keyring_lock(self.directory):
            return self._add_kek_locked()

    def _add_kek_locked(self) -> str:
        kek_id = "kek-" + secrets.token_hex(8)
        _write_secret(self.directory / f"{kek_id}{KEK_SUFFIX}", base64.b64encode(os.urandom(32)))
        marker = self.directory / ACTIVE_FILE
        tmp = marker.with_name(f".{ACTIVE_FILE}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(kek_id + "\n")
        os.replace(tmp, marker)
        self._override = None
        return kek_id

    def _kek(self, kek_id: str) -> bytes:
        path = self.directory / f"{kek_id}{KEK_SUFFIX}"
        if not path.exists():
            raise KeyMissing(f"key-encryption key {kek_id!r} is not in the keyring", kek_id=kek_id)
        key = base64.b64decode(path.read_bytes())
        if len(key) != 32:
            raise KeyMissing(f"key-encryption key {kek_id!r} is malformed", kek_id=kek_id)
        return key

    def wrap(self, data_key: bytes, object_id: uuid.UUID, kek_id: str | None = None) -> WrappedKey:
        """Wrap `data_key` for `object_id` under the active (or given) KEK."""
        kek_id = kek_id or self.active_id
        nonce = os.urandom(12)
        aad = object_id.bytes + kek_id.encode()
        return WrappedKey(kek_id, nonce + AESGCM(self._kek(kek_id)).encrypt(nonce, data_key, aad))

    def unwrap(self, wrapped: WrappedKey, object_id: uuid.UUID) -> bytes:
        """The data key inside `wrapped`, which must belong to `object_id`."""
        aad = object_id.bytes + wrapped.kek_id.encode()
        try:
            return AESGCM(self._kek(wrapped.kek_id)).decrypt(
                wrapped.blob[:12], wrapped.blob[12:], aad
            )
        except InvalidTag:
            raise IntegrityError(
                f"wrapped data key of object {object_id} failed authentication",
                object_id=str(object_id),
            ) from None

    def rewrap(self, wrapped: WrappedKey, object_id: uuid.UUID, kek_id: str) -> WrappedKey:
        """The same data key wrapped under `kek_id` (content is never rewritten)."""
        return self.wrap(self.unwrap(wrapped, object_id), object_id, kek_id)


class Signer:
    """The server's Ed25519 key: signs receipts and custody checkpoints."""

    def __init__(self, private_key: Ed25519PrivateKey,
                 retired: dict[str, Ed25519PublicKey] | None = None) -> None:
        self._key = private_key
        self.public_key: Ed25519PublicKey = private_key.public_key()
        self.retired: dict[str, Ed25519PublicKey] = dict(retired or {})

    @staticmethod
    def _new_pem() -> bytes:
        return Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())

    @classmethod
    def load_or_create(cls, directory: Path) -> Signer:
        """The signing key in `directory` (generated on first use) and the retired keys."""
        path = directory / SIGNING_FILE
        if not path.exists():
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                _write_secret(path, cls._new_pem())
            except FileExistsError:
                pass  # another process created it first; use theirs
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        retired: dict[str, Ed25519PublicKey] = {}
        for pub in sorted((directory / RETIRED_DIR).glob("*.pub.pem")):
            public = serialization.load_pem_public_key(pub.read_bytes())
            assert isinstance(public, Ed25519PublicKey)
            retired[_key_id(public)] = public
        return cls(key, retired)

    @classmethod
    def rotate(cls, directory: Path) -> tuple[Signer, str]:
        """Retire the current key (its public half is kept to verify what it signed, the
        private half is destroyed) and make a new one; returns the new signer and the old id."""
        old = cls.load_or_create(directory)
        retired = directory / RETIRED_DIR
        retired.mkdir(mode=0o700, exist_ok=True)
        pub = retired / f"{old.key_id}.pub.pem"
        if not pub.exists():
            _write_secret(pub, old.public_pem.encode())
        tmp = directory / f".{SIGNING_FILE}.{secrets.token_hex(4)}.new"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, cls._new_pem())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, directory / SIGNING_FILE)
        return cls.load_or_create(directory), old.key_id

    def public_key_for(self, key_id: str) -> Ed25519PublicKey | None:
        """The current or a retired public key with this id, if known."""
        if key_id == self.key_id:
            return self.public_key
        return self.retired.get(key_id)

    def retired_pems(self) -> dict[str, str]:
        """Retired keys' public PEMs by key id (published for verifiers)."""
        return {kid: _pem(k) for kid, k in sorted(self.retired.items())}

    @property
    def public_raw(self) -> bytes:
        """The 32-byte raw public key."""
        return self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def public_pem(self) -> str:
        """The public key as PEM text (published for verifiers)."""
        return _pem(self.public_key)

    @property
    def key_id(self) -> str:
        """First 16 hex digits of SHA-256 over the raw public key."""
        return _key_id(self.public_key)

    def sign(self, message: bytes) -> str:
        """Base64 Ed25519 signature of `message`."""
        return base64.b64encode(self._key.sign(message)).decode()

    def verify(self, message: bytes, signature: str, key_id: str) -> bool:
        """True when `signature` (base64) over `message` verifies with the current key or the
        retired key `key_id` (what was signed before a rotation stays verifiable)."""
        public = self.public_key_for(key_id)
        if public is None:
            return False
        try:
            public.verify(base64.b64decode(signature, validate=True), message)
        except (InvalidSignature, ValueError):
            return False
        return True
