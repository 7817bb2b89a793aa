"""Clips with known speech for the audio bench: espeak-ng (bench/voice.py) speaks a school
scene's sentences, with students' names, a street, a phone number and a student ID at
known times, over noise that sox synthesises (a hallway, a cafeteria), at a chosen
signal-to-noise ratio.

Truth per clip: every target word (the words a custodian's terms and the number rules
should mute) with its exact time range, the terms a custodian would enter, and the
names said that are NOT terms (an officer, a teacher: muting them is a cost).
"""

from __future__ import annotations

import random
import subprocess
import tempfile
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.voice import RATE, speak

FIRST = ["Jayden", "Brianna", "Marcus", "Aaliyah", "Tyler", "Destiny", "Isaiah", "Kayla",
         "Diego", "Hannah", "Malik", "Sofia", "Jasmine", "Trevor", "Mackenzie", "Xavier",
         "Imani", "Caleb", "Gabriela", "Dakota"]
LAST = ["Okafor", "Nguyen", "Patel", "Robinson", "Hernandez", "Kowalski", "Brooks",
        "Washington", "Delgado", "Fitzgerald", "Ramirez", "Sullivan", "Thompson"]
STREETS = ["Maple Street", "Bardstown Road", "Preston Highway", "Poplar Lane",
           "Chestnut Street", "Magnolia Avenue", "Taylorsville Road", "Shelby Street"]
# said, but not the custodian's terms: muting these is a cost, not a gain
OTHERS = ["Daniels", "Reynolds", "Carter", "Miller", "Jenkins", "Harper"]
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

TARGET_SENTENCES = [
    "{first}, sit down please.",
    "I need {first} {last} to come with me right now.",
    "{first} {last} lives on {street}, near the park.",
    "Is {first} in your class this year?",
    "Okay {first}, tell me what happened in the hallway.",
    "Her mother's number is {phone}.",
    "Your student ID is {sid}, is that right?",
    "We drove {first} home to {street} after school.",
    "Did {last} say anything to you before the fight?",
    "Call the office at {phone} if {first} comes back.",
]
OTHER_SENTENCES = [
    "Officer {other} is on the way to the gym.",
    "Everybody stay in the cafeteria until the bell rings.",
    "Mister {other} said the hallway was clear.",
    "Put your backpack on the table and step back.",
    "Nobody is in trouble, we just need to talk.",
    "Can you hear me? Radio check, unit four.",
    "Miss {other} will take the rest of the class outside.",
    "Okay, walk with me to the front office.",
]
BABBLE = [
    "Did you finish the homework for math class today?",
    "I think lunch is pizza again, it always is on Friday.",
    "My brother got a new game and we played all weekend long.",
    "Are you going to the basketball game after school tonight?",
    "She said the test was easy but I really did not study.",
    "Give me one of your fries, come on, just one.",
    "We have practice until five, then I have to walk home.",
    "That movie was so boring, I fell asleep halfway through it.",
]
VOICES = [("en-us", 165, 50), ("en-us+m3", 155, 40), ("en-us+f2", 170, 65),
          ("en+f3", 160, 60), ("en-us+m7", 175, 45), ("en+f4", 160, 55),
          ("en-029", 160, 50), ("en-us+klatt", 165, 50)]


@dataclass
class Target:
    """A word that must be muted, with its exact spoken time range."""

    text: str
    kind: str  # "name" (terms: names and streets) or "number"
    start: float
    end: float


@dataclass
class Script:
    """What a clip says and what a custodian would enter for it."""

    terms: list[str]
    others: list[str]
    sentences: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def _spell(number: str) -> str:
    return " ".join(DIGITS[int(c)] if c != "-" else "," for c in number).replace(" ,", ",")


def make_script(seed: int, sentences: int) -> Script:
    """A random school scene: three students, a street, a phone number, a student ID."""
    rng = random.Random(seed)
    students = [(f, rng.choice(LAST)) for f in rng.sample(FIRST, 3)]
    street = rng.choice(STREETS)
    terms = [f"{f} {last}" for f, last in students] + [street]
    script = Script(terms=terms, others=list(OTHERS))
    for k in range(sentences):
        if k % 3 == 2:
            template = rng.choice(OTHER_SENTENCES)
            slots = {"other": rng.choice(OTHERS)}
        else:
            template = TARGET_SENTENCES[(k * 7 + seed) % len(TARGET_SENTENCES)]
            f, last = rng.choice(students)
            phone = f"{rng.choice(['502', '859', '270'])}-{rng.randint(200, 999)}-" \
                    f"{rng.randint(0, 9999):04d}"
            slots = {"first": f, "last": last, "street": street, "phone": _spell(phone),
                     "sid": _spell(f"{rng.randint(100000, 999999)}")}
        script.sentences.append((template, slots))
    return script


def _targets(template: str, slots: dict[str, str]) -> dict[int, str]:
    """Word index in the spoken sentence -> target kind, for the slots that are targets."""
    kinds = {"first": "name", "last": "name", "street": "name", "phone": "number",
             "sid": "number"}
    out: dict[int, str] = {}
    idx = 0
    for piece in template.replace(",", " ,").split():
        if piece.startswith("{"):
            name = piece.strip("{},.?")
            n = len([w for w in slots[name].replace(",", " ").split() if w])
            if name in kinds:
                for k in range(n):
                    out[idx + k] = kinds[name]
            idx += n
        elif piece.strip(",.?"):
            idx += 1
    return out


