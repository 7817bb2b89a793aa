"""A derivative: one redacted copy of an evidence item, with its manifest."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from bwc_custody.db import INTEGER_MAX
from bwc_custody.timeutil import UtcDateTime, UtcRead, utcnow

# "redacted": made by a redaction job; "signed": a redacted copy with the agency's C2PA
# manifest embedded for one request's review and release.
DerivativeKind = Literal["redacted", "signed"]


class Derivative(SQLModel, table=True):
    """A redacted video and its manifest, both stored encrypted like originals.

    `source_sha256` ties it to the exact original it was made from, `sha256` names the exact
    file a reviewer approves and a release sends. A `redacted` copy is made by a redaction
    job; a `signed` copy is a redacted copy with a C2PA manifest embedded for one request
    (`signed_from`, `c2pa`), made when it is submitted for review: what the reviewer
    watches and signs off, and the requester downloads.
    """

    id: str = SQLField(default_factory=lambda: str(uuid.uuid4()), primary_key=True,
                       max_length=36)
    evidence_id: str = SQLField(foreign_key="evidence.id", index=True, max_length=36)
    job_id: str | None = SQLField(default=None, foreign_key="job.id", unique=True,
                                  max_length=36)  # None for a signed copy: no job made it
    kind: str = SQLField(default="redacted", max_length=20)  # DerivativeKind
    object_key: str = SQLField(foreign_key="stored_object.key", unique=True, max_length=200)
    manifest_key: str = SQLField(foreign_key="stored_object.key", unique=True, max_length=200)
    sha256: str = SQLField(index=True, max_length=64)
    size: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    manifest_sha256: str = SQLField(max_length=64)
    source_sha256: str = SQLField(max_length=64)
    frames: int
    boxes: int
    tracks: int
    review_flags: int  # low-confidence ranges a reviewer should look at
    # those ranges (start/end time and frame, reason, lowest score), from the manifest
    flags: list[dict[str, Any]] = SQLField(default_factory=list,
                                           sa_column=Column(JSON, nullable=False))
    warnings: list[str] = SQLField(default_factory=list, sa_column=Column(JSON, nullable=False))
    request: dict[str, Any] = SQLField(default_factory=dict,
                                       sa_column=Column(JSON, nullable=False))
    requested_by: str = SQLField(max_length=120)
    created_at: datetime = SQLField(default_factory=utcnow,
                                    sa_column=Column(UtcDateTime(), nullable=False))
    # The custodian's name for the copy ("for the parent, request 12"): two copies otherwise
    # differ only by hash and time.
    label: str = SQLField(default="", max_length=120)
    # A signed copy: the redacted copy it was signed from, and what signing said (signer and
    # root, manifest size, the `org.bwc-custody.release` assertion, the TSA if any).
    signed_from: str | None = SQLField(default=None, foreign_key="derivative.id", index=True,
                                       max_length=36)
    c2pa: dict[str, Any] | None = SQLField(default=None, sa_column=Column(JSON, nullable=True))


class SpeechAnalysis(SQLModel, table=True):
    """One search of a recording's speech for what identifies a child: the custodian's
    terms, the suggested mute ranges (redaction/speech.py) and where the transcript is kept
    (encrypted, under the recording's derivatives; every read logged). The words heard stay
    in the transcript, never in this row or the custody log: only their kind and time."""

    __tablename__ = "speech_analysis"

    id: int | None = SQLField(default=None, primary_key=True)
    evidence_id: str = SQLField(foreign_key="evidence.id", index=True, max_length=36)
    job_id: str = SQLField(foreign_key="job.id", unique=True, max_length=36)
    terms: dict[str, Any] = SQLField(default_factory=dict, sa_column=Column(JSON, nullable=False))
    suggestions: list[dict[str, Any]] = SQLField(default_factory=list,
                                                 sa_column=Column(JSON, nullable=False))
    # False: the recording has no sound to search (said so, not an error)
    has_audio: bool = True
    words: int = 0
    transcript_key: str | None = SQLField(default=None, foreign_key="stored_object.key",
                                          max_length=200)
    engine: dict[str, Any] = SQLField(default_factory=dict, sa_column=Column(JSON, nullable=False))
    seconds: float = 0.0
    created_by: str = SQLField(max_length=120)
    created_at: datetime = SQLField(default_factory=utcnow,
                                    sa_column=Column(UtcDateTime(), nullable=False))


class SpeechChoice(BaseModel):
    """The custodian's answer to a speech search's suggestions, for one redacted copy:
    each accepted (optionally widened) or rejected; one left unanswered is refused, so no
    suggestion is dropped by omission."""

    model_config = ConfigDict(extra="forbid")

    analysis_id: int = Field(ge=1, le=INTEGER_MAX)
    decisions: list[dict[str, Any]] = Field(default_factory=list, max_length=2000)


class SpeechRead(UtcRead):
    """A speech search as the API shows it: the suggestions with their times, kinds, the
    words heard, and how sure: `level` (likely / possible / unsure; not "likely" is flagged
    `low_confidence`) and `confidence`, the share of suggestions at that level that were
    right on the bench's development clips (redaction/README.md), not the recogniser's own
    probability (kept as `engine_confidence`). The whole transcript is read separately,
    logged."""

    id: int
    evidence_id: str
    job_id: str
    terms: dict[str, Any]
    suggestions: list[dict[str, Any]]
    has_audio: bool
    words: int
    engine: dict[str, Any]
    seconds: float
    created_by: str
    created_at: datetime


# A keep-face photo travels inline as base64: at most KEEP_PHOTOS of KEEP_PHOTO_CHARS each
# (a 10 MB JPEG), which sets the body limit of the route that takes them.
KEEP_PHOTO_CHARS = 14_000_000
KEEP_PHOTOS = 5


class KeepPhoto(BaseModel):
    """A reference photo of someone who may stay visible, sent inline (base64)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    data: str = Field(min_length=4, max_length=KEEP_PHOTO_CHARS, description="base64 JPEG/PNG")


PersonId = Annotated[str, Field(min_length=1, max_length=40,
                                description="`<analysis id>-<person number>` (GET "
                                            "/evidence/{id}/people)")]


class RedactionRequest(BaseModel):
    """What a custodian asks for beyond blurring every face.

    `regions` follows redaction/regions.py (manual boxes, fixed or followed, blackout and
    mute ranges, each with the exemption reason given; boxes in the displayed frame's pixels);
    `keep_persons` names people the person count found (`GET /evidence/{id}/people`) who stay
    visible: only their own faces, where the count followed them, stay sharp, and keeping one
    never unblurs another; `keep_reasons` says why, per person; `keep_adults` names enrolled
    known adults who may stay visible (an SRO, a consenting staff member); `keep_photos` are
    reference photos of people who may stay visible in this release only: each must show one
    clear face, is stored encrypted, and only its name and hash go into the job and the log.
    Everyone else is blurred. Who chose each region and person, and when, is recorded by the
    server.
    """

    model_config = ConfigDict(extra="forbid")

    regions: dict[str, Any] = Field(default_factory=dict)
    keep_persons: list[PersonId] = Field(default_factory=list, max_length=50)
    keep_reasons: dict[PersonId, Annotated[str, Field(max_length=500)]] = Field(
        default_factory=dict, max_length=50)
    keep_adults: list[Annotated[int, Field(ge=1, le=INTEGER_MAX)]] = Field(
        default_factory=list, max_length=20)
    keep_photos: list[KeepPhoto] = Field(default_factory=list, max_length=KEEP_PHOTOS)
    detect_every: int | None = Field(default=None, ge=1, le=30)
    pad: float | None = Field(default=None, ge=0, le=2)
    # also blur every whole head (hair, ears, the back of a head: redaction/heads.py), for
    # footage where a child is known by more than the face
    heads: bool | None = None
    # what a mute range sounds like in this copy: silence, or a tone that shows it was cut
    mute_sound: Literal["silence", "bleep"] | None = None
    # the speech search's suggestions the custodian accepted, added to `regions`' mute
    # ranges with who accepted each
    speech: SpeechChoice | None = None


class DerivativeLabel(BaseModel):
    """The custodian's name for a redacted copy (empty: none)."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(max_length=120)


class DerivativeRead(UtcRead):
    """A derivative as the API shows it (never its keys)."""

    id: str
    evidence_id: str
    job_id: str | None
    kind: str
    sha256: str
    size: int
    manifest_sha256: str
    source_sha256: str
    frames: int
    boxes: int
    tracks: int
    review_flags: int
    flags: list[dict[str, Any]] = []
    warnings: list[str]
    request: dict[str, Any]
    requested_by: str
    created_at: datetime
    label: str = ""
    signed_from: str | None = None
    c2pa: dict[str, Any] | None = None

