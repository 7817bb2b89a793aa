"""The agency's own C2PA assertion on a released file: what it was made from and why it
may go out (label `org.bwc-custody.release`, a reverse-DNS label as C2PA asks of
assertions outside its own namespace)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RELEASE_LABEL = "org.bwc-custody.release"
RELEASE_FORMAT = "bwc-release-assertion-v1"
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ReleaseAssertion:
    """The fields bound into a released file's manifest.

    `redaction` is the plain description of what was redacted (it is also the
    `c2pa.edited` action's description). `checkpoint` is the custody checkpoint current when
    the manifest was signed (its index, tree size, root hash, time, key id, signature).
    `reviewer_statement` is the legal reviewer's signed statement where the caller has one
    at signing time; with the order this package recommends (sign, then review the signed
    bytes: README.md) it is None, and the statement names this file's SHA-256 instead.
    `fields` carries anything else the caller binds (evidence id, derivative id, ...).
    """

    original_sha256: str
    request_id: str
    redaction: str
    agency: str
    checkpoint: Mapping[str, Any] | None = None
    reviewer_statement: Mapping[str, Any] | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _SHA256.fullmatch(self.original_sha256):
            raise ValueError("original_sha256 must be 64 lowercase hex digits")
        if not self.request_id or not self.redaction.strip() or not self.agency:
            raise ValueError("request_id, redaction and agency must not be empty")

    def to_dict(self) -> dict[str, Any]:
        """The assertion's JSON data."""
        data: dict[str, Any] = {
            "format": RELEASE_FORMAT,
            "original_sha256": self.original_sha256,
            "request_id": self.request_id,
            "redaction": self.redaction,
            "agency": self.agency,
            "checkpoint": dict(self.checkpoint) if self.checkpoint is not None else None,
            "reviewer_statement": (dict(self.reviewer_statement)
                                   if self.reviewer_statement is not None else None),
        }
        if self.fields:
            data["fields"] = dict(self.fields)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReleaseAssertion:
        """Parse the assertion's JSON data (ValueError when it is not this format)."""
        if data.get("format") != RELEASE_FORMAT:
            raise ValueError(f"not a {RELEASE_FORMAT} assertion: format {data.get('format')!r}")
        try:
            return cls(
                original_sha256=str(data["original_sha256"]), request_id=str(data["request_id"]),
                redaction=str(data["redaction"]), agency=str(data["agency"]),
                checkpoint=data.get("checkpoint"),
                reviewer_statement=data.get("reviewer_statement"),
                fields=data.get("fields") or {},
            )
        except KeyError as exc:
            raise ValueError(f"release assertion lacks {exc.args[0]!r}") from None
