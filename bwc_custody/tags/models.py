"""Tags with provenance, enrolled known adults, 3-day notifications and analysis results."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from bwc_custody.timeutil import UtcDateTime, UtcRead, utcnow
from bwc_custody.vocabulary import TagName

TagSource = Literal["officer", "custodian", "auto"]
SOURCES: tuple[str, ...] = ("officer", "custodian", "auto")


def _ts(nullable: bool) -> Any:
    return Column(UtcDateTime(), nullable=nullable)


class Tag(SQLModel, table=True):
    """One tag on one evidence item from one source; removal is a soft state (history stays)."""

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: str = Field(foreign_key="evidence.id", index=True, max_length=36)
    name: str = Field(max_length=60)  # a policies.vocabulary.TAGS value
    source: str = Field(max_length=20)  # officer | custodian | auto
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    created_by: str = Field(max_length=120)
    confidence: float | None = None  # auto tags only
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # Auto tags: analysis id, track ids, frames; officer tags: the metadata field.
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    removed_at: datetime | None = Field(default=None, sa_column=_ts(True))
    removed_by: str | None = Field(default=None, max_length=120)
    removal_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # An automatic tag a later person count no longer supported: that count's id (a
    # retraction by the machine, unlike a custodian's removal, does not bind later counts).
    retracted_by_analysis: int | None = None

    @property
    def active(self) -> bool:
        """True until a custodian removes it."""
        return self.removed_at is None


class RecordingFacts(SQLModel, table=True):
    """What the custodian has established about one recording beyond its tags, read by the
    policy engine for every request on it: that the juvenile offender shown is being tried as
    an adult (KRS 635.120), and the concrete harm its premature release would do to a pending
    action (KRS 61.878(1)(h), as Shively (Ky. 2024) requires; printed in a denial)."""

    __tablename__ = "recording_facts"

    evidence_id: str = Field(foreign_key="evidence.id", primary_key=True, max_length=36)
    juvenile_tried_as_adult: bool = False
    articulated_harm: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_by: str = Field(max_length=120)
    updated_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UtcDateTime(), nullable=False))


class KnownAdult(SQLModel, table=True):
    """A consenting adult (SRO, staff) not counted as a student; encodings stored encrypted.

    The float64 encodings (N x 128) are sealed with AES-256-GCM under a per-record data key
    (AAD: `object_id`), and the data key is wrapped by the keyring's active KEK, exactly as
    stored objects are. Removal erases the ciphertext and keeps the row for the record.
    """

    __tablename__ = "known_adult"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    consent: str = Field(sa_column=Column(Text, nullable=False))
    object_id: str = Field(max_length=36, unique=True)
    kek_id: str = Field(max_length=64)
    wrapped_key: str = Field(sa_column=Column(Text, nullable=False))
    ciphertext: str = Field(sa_column=Column(Text, nullable=False))  # base64(nonce || ct)
    encoding_count: int
    photo_sha256: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    created_by: str = Field(max_length=120)
    removed_at: datetime | None = Field(default=None, sa_column=_ts(True))
    removed_by: str | None = Field(default=None, max_length=120)
    removal_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Notification(SQLModel, table=True):
    """A district-policy notice (policy 001, data collection 7) owed within three days.

    `due_at` is three calendar days after the incident: the recording's `recorded_at` when
    the officer or dock gave it, else the evidence's `received_at` (`due_basis` says which).
    """

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: str = Field(foreign_key="evidence.id", index=True, max_length=36)
    kind: str = Field(max_length=60)  # the tag that triggered it
    due_at: datetime = Field(sa_column=_ts(False))
    due_basis: str = Field(max_length=20)  # recorded_at | received_at
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    created_by: str = Field(max_length=120)
    done_at: datetime | None = Field(default=None, sa_column=_ts(True))
    done_by: str | None = Field(default=None, max_length=120)
    done_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AnalysisResult(SQLModel, table=True):
    """One run of the person-counting analysis over an evidence item's original."""

    __tablename__ = "analysis_result"

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: str = Field(foreign_key="evidence.id", index=True, max_length=36)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(False))
    created_by: str = Field(max_length=120)
    distinct_people: int
    unidentified_people: int
    known_adults: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    tracks: list[dict[str, Any]] = Field(default_factory=list,
                                         sa_column=Column(JSON, nullable=False))
    frames_total: int
    frames_analysed: int
    seconds: float
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    version: str = Field(max_length=40)


