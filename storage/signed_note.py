"""C2SP signed-note verifier keys (https://c2sp.org/signed-note) and the cosignatures they
check: a witness publishes its key as `name+keyhash+base64(type || key)`; an Ed25519 key
(type 0x01) signs a note's text, a cosignature/v1 key (type 0x04, C2SP tlog-cosignature)
signs "cosignature/v1\ntime <t>\n" + the checkpoint text, the time in the signature line."""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ED25519 = b"\x01"  # the signed-note signature type of Ed25519
COSIGNATURE_V1 = b"\x04"  # C2SP tlog-cosignature: Ed25519 over a timestamped message


@dataclass(frozen=True)
class WitnessKey:
    """A witness's verifier key (C2SP signed-note `name+keyhash+base64(type || key)`)."""

    name: str
    key_id: bytes
    kind: bytes  # ED25519 or COSIGNATURE_V1
    public_key: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> WitnessKey:
        """ValueError, saying why, when `text` is not an Ed25519 or cosignature/v1 vkey."""
        parts = text.strip().split("+", 2)  # the key's base64 may hold "+" itself
        if len(parts) != 3 or not parts[0]:
            raise ValueError(f"{text!r} is not name+keyhash+key (a signed-note verifier key)")
        name, hash_hex, key_b64 = parts
        try:
            key_id, blob = bytes.fromhex(hash_hex), base64.b64decode(key_b64, validate=True)
        except ValueError:
            raise ValueError(f"{text!r}: the key hash is not hex or the key not base64") from None
        if len(blob) != 33 or blob[:1] not in (ED25519, COSIGNATURE_V1):
            raise ValueError(f"{text!r}: not an Ed25519 (0x01) or cosignature/v1 (0x04) key")
        if hashlib.sha256(name.encode() + b"\n" + blob).digest()[:4] != key_id:
            raise ValueError(f"{text!r}: the key hash does not match the name and key")
        return cls(name, key_id, blob[:1], Ed25519PublicKey.from_public_bytes(blob[1:]))

    def verifies(self, line: str, body: str) -> bool:
        """Whether signed-note line `line` ("— name base64") is this key's valid signature
        of checkpoint text `body`."""
        parts = line.split(" ")
        if len(parts) != 3 or parts[1] != self.name:
            return False
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except ValueError:
            return False
        if blob[:4] != self.key_id:
            return False
        if self.kind == COSIGNATURE_V1:
            if len(blob) != 4 + 8 + 64:
                return False
            (when,) = struct.unpack(">Q", blob[4:12])
            message, signature = f"cosignature/v1\ntime {when}\n{body}".encode(), blob[12:]
        else:
            message, signature = body.encode(), blob[4:]
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def cosigned_by(cosignature: str, body: str, keys: Sequence[WitnessKey]) -> list[str]:
    """The names of `keys` with a valid line in `cosignature` over checkpoint text `body`."""
    lines = [ln for ln in cosignature.split("\n") if ln]
    return [k.name for k in keys if any(k.verifies(ln, body) for ln in lines)]
