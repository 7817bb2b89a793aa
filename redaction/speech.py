"""Speech that identifies a child: transcribe a recording offline, find the custodian's
terms and spoken numbers in it, and turn the suggestions a person accepted into mute
ranges for the redactor.

    transcript = transcribe(src, hotwords=terms.terms, progress=cb)     # slow: a job
    suggestions = find_in_transcript(transcript, terms)                # instant
    mutes = accepted_mutes(suggestions, decisions, decided_by="custodian1")
    redact_file(src, dst, regions=Regions(mute=mutes), options=RedactOptions(mute_sound="bleep"))

`suggest_mutes` does the first two in one call. Shapes: `redaction/speech_models.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bwc_custody.errors import validated
from redaction.errors import InvalidRegions
from redaction.media import MediaSource
from redaction.regions import MuteRange
from redaction.speech_audio import RATE, audio_pieces, probe_audio
from redaction.speech_engine import Transcriber, default_transcribers
from redaction.speech_match import (
    LEVEL_PRECISION,
    MatchOptions,
    find_identifiers,
    find_spotted,
    level_of,
)
from redaction.speech_models import MuteSuggestion, SpeechTerms, Transcript, Word
from redaction.speech_spot import KeywordSpotter, default_spotter

__all__ = ["Decision", "MatchOptions", "MuteSuggestion", "SpeechResult", "SpeechTerms",
           "Transcript", "Word", "accepted_mutes", "find_identifiers", "find_in_transcript",
           "suggest_mutes", "transcribe"]

# (seconds of audio done, seconds in all or None): the job queue's progress, as whole
# seconds so it has the same shape as the redactor's (frames done, frames in all)
ProgressFn = Callable[[int, int | None], None]


def transcribe(src: Path | MediaSource, *,
               transcriber: Transcriber | Sequence[Transcriber] | None = None,
               hotwords: Sequence[str] = (), progress: ProgressFn | None = None,
               piece_seconds: float = 10.0, spotter: KeywordSpotter | None = None,
               spot: bool = True, spot_digits: bool = False) -> Transcript:
    """Every word spoken in `src`'s first audio stream with its time range and confidence,
    heard by each of the transcribers (default: `default_transcribers()`); NoAudioStream
    when there is none. `hotwords` (the custodian's terms) bias spelling, and `spotter`
    (default: `default_spotter()`; `spot=False`: none) listens for their words in the same
    pieces, a second opinion kept in `Transcript.spotted` (with `spot_digits`, for the words
    of digits read out too).

    The sound is decoded in pieces of about `piece_seconds`, cut at quiet moments, each
    recognised on its own: measured on the bench, whole 30 s windows decoded with the terms
    as hotwords sometimes came back with half their speech left out (Whisper ends a window
    early), and 10 s pieces lost far less (redaction/README.md)."""
    started = time.perf_counter()
    info = probe_audio(src)
    engines: list[Transcriber] = (default_transcribers() if transcriber is None
                                  else [transcriber] if not isinstance(transcriber, Sequence)
                                  else list(transcriber))
    listening = None
    if spot and (hotwords or spot_digits):
        spotter = spotter or default_spotter()
        listening = spotter.prepare(hotwords, digits=spot_digits)
    # the spotter is one more step of each piece (~1/5 of a Whisper pass's time: measured)
    steps: list[Transcriber | KeywordSpotter] = [*engines, *([spotter] if spotter and
                                                              listening else [])]
    total = int(round(info.duration)) if info.duration else None
    passes: list[list[Word]] = [[] for _ in engines]
    spotted: list[Word] = []
    for start, samples in audio_pieces(src, info, piece_seconds=piece_seconds,
                                       search_seconds=min(4.0, piece_seconds / 3)):
        length = len(samples) / RATE
        for k, step in enumerate(steps):
            def piece_progress(done: float, start: float = start, k: int = k,
                               length: float = length) -> None:
                if progress:
                    share = (k + min(done, length) / max(length, 1e-6)) / len(steps)
                    progress(int(start - info.offset + share * length), total)

            if isinstance(step, KeywordSpotter):
                spotted += [Word(w.text, start + w.start, min(start + w.end, start + length),
                                 w.confidence) for w in step(samples, progress=piece_progress)]
                continue
            words = passes[k]
            for w in step(samples, hotwords=hotwords, progress=piece_progress):
                # the recogniser may stretch a piece's last word past its end: clamp, so
                # words stay in order across pieces
                s = max(start + w.start, words[-1].start if words else info.offset)
                e = min(max(start + w.end, s), start + length)
                words.append(Word(w.text, s, e, w.confidence))
        if progress:
            progress(int(start - info.offset + length), total)
    engine: dict[str, Any] = {"passes": [e.describe() for e in engines]}
    if spotter and listening:
        engine["spotter"] = {**spotter.describe(),
                             "digits": listening.digits,
                             "not_listened_for": listening.not_listened_for}
    return Transcript(passes[0] if passes else [], info.duration, engine,
                      time.perf_counter() - started, passes[1:], spotted,
                      listening.not_listened_for if listening else [])


def find_in_transcript(transcript: Transcript, terms: SpeechTerms,
                       options: MatchOptions | None = None) -> list[MuteSuggestion]:
    """`find_identifiers` on every pass of `transcript`; what several passes heard at the
    same time becomes one suggestion covering all of them. A term's word (or a run of digit
    words) the keyword spotter heard (`transcript.spotted`) counts as one more pass where a
    pass heard the same term (a number) at the same time, and is a suggestion of its own
    (SPOTTED_LEVEL, SPOTTED_NUMBER_LEVEL) where none did."""
    opts = options or MatchOptions()
    found = [(k, s) for k, words in enumerate(transcript.passes)
             for s in find_identifiers(words, terms, opts, transcript.duration)]
    found.sort(key=lambda ks: (ks[1].start, ks[1].end))
    groups: list[list[tuple[int, MuteSuggestion]]] = []
    for k, s in found:
        g = groups[-1] if groups else None
        if g and s.kind == g[0][1].kind and s.start < max(x.end for _, x in g):
            g.append((k, s))
        else:
            groups.append([(k, s)])
    n = len(transcript.passes)
    spot = n  # the spotter's index among a group's members
    for s in find_spotted(transcript.spotted, terms, opts, transcript.duration):
        same = next((g for g in groups if g[0][1].kind == s.kind
                     and (s.kind != "term" or any(x.term == s.term for _, x in g))
                     and s.start < max(x.end for _, x in g)
                     and s.end > min(x.start for _, x in g)), None)
        if same is not None:
            same.append((spot, s))
        else:
            groups.append([(spot, s)])
    groups.sort(key=lambda g: min(x.start for _, x in g))
    out = []
    for i, g in enumerate(groups):
        heard = [x for k, x in g if k != spot] or [x for _, x in g]
        best = max(heard, key=lambda x: (x.match, x.engine_confidence or 0.0))
        passes = {k for k, _ in g}  # passes, not hits: one pass may hit twice
        spotted = spot in passes
        agreed = len(passes)
        if spotted and len(passes) == 1:
            level, why = best.level, best.why  # SPOTTED_LEVEL or SPOTTED_NUMBER_LEVEL
        else:
            level = level_of(best.kind, best.match, agreed, opts)
            notes = ([] if n == 1 else [f"heard in {agreed - spotted} of {n} passes"]) + (
                ["spotted by keyword search too"] if spotted else [])
            why = f"{best.why} ({', '.join(notes)})" if notes else best.why
        # a spotted hit beside a pass's suggestion only agrees with it: its own range (keyword
        # times, digit runs) widened numbers by seconds for one word more on the dev clips
        out.append(replace(best, id=i, start=min(x.start for x in heard),
                           end=max(x.end for x in heard),
                           heard_start=min(x.heard_start for x in heard),
                           heard_end=max(x.heard_end for x in heard), why=why, agreed=agreed,
                           level=level, confidence=LEVEL_PRECISION[level],
                           low_confidence=level != "likely"))
    return out


@dataclass
class SpeechResult:
    """A transcript and what in it may identify a child."""

    transcript: Transcript
    suggestions: list[MuteSuggestion]


def suggest_mutes(src: Path | MediaSource, terms: SpeechTerms, *,
                  transcriber: Transcriber | None = None, options: MatchOptions | None = None,
                  progress: ProgressFn | None = None,
                  spotter: KeywordSpotter | None = None) -> SpeechResult:
    """Transcribe `src` (with keyword spotting of the terms' words, and of digit words when
    `terms.numbers`) and suggest a mute range for every term, number and code heard or
    spotted."""
    transcript = transcribe(src, transcriber=transcriber, hotwords=terms.terms,
                            progress=progress, spotter=spotter, spot_digits=terms.numbers)
    return SpeechResult(transcript, find_in_transcript(transcript, terms, options))


class Decision(BaseModel):
    """A person's answer to one suggestion: accept it (optionally widened) or reject it."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=0)
    action: Literal["accept", "reject"]
    # a wider range to mute instead of the suggested one (it must still cover the words)
    start: float | None = Field(default=None, ge=0)
    end: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Decision:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


