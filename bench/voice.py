"""Speech with known word times, for the audio bench and tests: espeak-ng (Debian's
`espeak-ng`, through its C library) speaks a sentence and reports where each word starts.

The command-line `espeak-ng -w` writes the sound but not the word times; the library's
synthesis callback carries a word event (its character position and audio position in ms)
for every word, so a target word's time range in a natural-sounding sentence is exact, not
guessed from pauses. A word ends where the next one starts, less the trailing silence
(measured on the clean signal), so a pause after "Jayden," is not counted as the name.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import threading
from dataclasses import dataclass

import numpy as np

RATE = 22050  # espeak-ng's own output rate
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_END, _EVENT_MSG_TERMINATED = 0, 1, 5, 6
_ESPEAK_RATE, _ESPEAK_PITCH = 1, 3
_CHARS_UTF8 = 1


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_void_p)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None


def _library() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)") from exc
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 500, None, 0)
        if rate != RATE:
            raise RuntimeError(f"espeak-ng initialised at {rate} Hz, expected {RATE}")
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint,
                                     ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                     ctypes.c_void_p, ctypes.c_void_p]
        _lib = lib
    return _lib


@dataclass(frozen=True)
class SpokenWord:
    """One word as spoken: its text and its time range in seconds from the clip start."""

    text: str
    start: float
    end: float


@dataclass
class Utterance:
    """A synthesised sentence: mono float32 samples at RATE and each word's times."""

    samples: np.ndarray
    words: list[SpokenWord]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / RATE


def _trim(samples: np.ndarray, start: int, end: int) -> tuple[int, int]:
    """[start, end) less the silence at either end (on the clean signal)."""
    seg = np.abs(samples[start:end])
    loud = np.flatnonzero(seg > 0.02 * max(float(np.abs(samples).max()), 1e-6))
    if not len(loud):
        return start, end
    win = int(0.01 * RATE)
    return max(start, start + int(loud[0]) - win), min(end, start + int(loud[-1]) + win)


def speak(text: str, *, voice: str = "en-us", rate: int = 165, pitch: int = 50) -> Utterance:
    """Speak `text` with espeak-ng; return the samples and the time range of every word."""
    lib = _library()
    chunks: list[np.ndarray] = []
    events: list[tuple[int, int, int]] = []  # (char position 1-based, length, ms)

    def callback(wav: ctypes.POINTER(ctypes.c_short), n: int,  # type: ignore[valid-type]
                 ev: ctypes.POINTER(_Event)) -> int:  # type: ignore[valid-type]
        if n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).astype(np.float32) / 32768)
        i = 0
        while ev[i].type != _EVENT_LIST_TERMINATED:
            e = ev[i]
            if e.type == _EVENT_WORD:
                events.append((e.text_position, e.length, e.audio_position))
            i += 1
        return 0

    data = text.encode("utf-8")
    with _lock:
        cb = _CALLBACK(callback)
        lib.espeak_SetSynthCallback(cb)
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        lib.espeak_SetParameter(_ESPEAK_RATE, rate, 0)
        lib.espeak_SetParameter(_ESPEAK_PITCH, pitch, 0)
        if lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, _CHARS_UTF8, None, None) != 0:
            raise RuntimeError(f"espeak-ng could not speak {text!r}")
        lib.espeak_Synchronize()
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    # event ranges: a word starts at its event and ends where the next event starts, less
    # the silence before it (and the silence before the word itself)
    ranges: dict[int, tuple[float, float]] = {}
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    for k, (pos, _length, ms) in enumerate(events):
        start = int(ms * RATE / 1000)
        nxt = int(events[k + 1][2] * RATE / 1000) if k + 1 < len(events) else len(samples)
        start, end = _trim(samples, start, max(nxt, start + 1))
        for i, (a, b) in enumerate(spans):
            if a <= pos - 1 < b:
                ranges.setdefault(i, (start / RATE, end / RATE))
    words: list[SpokenWord] = []
    last = (0.0, 0.0)
    for i, (a, b) in enumerate(spans):
        word = re.sub(r"[^\w'-]", "", text[a:b])
        # espeak-ng speaks some short words together with the one before ("on the"): they
        # share that event's range
        last = ranges.get(i, last)
        if word:
            words.append(SpokenWord(word, *last))
    return Utterance(samples, words)