def _sox_noise(kind: str, seconds: float, seed: int, work: Path) -> np.ndarray:
    """Noise synthesised by sox: `hallway` (brown + pink, slowly swelling, reverberant) or
    `cafeteria` (six espeak-ng talkers babbling over pink noise, reverberant)."""
    out = work / f"noise-{kind}.wav"
    if kind == "hallway":
        subprocess.run(["sox", "-R", "-n", "-r", str(RATE), "-c", "1", "-b", "16", str(out),
                        "synth", f"{seconds:.2f}", "brownnoise", "synth", "pinknoise", "mix",
                        "tremolo", "0.2", "40", "reverb", "60", "gain", "-n", "-3"],
                       check=True)
    elif kind == "cafeteria":
        rng = random.Random(seed + 1000)
        n = int(seconds * RATE)
        babble = np.zeros(n, np.float32)
        for talker in range(6):
            voice, rate, pitch = VOICES[talker % len(VOICES)]
            pos = rng.randint(0, RATE)
            while pos < n:
                u = speak(rng.choice(BABBLE), voice=voice, rate=rate + rng.randint(-10, 10),
                          pitch=pitch)
                seg = u.samples[: n - pos] * rng.uniform(0.5, 1.0)
                babble[pos:pos + len(seg)] += seg
                pos += len(u.samples) + rng.randint(0, RATE // 2)
        raw = work / "babble.wav"
        write_wav(raw, babble / max(1e-6, float(np.abs(babble).max())) * 0.5)
        pink = work / "pink.wav"
        subprocess.run(["sox", "-R", "-n", "-r", str(RATE), "-c", "1", "-b", "16", str(pink),
                        "synth", f"{seconds:.2f}", "pinknoise", "gain", "-n", "-12"], check=True)
        subprocess.run(["sox", "-R", "-m", str(raw), str(pink), str(out), "reverb", "50",
                        "gain", "-n", "-3"], check=True)
    else:
        raise ValueError(f"unknown noise {kind!r}")
    return read_wav(out)[: int(seconds * RATE)]


def read_wav(path: Path) -> np.ndarray:
    """Mono 16-bit WAV as float32."""
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), np.int16)
        if w.getnchannels() > 1:
            data = data.reshape(-1, w.getnchannels())[:, 0]
    return data.astype(np.float32) / 32768


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Float samples (-1..1) to a mono 16-bit WAV at RATE."""
    pcm = np.clip(samples * 32767, -32768, 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


@dataclass
class Speech:
    """The clean speech track of a clip and its truth."""

    samples: np.ndarray
    targets: list[Target]
    terms: list[str]
    others: list[str]
    said: list[dict[str, Any]]

    @property
    def duration(self) -> float:
        """Seconds."""
        return len(self.samples) / RATE


def make_speech(seed: int, sentences: int) -> Speech:
    """Speak a scene's sentences one after another with pauses; record every target."""
    rng = random.Random(seed)
    script = make_script(seed, sentences)
    pieces: list[np.ndarray] = [np.zeros(int(rng.uniform(0.5, 1.5) * RATE), np.float32)]
    pos = len(pieces[0])
    targets: list[Target] = []
    said = []
    for template, slots in script.sentences:
        voice, rate, pitch = rng.choice(VOICES)
        text = template.format(**slots)
        u = speak(text, voice=voice, rate=rate + rng.randint(-10, 10), pitch=pitch)
        kinds = _targets(template, slots)
        t0 = pos / RATE
        if len(u.words) != len(text.replace(",", " ").split()):
            raise RuntimeError(f"espeak-ng word events do not match the words of {text!r}: "
                               f"{[w.text for w in u.words]}")
        for k, w in enumerate(u.words):
            if k in kinds:
                targets.append(Target(w.text, kinds[k], t0 + w.start, t0 + w.end))
        said.append({"at": round(t0, 2), "text": text, "voice": voice})
        gap = np.zeros(int(rng.uniform(0.4, 2.0) * RATE), np.float32)
        pieces += [u.samples, gap]
        pos += len(u.samples) + len(gap)
    return Speech(np.concatenate(pieces), targets, script.terms, script.others, said)


def active_power(samples: np.ndarray) -> float:
    """Mean power over the 20 ms frames that hold speech (the 'active speech level')."""
    frame = int(0.02 * RATE)
    usable = len(samples) // frame * frame
    power = np.square(samples[:usable]).reshape(-1, frame).mean(axis=1)
    active = power > power.max() * 10 ** (-40 / 10)
    return float(power[active].mean())


def mix(speech: Speech, noise_kind: str, snr_db: float, seed: int, out: Path) -> Path:
    """Write speech + noise at `snr_db` (active speech level over mean noise power)."""
    with tempfile.TemporaryDirectory(prefix="bwc-audio-") as tmp:
        noise = _sox_noise(noise_kind, speech.duration + 0.1, seed, Path(tmp))
    noise = np.resize(noise, len(speech.samples))
    gain = np.sqrt(active_power(speech.samples)
                   / (float(np.square(noise).mean()) * 10 ** (snr_db / 10)))
    mixed = speech.samples + noise * gain
    mixed *= 0.9 / max(1e-6, float(np.abs(mixed).max()))
    write_wav(out, mixed)
    return out


def truth_dict(speech: Speech) -> dict[str, Any]:
    """The truth as JSON."""
    return {"duration": speech.duration, "terms": speech.terms, "others": speech.others,
            "targets": [asdict(t) for t in speech.targets], "said": speech.said}