def accepted_mutes(suggestions: Sequence[MuteSuggestion],
                   decisions: Sequence[Decision | dict[str, Any]],
                   *, decided_by: str) -> list[MuteRange]:
    """The mute ranges of the accepted suggestions, each recording who accepted it; a
    widened range must still cover the words heard (InvalidRegions otherwise). The range's
    label names the kind of term, never the words: the manifest travels with the copy."""
    by_id = {s.id: s for s in suggestions}
    out: list[MuteRange] = []
    for raw in decisions:
        d = raw if isinstance(raw, Decision) else validated(
            Decision, raw, error=InvalidRegions, what="decision invalid")
        s = by_id.get(d.id)
        if s is None:
            raise InvalidRegions(f"no suggestion {d.id}", id=d.id)
        if d.action == "reject":
            continue
        start = s.start if d.start is None else d.start
        end = s.end if d.end is None else d.end
        if start > s.heard_start or end < s.heard_end:
            raise InvalidRegions(
                f"suggestion {d.id}: {start:.3f}-{end:.3f} s does not cover the words heard "
                f"({s.heard_start:.3f}-{s.heard_end:.3f} s); a range is widened, not narrowed",
                id=d.id)
        out.append(MuteRange(start=start, end=end, label=f"speech: {s.kind}",
                             origin="speech", suggestion=s.id, accepted_by=decided_by,
                             confidence=round(s.confidence, 3),
                             widened=d.start is not None or d.end is not None))
    return sorted(out, key=lambda r: r.start)