# ---- API shapes ----------------------------------------------------------------------


class TagRead(UtcRead):
    """A tag with its provenance."""

    id: int
    evidence_id: str
    name: TagName
    source: str
    created_at: datetime
    created_by: str
    confidence: float | None
    reason: str
    evidence: dict[str, Any]
    removed_at: datetime | None
    removed_by: str | None
    removal_reason: str | None
    retracted_by_analysis: int | None = None


class EvidenceTags(BaseModel):
    """Every tag of an evidence item and the effective set the policy engine sees."""

    evidence_id: str
    effective: list[TagName]
    tags: list[TagRead]


class TagCreate(BaseModel):
    """A custodian's tag decision."""

    model_config = ConfigDict(extra="forbid")

    name: TagName
    reason: str = PField(default="", max_length=4000)


class KnownAdultRead(UtcRead):
    """A known adult as listed (never the encodings)."""

    id: int
    name: str
    consent: str
    encoding_count: int
    photo_sha256: list[str]
    created_at: datetime
    created_by: str
    removed_at: datetime | None
    removed_by: str | None
    removal_reason: str | None


class NotificationRead(UtcRead):
    """A 3-day notification and whether it is done."""

    id: int
    evidence_id: str
    kind: str
    due_at: datetime
    due_basis: str
    created_at: datetime
    done_at: datetime | None
    done_by: str | None
    done_note: str | None


class NotificationDone(BaseModel):
    """Marking a notification done (who was notified, how)."""

    model_config = ConfigDict(extra="forbid")

    note: str = PField(default="", max_length=4000)


class AnalysisRead(UtcRead):
    """A stored analysis result."""

    id: int
    evidence_id: str
    created_at: datetime
    created_by: str
    distinct_people: int
    unidentified_people: int
    known_adults: list[str]
    tracks: list[dict[str, Any]]
    frames_total: int
    frames_analysed: int
    seconds: float
    settings: dict[str, Any]
    version: str


class RecordingFactsUpdate(BaseModel):
    """The custodian sets what it knows of a recording (each given field; a reason is
    required: the court record seen, the investigation's state)."""

    model_config = ConfigDict(extra="forbid")

    juvenile_tried_as_adult: bool | None = None
    articulated_harm: str | None = PField(default=None, max_length=4000)
    reason: str = PField(default="", max_length=4000)


class RecordingFactsRead(UtcRead):
    """A recording's facts as set (defaults when never set)."""

    evidence_id: str
    juvenile_tried_as_adult: bool
    articulated_harm: str | None
    updated_by: str | None = None
    updated_at: datetime | None = None


class Thumbnail(BaseModel):
    """One face thumbnail of a person: where in the video, and (when asked for) the JPEG."""

    frame: int
    time_s: float
    track_id: int
    jpeg_base64: str | None = None


class PersonRead(BaseModel):
    """One person a person count found: the tracks joined into them (as the count joins
    them: when unsure, two people), when they are seen, and whether an enrolled adult."""

    id: str = PField(description="`<analysis id>-<person number>`: what a redaction "
                                 "request's `keep_persons` names")
    analysis_id: int
    number: int
    first_s: float
    last_s: float
    first_frame: int
    last_frame: int
    track_ids: list[int]
    detections: int
    max_score: float
    enrolled_adult: str | None = PField(
        default=None, description="the enrolled known adult this person matched, else null "
                                  "(an unidentified person: presumed a student)")
    thumbnails: list[Thumbnail] = []


class PeopleRead(BaseModel):
    """Everyone a recording's newest person count found."""

    evidence_id: str
    analysis_id: int
    analysed_at: datetime
    fps: float
    width: int
    height: int
    frames_total: int
    # False for a count made before faces were kept: people are listed without thumbnails,
    # and cannot be kept visible until the count is run again
    faces_stored: bool
    people: list[PersonRead]
