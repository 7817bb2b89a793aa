#!/usr/bin/env python3
"""Benchmark speech redaction: are spoken names and numbers found and muted, at what cost,
how fast.

Builds clips (bench/audio_clips.py: espeak-ng speaks a school scene with three students'
names, a street, phone numbers and student IDs at known times, over sox-synthesised
hallway or cafeteria noise at each SNR), runs each engine, counts every suggestion as
accepted (the reviewer's starting point) and reports:

  muted      share of target words with >= 90% of their spoken time range muted
  whole      share with all of it muted (>= 99%)
  names / numbers   `muted` for the custodian's terms and for spoken numbers apart
  extra s    muted seconds that held no target word (the price), and per minute of audio
  flagged    share of suggestions flagged low confidence
  rtf        audio seconds per wall second for the whole job (>= 1: faster than real
             time), and CPU seconds per audio second (children included: steadier when
             others share the machine)

Engines: `whisper` (ours, what the server runs: redaction/speech.py, Whisper via
faster-whisper, three passes (tiny.en with and without the terms as hotwords, base with;
`--third none` for the first two only), and pocketsphinx keyword spotting of the terms'
words beside them, redaction/speech_spot.py); each `whisper` run also prints `wh-nospt`,
the same transcript scored without the spotter's hits (before/after with Whisper identical;
`--no-spot` runs no spotter at all) and `wh-names` with its term words but not its digit
words; `sphinx` is the spotter alone on the whole file, as first measured. Needs Debian's
`espeak-ng` and `sox`.

    nice -n 10 .venv/bin/python bench/audio.py                     # seeds 1, all SNRs
    .venv/bin/python bench/audio.py --seeds 2 3 --snr 10 --engines whisper --pads 0.1 0.2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.audio_clips import Speech, make_speech, mix, truth_dict  # noqa: E402
from redaction.speech import SpeechTerms, Transcript, find_in_transcript, transcribe  # noqa: E402
from redaction.speech_engine import BASE, WhisperTranscriber  # noqa: E402
from redaction.speech_match import DIGIT_WORDS, MatchOptions, normalize  # noqa: E402
from redaction.speech_spot import KeywordSpotter  # noqa: E402

Range = tuple[float, float]


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def union(ranges: Sequence[Range]) -> list[Range]:
    """Sorted, merged ranges."""
    out: list[list[float]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def overlap(r: Range, merged: Sequence[Range]) -> float:
    """Seconds of `r` inside `merged`."""
    return sum(max(0.0, min(r[1], b) - max(r[0], a)) for a, b in merged)


def score(speech: Speech, ranges: Sequence[Range], flagged: int,
          levels: Sequence[str] = ()) -> dict[str, Any]:
    """Recall and price of one set of mute ranges against the clip's truth; with `levels`
    (each range's shown level), how many at each level were on a target word."""
    muted = union(ranges)
    cover = [(t.kind, overlap((t.start, t.end), muted) / max(1e-6, t.end - t.start))
             for t in speech.targets]
    truth = union([(t.start, t.end) for t in speech.targets])
    muted_s = sum(b - a for a, b in muted)
    extra = muted_s - sum(overlap(r, truth) for r in muted)

    def share(kind: str | None, at: float) -> float | None:
        sel = [c for k, c in cover if kind is None or k == kind]
        return round(sum(c >= at for c in sel) / len(sel), 4) if sel else None

    false = sum(1 for r in ranges if overlap(r, truth) == 0)
    by_level: dict[str, list[int]] = {}
    for r, level in zip(ranges, levels, strict=False):
        got = by_level.setdefault(level, [0, 0])
        got[0] += overlap(r, truth) > 0
        got[1] += 1
    return {"levels": by_level, "targets": len(cover), "muted": share(None, 0.9),
            "whole": share(None, 0.99), "false": false,
            "names": share("name", 0.9), "numbers": share("number", 0.9),
            "missed": [t.text for t, (_, c) in zip(speech.targets, cover, strict=True)
                       if c < 0.9],
            "extra_s": round(extra, 2), "extra_per_min": round(extra / speech.duration * 60, 2),
            "suggestions": len(ranges), "flagged": flagged}


def run_sphinx(wav: Path, terms: SpeechTerms, threshold: float) -> tuple[
        list[tuple[str, float, float, float]], float, float, list[str]]:
    """pocketsphinx keyword spotting for every word of every term; (hits, wall s, CPU s,
    term words missing from its dictionary, which it cannot spot)."""
    import subprocess

    from pocketsphinx import Decoder, get_model_path

    c0, t0 = _cpu(), time.perf_counter()
    dict_path = Path(get_model_path()) / "en-us" / "cmudict-en-us.dict"
    known = {line.split()[0] for line in dict_path.read_text().splitlines() if line}
    words = sorted({normalize(w) for t in terms.terms for w in t.split()})
    oov = [w for w in words if w not in known]
    kws = "\n".join(f"{w} /{threshold}/" for w in words if w in known) + "\n"
    kws_file = wav.with_suffix(".kws")
    kws_file.write_text(kws)
    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-ac", "1", "-ar", "16000",
                          "-f", "s16le", "-"], capture_output=True, check=True).stdout
    dec = Decoder(samprate=16000, kws=str(kws_file), loglevel="FATAL")
    dec.start_utt()
    dec.process_raw(pcm, full_utt=True)
    dec.end_utt()
    hits = [(s.word.strip(), s.start_frame / 100, s.end_frame / 100, float(s.prob))
            for s in dec.seg()]
    return hits, time.perf_counter() - t0, _cpu() - c0, oov


