"""Keyword spotting: a second opinion beside the Whisper passes, listening for the words of
the custodian's terms only.

Whisper writes down what it thinks was said, and in noise it sometimes hears a name as
other words altogether ("a league" for Aaliyah); a keyword spotter is asked instead, of
every stretch of sound, whether it is one of the few words listened for. `KeywordSpotter`
runs CMU pocketsphinx's keyword search (the PyPI `pocketsphinx` wheel, BSD, which ships its
en-us acoustic model and the CMU pronouncing dictionary: nothing is downloaded) on the same
16 kHz pieces as the transcribers. It can only listen for words its dictionary spells out
how to say; the others are reported (`SpotResult.not_listened_for`), never an error: the
Whisper passes still look for them. Measured (bench/audio.py, redaction/README.md).
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np

from redaction.errors import ToolMissing
from redaction.speech_models import Word

PACKAGE = "pocketsphinx"
FRAME_S = 0.01  # pocketsphinx's frames: 100 a second

PieceProgress = Callable[[float], None]  # seconds of the piece done
# the words of a number read out digit by digit ("five zero two ..."), listened for when
# the custodian asks for spoken numbers: Whisper hears a run of them as other words at times
# ("Oh my God, I did it" for "eight five nine, nine three eight"). Not "oh": a keyword that
# short was spotted everywhere in babble (130 times in one 100 s held-out clip)
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def term_words(terms: Sequence[str]) -> list[str]:
    """The words of `terms` to listen for, lower case, in order, once each ("O'Brien" keeps
    its apostrophe: the dictionary spells it so)."""
    out: list[str] = []
    for t in terms:
        for w in t.split():
            w = re.sub(r"[^a-z0-9']", "", w.lower()).strip("'")
            if w and w not in out:
                out.append(w)
    return out


@dataclass(frozen=True)
class SpotResult:
    """What one recording's pieces were searched for and what was spotted."""

    listened_for: list[str]  # the terms' words searched for
    not_listened_for: list[str]  # term words the dictionary cannot say: not searched
    digits: bool = False  # the digit words searched for too


def _decoder_class() -> Any:
    try:
        from pocketsphinx import Decoder
    except ImportError:
        raise ToolMissing("pocketsphinx is not installed (pip install pocketsphinx)",
                          package=PACKAGE) from None
    return Decoder


@dataclass
class KeywordSpotter:
    """pocketsphinx keyword search for the terms' dictionary words, piece by piece.

    `threshold`: how readily a stretch of sound counts as a keyword (pocketsphinx's per
    phrase `kws_threshold`; smaller spots more). 1e-10 was chosen on the bench's development
    clips (1e-5 added nothing, 1e-15 and below mostly false alarms: redaction/README.md)."""

    threshold: float = 1e-10
    # the same for digit words (`prepare(..., digits=True)`): they are short and said in
    # runs, and a run of spotted digits is read by the matcher's rules for spoken numbers;
    # 1e-3 was chosen on the development clips (redaction/README.md)
    digit_threshold: float = 1e-3
    name: str = "pocketsphinx-kws"
    # the search `prepare` built (None: no word to listen for)
    _decoder: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        for t in (self.threshold, self.digit_threshold):
            if not 0 < t < 1:
                raise ValueError(f"threshold {t} is not between 0 and 1")
        _decoder_class()  # ToolMissing now, not in the middle of a job

    def describe(self) -> dict[str, Any]:
        """Engine, model and settings, for the transcript and the manifest."""
        return {"name": self.name, "model": "CMU pocketsphinx en-us acoustic model and "
                "cmudict-en-us (shipped in the pocketsphinx wheel)",
                "pocketsphinx": metadata.version(PACKAGE),
                "settings": {"threshold": self.threshold,
                             "digit_threshold": self.digit_threshold,
                             "digit_words": list(DIGIT_WORDS)}}

    def prepare(self, terms: Sequence[str], *, digits: bool = False) -> SpotResult:
        """Build the search for `terms`' words, and with `digits` for DIGIT_WORDS (a
        recording's pieces share it): which term words it can listen for, which not."""
        words = term_words(terms)
        decoder_class = _decoder_class()
        probe = decoder_class(samprate=16000, loglevel="FATAL", lm=None)
        known = [w for w in words if probe.lookup_word(w)]
        lines = [f"{w} /{self.threshold:g}/\n" for w in known]
        if digits:
            lines += [f"{w} /{self.digit_threshold:g}/\n" for w in DIGIT_WORDS
                      if w not in known]
        decoder = None
        if lines:
            # one line a word, "word /threshold/" (what the bench measured)
            fd, path = tempfile.mkstemp(suffix=".kws", text=True)
            try:
                with os.fdopen(fd, "w") as f:
                    f.writelines(lines)
                decoder = decoder_class(samprate=16000, loglevel="FATAL", kws=path)
            finally:
                os.unlink(path)
        with self._lock:
            self._decoder = decoder
        return SpotResult(known, [w for w in words if w not in known], digits)

    def __call__(self, samples: np.ndarray, *,
                 progress: PieceProgress | None = None) -> list[Word]:
        """The prepared words spotted in `samples` (16 kHz mono float32), times from the
        first sample; `confidence` is pocketsphinx's posterior for the hit (0-1)."""
        hits: list[Word] = []
        with self._lock:
            decoder = self._decoder
            if decoder is not None and len(samples):
                pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
                decoder.start_utt()
                decoder.process_raw(pcm, full_utt=True)
                decoder.end_utt()
                logmath = decoder.logmath
                for seg in decoder.seg() or []:  # None when nothing was spotted
                    hits.append(Word(seg.word.strip(), seg.start_frame * FRAME_S,
                                     (seg.end_frame + 1) * FRAME_S,
                                     min(1.0, float(logmath.exp(seg.prob)))))
        if progress:
            progress(len(samples) / 16000)
        return hits


def default_spotter() -> KeywordSpotter:
    """The spotter the figures in redaction/README.md were measured with."""
    return KeywordSpotter()
