"""Small secrets kept in database rows, sealed like stored objects (known adults' face
encodings, users' one-time-code keys).

The value is encrypted with AES-256-GCM under its own data key (AAD: the row's `object_id`),
and the data key is wrapped by the keyring's active KEK; so a copy of the database alone
reveals nothing, and `bwc keys rotate` re-wraps the key without touching the value.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlmodel import Session

from storage.crypto import new_data_key
from storage.keys import Keyring, WrappedKey


@dataclass(frozen=True)
class Sealed:
    """A sealed value as a row stores it: text columns only."""

    object_id: str
    kek_id: str
    wrapped_key: str  # base64 of the wrapped data key
    ciphertext: str  # base64(nonce || ciphertext || tag)


class SealedColumns(Protocol):
    """A table row holding a sealed value in the four columns `Sealed` names."""

    object_id: str
    kek_id: str
    wrapped_key: str
    ciphertext: str


def of_row(row: SealedColumns) -> Sealed:
    """The sealed value a row holds."""
    return Sealed(object_id=row.object_id, kek_id=row.kek_id, wrapped_key=row.wrapped_key,
                  ciphertext=row.ciphertext)


def seal(keyring: Keyring, plaintext: bytes) -> Sealed:
    """Encrypt `plaintext` under a new data key wrapped by the active KEK."""
    object_id = uuid.uuid4()
    data_key = new_data_key()
    nonce = os.urandom(12)
    ct = AESGCM(data_key).encrypt(nonce, plaintext, object_id.bytes)
    wrapped = keyring.wrap(data_key, object_id)
    return Sealed(object_id=str(object_id), kek_id=wrapped.kek_id, wrapped_key=wrapped.b64,
                  ciphertext=base64.b64encode(nonce + ct).decode())


def unseal(keyring: Keyring, sealed: Sealed) -> bytes:
    """The plaintext of a sealed value (authenticated: a changed byte raises)."""
    object_id = uuid.UUID(sealed.object_id)
    key = keyring.unwrap(WrappedKey(sealed.kek_id, base64.b64decode(sealed.wrapped_key)),
                         object_id)
    blob = base64.b64decode(sealed.ciphertext)
    return AESGCM(key).decrypt(blob[:12], blob[12:], object_id.bytes)


def rewrap(keyring: Keyring, sealed: Sealed, kek_id: str) -> Sealed:
    """The same value with its data key wrapped under `kek_id` (after a KEK rotation)."""
    new = keyring.rewrap(WrappedKey(sealed.kek_id, base64.b64decode(sealed.wrapped_key)),
                         uuid.UUID(sealed.object_id), kek_id)
    return Sealed(object_id=sealed.object_id, kek_id=new.kek_id, wrapped_key=new.b64,
                  ciphertext=sealed.ciphertext)


def rewrap_rows(*, session: Session, keyring: Keyring, rows: Iterable[SealedColumns],
                kek_id: str) -> int:
    """Re-wrap the data key of every row under `kek_id` (after a KEK rotation); how many."""
    n = 0
    for row in rows:
        new = rewrap(keyring, of_row(row), kek_id)
        row.kek_id, row.wrapped_key = new.kek_id, new.wrapped_key
        session.add(row)
        n += 1
    session.flush()
    return n