class _TimedSpotter(KeywordSpotter):
    """The server's spotter, counting its own CPU seconds (to score without it)."""

    cpu: float = 0.0

    def __call__(self, samples: Any, **kw: Any) -> Any:
        c0 = _cpu()
        try:
            return super().__call__(samples, **kw)
        finally:
            self.cpu += _cpu() - c0


def timing_errors(speech: Speech, tr: Transcript) -> dict[str, float] | None:
    """How far the recogniser's word times fall from the truth, for target words it heard
    (median and 90th percentile of start and end error, seconds; + = late)."""
    import numpy as np

    starts, ends = [], []
    for t in speech.targets:
        key = normalize(t.text)
        near = [w for w in tr.words if normalize(w.text) == key
                and abs(w.start - t.start) < 1.0]
        if near:
            w = min(near, key=lambda w: abs(w.start - t.start))
            starts.append(w.start - t.start)
            ends.append(w.end - t.end)
    if not starts:
        return None
    return {"n": len(starts), "start_median": round(float(np.median(starts)), 3),
            "start_p10": round(float(np.percentile(starts, 10)), 3),
            "start_p90": round(float(np.percentile(starts, 90)), 3),
            "end_median": round(float(np.median(ends)), 3),
            "end_p10": round(float(np.percentile(ends, 10)), 3),
            "end_p90": round(float(np.percentile(ends, 90)), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--snr", type=float, nargs="+", default=[20, 10, 5])
    ap.add_argument("--noise", nargs="+", default=["hallway", "cafeteria"])
    ap.add_argument("--engines", nargs="+", default=["whisper", "sphinx"])
    ap.add_argument("--sentences", type=int, default=24, help="sentences a clip (~4 s each)")
    ap.add_argument("--pads", nargs="+",
                    default=[f"{MatchOptions.pad_before}/{MatchOptions.pad_after}"],
                    help="seconds muted before/after each word (one figure: both)")
    ap.add_argument("--slacks", type=float, nargs="+", default=[MatchOptions.max_slack],
                    help="MatchOptions.max_slack values to score (0: off)")
    ap.add_argument("--min-match", type=float, default=MatchOptions.min_match)
    ap.add_argument("--join-piece-digits", type=int, default=MatchOptions.join_piece_digits)
    ap.add_argument("--join-gap", type=float, default=MatchOptions.join_gap,
                    help="MatchOptions.join_gap: seconds between pieces of one number (0: off)")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--vad", action="store_true", help="faster-whisper's Silero VAD on")
    ap.add_argument("--no-hotwords", action="store_true")
    ap.add_argument("--prompt", action="store_true",
                    help="the terms as Whisper's initial prompt (with --no-hotwords: instead)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--piece", type=float, default=None, help="seconds a recogniser piece")
    ap.add_argument("--batch", type=int, default=0, help="faster-whisper batched pipeline")
    ap.add_argument("--chunk", type=int, default=30, help="its chunk length, s")
    ap.add_argument("--model-dir", type=Path, help="another CTranslate2 Whisper model")
    ap.add_argument("--second", choices=["nohot", "model", "none"], default="nohot",
                    help="the second pass: tiny.en without hotwords (default, as the server "
                         "runs: redaction.speech_engine.default_transcribers), --second-dir's "
                         "model, or none")
    ap.add_argument("--second-dir", type=Path)
    ap.add_argument("--third", choices=["base", "none"], default="base",
                    help="the third pass: Whisper base with the terms as hotwords (default, as "
                         "the server runs), or none (the two tiny.en passes before it); "
                         "--model-dir measures that model alone, without it")
    ap.add_argument("--combine", nargs="+", metavar="SAVE",
                    help="score the union of transcripts saved by earlier --save runs")
    ap.add_argument("--sphinx-threshold", type=float, default=KeywordSpotter.threshold,
                    help="the keyword spotter's threshold (ours and `sphinx`)")
    ap.add_argument("--digit-threshold", type=float, default=KeywordSpotter.digit_threshold,
                    help="the keyword spotter's threshold for digit words")
    ap.add_argument("--no-spot", action="store_true",
                    help="`whisper` without the keyword spotter (as before issue 24)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/bwc-bench-audio"))
    ap.add_argument("--json", type=Path, help="write every row here")
    ap.add_argument("--save", help="keep each transcript as WORK/<clip>.<SAVE>.transcript.json")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    engine: list[WhisperTranscriber] = [WhisperTranscriber(
        threads=args.threads, beam_size=args.beam, vad=args.vad, batch=args.batch,
        chunk_length=args.chunk, use_hotwords=not args.no_hotwords, prompt_terms=args.prompt,
        **({"path": args.model_dir} if args.model_dir else {}))]
    if args.second == "nohot" and not args.no_hotwords:  # (else the same pass twice)
        engine.append(WhisperTranscriber(threads=args.threads, beam_size=args.beam,
                                         use_hotwords=False))
    elif args.second == "model":
        engine.append(WhisperTranscriber(threads=args.threads, beam_size=args.beam,
                                         path=args.second_dir))
    if args.third == "base" and not args.model_dir:
        engine.append(WhisperTranscriber(threads=args.threads, beam_size=args.beam, model=BASE))
    rows: list[dict[str, Any]] = []
    print(f"{'engine':8} {'noise':9} {'snr':>4} {'seed':>4} {'pad':>9} {'muted':>6} "
          f"{'whole':>6} {'names':>6} {'numbrs':>6} {'extra s':>8} {'/min':>5} "
          f"{'flag':>5} {'rtf':>5} {'cpu/s':>6}")
    for seed in args.seeds:
        speech = make_speech(seed, args.sentences)
        (args.work / f"seed{seed}.truth.json").write_text(json.dumps(truth_dict(speech)))
        terms = SpeechTerms(terms=speech.terms)
        for noise in args.noise:
            for snr in args.snr:
                wav = mix(speech, noise, snr, seed, args.work / f"s{seed}-{noise}-{snr:g}.wav")
                for name in args.engines:
                    results = _evaluate(name, wav, speech, terms, engine, args)
                    for row in results:
                        row.update(seed=seed, noise=noise, snr=snr, duration=speech.duration)
                        rows.append(row)
                        _print(row)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    _summary(rows)
    return 0


def _evaluate(name: str, wav: Path, speech: Speech, terms: SpeechTerms,
              engine: list[WhisperTranscriber],
              args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    if name == "whisper":
        spotter = None if args.no_spot else _TimedSpotter(
            threshold=args.sphinx_threshold, digit_threshold=args.digit_threshold)
        c0, t0 = _cpu(), time.perf_counter()
        if args.combine:
            saved = [Transcript.from_dict(json.loads(wav.with_suffix(
                f".{label}.transcript.json").read_text())) for label in args.combine]
            passes = [p for t in saved for p in t.passes]
            tr = Transcript(passes[0], saved[0].duration, {},
                            sum(t.seconds for t in saved), passes[1:])
            if spotter:
                # the saved transcripts' own spotting, else the spotter run now
                want = {**spotter.describe()["settings"], "digits": terms.numbers}
                have = [t for t in saved if t.engine.get("spotter") and {
                    **t.engine["spotter"]["settings"],
                    "digits": t.engine["spotter"].get("digits", False)} == want]
                if have:
                    tr.spotted, tr.not_listened_for = have[0].spotted, have[0].not_listened_for
                    spotter.cpu = have[0].engine.get("spot_cpu", 0.0)
                else:
                    spot = transcribe(wav, transcriber=[], hotwords=terms.terms,
                                      spotter=spotter, spot_digits=terms.numbers)
                    tr.spotted, tr.not_listened_for = spot.spotted, spot.not_listened_for
                    tr.seconds += spot.seconds
        else:
            kw = {"piece_seconds": args.piece} if args.piece else {}
            tr = transcribe(wav, transcriber=engine, hotwords=terms.terms, spotter=spotter,
                            spot=spotter is not None, spot_digits=terms.numbers, **kw)
            tr.engine["spot_cpu"] = spotter.cpu if spotter else 0.0
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        if args.combine:
            wall = cpu = tr.seconds  # the saved runs' own time
        if args.save:
            wav.with_suffix(f".{args.save}.transcript.json").write_text(
                json.dumps(tr.to_dict()))
        # the same transcript with the spotter's digits dropped, and with none of its hits
        names = [w for w in tr.spotted if normalize(w.text) not in DIGIT_WORDS]
        variants = [("whisper", tr)] if spotter is None else [
            ("whisper", tr), ("wh-names", replace(tr, spotted=names)),
            ("wh-nospt", replace(tr, spotted=[], not_listened_for=[]))]
        for label0, t in variants:
            # without the spotter: its CPU taken off (wall kept: the machine is shared)
            spot_cpu = spotter.cpu if spotter and label0 == "wh-nospt" else 0.0  # (names: same)
            for pad in args.pads:
                for slack in args.slacks:
                    before, _, after = pad.partition("/")
                    opts = MatchOptions(pad_before=float(before),
                                        pad_after=float(after or before),
                                        min_match=args.min_match, max_slack=slack,
                                        join_gap=args.join_gap,
                                        join_piece_digits=args.join_piece_digits)
                    sugg = find_in_transcript(t, terms, opts)
                    row = score(speech, [(s.start, s.end) for s in sugg],
                                sum(s.low_confidence for s in sugg),
                                # spotted-only ones apart: they may deserve a level of their own
                                [s.level + (f" (spotted {s.kind})" if s.spotted_only else "")
                                 for s in sugg])
                    label = pad if len(args.slacks) == 1 else f"{pad}~{slack:g}"
                    row.update(engine=label0 if spotter else "wh-nospt", pad=label,
                               wall=wall, cpu=max(1e-6, cpu - spot_cpu),
                               ranges=[(s.start, s.end) for s in sugg],
                               spotted_only=sum(s.spotted_only for s in sugg),
                               oov=t.not_listened_for,
                               timing=timing_errors(speech, t),
                               context=_context(speech, t, sugg))
                    rows.append(row)
    elif name == "whisper+sphinx":
        # pocketsphinx's keyword hits on the terms' words as a second opinion: added to
        # Whisper's suggestions (ours, scored as above) as further suggestions
        ours = [r for r in _evaluate("whisper", wav, speech, terms, engine, args)
                if r["engine"] == "wh-nospt"][0]
        hits, wall, cpu, oov = run_sphinx(wav, terms, args.sphinx_threshold)
        tr_ranges = ours.pop("ranges")
        for pad in args.pads:
            before, _, after = pad.partition("/")
            extra = [(max(0.0, a - float(before)), b + float(after or before))
                     for _, a, b, _ in hits]
            row = score(speech, tr_ranges + extra, 0)
            row.update(engine="wh+sph", pad=pad, wall=ours["wall"] + wall,
                       cpu=ours["cpu"] + cpu, oov=oov)
            rows.append(row)
    elif name == "sphinx":
        hits, wall, cpu, oov = run_sphinx(wav, terms, args.sphinx_threshold)
        for pad in args.pads:
            before, _, after = pad.partition("/")
            ranges = [(max(0.0, a - float(before)), b + float(after or before))
                      for _, a, b, _ in hits]
            row = score(speech, ranges, 0)
            row.update(engine="sphinx", pad=pad, wall=wall, cpu=cpu, oov=oov)
            rows.append(row)
    else:
        raise SystemExit(f"unknown engine {name}")
    return rows


def _context(speech: Speech, tr: Transcript, sugg: Sequence[Any]) -> list[str]:
    """For each target word not muted: what the recogniser heard around it."""
    muted = union([(s.start, s.end) for s in sugg])
    out = []
    for t in speech.targets:
        cov = overlap((t.start, t.end), muted) / max(1e-6, t.end - t.start)
        if cov < 0.9:
            near = " ".join(f"{w.text}@{w.start:.2f}" for w in tr.words
                            if w.end > t.start - 1.0 and w.start < t.end + 1.0)
            out.append(f"{t.text}@{t.start:.2f}-{t.end:.2f} ({cov:.2f}): {near}")
    return out


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _print(r: dict[str, Any]) -> None:
    print(f"{r['engine']:8} {r['noise']:9} {r['snr']:>4g} {r['seed']:>4} {r['pad']:>9} "
          f"{_fmt(r['muted']):>6} {_fmt(r['whole']):>6} {_fmt(r['names']):>6} "
          f"{_fmt(r['numbers']):>6} {r['extra_s']:>8.1f} {r['extra_per_min']:>5.1f} "
          f"{r['flagged']:>2}/{r['suggestions']:<3} {r['duration'] / r['wall']:>5.1f} "
          f"{r['cpu'] / r['duration']:>6.3f}", flush=True)
    if os.environ.get("BENCH_VERBOSE"):
        print("   timing:", r.get("timing"), "oov:", r.get("oov"))
        for line in r.get("context") or r["missed"]:
            print("   missed", line)


def _summary(rows: list[dict[str, Any]]) -> None:
    """Pooled over seeds and noises: target words muted / all, extra seconds per minute."""
    print("\npooled (targets muted / targets; extra muted s per min; audio s per wall s):")
    keys = sorted({(r["engine"], r["snr"], r["pad"]) for r in rows},
                  key=lambda k: (k[0], -k[1], k[2]))
    for eng, snr, pad in keys:
        sel = [r for r in rows if (r["engine"], r["snr"], r["pad"]) == (eng, snr, pad)]
        n = sum(r["targets"] for r in sel)
        got = sum(round(r["muted"] * r["targets"]) for r in sel)
        dur = sum(r["duration"] for r in sel)
        extra = sum(r["extra_s"] for r in sel)
        wall = sum(r["wall"] for r in sel)
        cpu = sum(r["cpu"] for r in sel)
        false = sum(r["false"] for r in sel)
        sugg = sum(r["suggestions"] for r in sel)
        print(f"  {eng:8} snr {snr:>4g} pad {pad:>9}: {got}/{n} = {got / n:.3f}; "
              f"extra {extra / dur * 60:.1f} s/min; {false}/{sugg} suggestions on no "
              f"target; rtf {dur / wall:.1f}x; CPU {cpu / dur:.3f} s per audio s")
        levels: dict[str, list[int]] = {}
        for r in sel:
            for level, (right, all_) in r.get("levels", {}).items():
                levels.setdefault(level, [0, 0])
                levels[level][0] += right
                levels[level][1] += all_
        if levels:
            print("           shown level: on a target word / suggestions: " + "; ".join(
                f"{k} {a}/{b} = {a / b:.2f}" for k, (a, b) in sorted(levels.items())))


if __name__ == "__main__":
    sys.exit(main())
