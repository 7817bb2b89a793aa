"""Shapes of speech redaction: a transcript's words, the terms a custodian enters for a
recording, and the mute ranges suggested for a person to accept, reject or widen.

Transcript (JSON, `Transcript.to_dict`; holds what was said, so it is stored encrypted
like any derivative and every read is logged):

    {"schema": "bwc-transcript/1", "engine": {"passes": [{...}, ...]}, "duration": 93.4,
     "seconds": 11.2, "word_columns": ["text", "start", "end", "confidence"],
     "words": [["Jayden,", 0.0, 0.52, 0.49], ...],      # the main recognition pass
     "alternatives": [[["Jaden", 0.02, 0.5, 0.61], ...]],  # further passes, same sound
     "spotted": [["jayden", 0.01, 0.49, 1.0], ...],  # keyword spotting of the terms' words
     "not_listened_for": ["okafor"]}   # term words the spotter's dictionary cannot say

"spotted" and "not_listened_for" are absent from transcripts stored before the spotter
(read back as none spotted, nothing listened for).

Terms (JSON, `parse_terms`):

    {"terms": ["Brianna Okafor", "Maple Street"], "patterns": ["KY\\d{6}"],
     "numbers": true, "min_digits": 5}

Times are seconds on the recording's timeline (where the redactor's mute ranges count).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bwc_custody.errors import validated
from redaction.errors import InvalidTerms

TRANSCRIPT_SCHEMA = "bwc-transcript/1"
WORD_COLUMNS = ["text", "start", "end", "confidence"]


@dataclass(frozen=True)
class Word:
    """One recognised word with its time range and the engine's confidence (0-1)."""

    text: str
    start: float
    end: float
    confidence: float

    def row(self) -> list[Any]:
        """The word as a compact JSON row (WORD_COLUMNS)."""
        return [self.text, round(self.start, 3), round(self.end, 3), round(self.confidence, 3)]


@dataclass
class Transcript:
    """Every word recognised in a recording, with the engine that heard them."""

    words: list[Word]
    duration: float | None
    engine: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # processing time
    # the same sound heard by further recognition passes (another setting or model): a
    # name one pass misses, another may catch (`engine["passes"]` describes each)
    alternatives: list[list[Word]] = field(default_factory=list)
    # the terms' words a keyword spotter heard (`engine["spotter"]` describes it): a second
    # opinion that knows only those words, so its hits are not part of any pass's text
    spotted: list[Word] = field(default_factory=list)
    # the terms' words the spotter could not listen for (not in its dictionary)
    not_listened_for: list[str] = field(default_factory=list)

    @property
    def passes(self) -> list[list[Word]]:
        """Every pass's words, the main one first."""
        return [self.words, *self.alternatives]

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON form."""
        return {"schema": TRANSCRIPT_SCHEMA, "engine": self.engine,
                "duration": self.duration, "seconds": round(self.seconds, 2),
                "word_columns": WORD_COLUMNS, "words": [w.row() for w in self.words],
                "alternatives": [[w.row() for w in ws] for ws in self.alternatives],
                "spotted": [w.row() for w in self.spotted],
                "not_listened_for": list(self.not_listened_for)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        """Read the stored JSON form back."""
        if data.get("schema") != TRANSCRIPT_SCHEMA:
            raise InvalidTerms(f"not a {TRANSCRIPT_SCHEMA} document", schema=data.get("schema"))

        def words(rows: list[list[Any]]) -> list[Word]:
            return [Word(str(t), float(s), float(e), float(c)) for t, s, e, c in rows]

        return cls(words(data["words"]), data.get("duration"), data.get("engine", {}),
                   float(data.get("seconds", 0.0)),
                   [words(ws) for ws in data.get("alternatives", [])],
                   words(data.get("spotted", [])),
                   [str(w) for w in data.get("not_listened_for", [])])


class SpeechTerms(BaseModel):
    """What identifies a child in this recording's speech, as the custodian enters it."""

    model_config = ConfigDict(extra="forbid")

    # names, streets, a school: each phrase's distinctive words are found alone too
    # ("Brianna" or "Okafor" said alone), its generic ones ("Street") only beside them
    terms: list[str] = Field(default_factory=list, max_length=500)
    # regular expressions over a spoken code with spaces removed, letters upper-case
    # (a student ID format such as "KY\\d{6}": "K Y four one seven..." -> "KY417...")
    patterns: list[str] = Field(default_factory=list, max_length=50)
    # mute any run of spoken digits this long (a phone number, a student or social
    # security number, a date of birth read out)
    numbers: bool = True
    # 5, not 7: a recogniser in noise drops a digit or two of a phone number; a ZIP code
    # or the end of a student ID identifies as well
    min_digits: int = Field(default=5, ge=3, le=20)

    @field_validator("terms")
    @classmethod
    def _terms(cls, v: list[str]) -> list[str]:
        out = [" ".join(t.split()) for t in v]
        for t in out:
            if not re.search(r"\w", t):
                raise ValueError(f"term {t!r} has no letters or digits")
            if len(t) > 100:
                raise ValueError(f"term {t[:20]!r}... is longer than 100 characters")
        return out

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                rx = re.compile(p)
            except re.error as exc:
                raise ValueError(f"pattern {p!r} is not a regular expression: {exc}") from None
            if rx.fullmatch(""):
                raise ValueError(f"pattern {p!r} matches nothing said (the empty string)")
        return v


def parse_terms(data: Any) -> SpeechTerms:
    """Validate a decoded terms document, or raise InvalidTerms naming each problem."""
    return validated(SpeechTerms, data, error=InvalidTerms, what="terms invalid")


Kind = Literal["term", "number", "pattern"]
Level = Literal["likely", "possible", "unsure"]


@dataclass(frozen=True)
class MuteSuggestion:
    """A stretch of speech that may identify a child, for a person to accept, reject or
    widen: `start`/`end` is the padded range to mute, `heard_*` the words themselves."""

    id: int
    start: float
    end: float
    heard: str
    heard_start: float
    heard_end: float
    kind: Kind
    term: str  # the custodian's term or pattern matched; "" for a spoken number
    match: float  # how closely what was heard matches the term (1.0 = same word)
    # the share of suggestions shown at this `level` that were on a word to mute, measured
    # on the bench's development clips (speech_match.LEVEL_PRECISION): 0.9 means about 9 in
    # 10 such suggestions were right, not a property of this one alone
    confidence: float
    low_confidence: bool  # flagged (level not "likely"): listen before answering; never dropped
    why: str
    agreed: int = 1  # how many recognition passes heard it (the keyword spotter counts as one)
    # how sure, in words for the custodian: "likely", "possible" or "unsure"
    level: Level = "likely"
    # the recogniser's own figure: its lowest word probability in the range x `match`.
    # Not a chance of being right (a name the terms taught it scores ~0.01 even when right)
    engine_confidence: float | None = None
    # only the keyword spotter heard it (redaction/speech_spot.py): no pass wrote it down,
    # so `heard` is the listed word it picked out, not what a transcript says
    spotted_only: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times rounded to ms)."""
        d = asdict(self)
        for k in ("start", "end", "heard_start", "heard_end", "match", "confidence",
                  "engine_confidence"):
            if d[k] is not None:
                d[k] = round(d[k], 3)
        return d
