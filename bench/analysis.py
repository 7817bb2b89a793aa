"""Person-count accuracy and speed of redaction/analysis.py on make_clip clips of real faces.

    .venv/bin/python bench/analysis.py [--set dev|heldout|all] [--out DIR] [--sweep]
                                       [--explain] [--baseline DIR] [--json FILE]
                                       [--setting KEY=VALUE ...] [--clips A,B] [--dark]
                                       [--lamp]

Clips are made by ../shared/tools/make_clip.py from ../shared/data/faces-dev (labelled
group photos) and ../shared/data/identities (photos of named people). The truth for a
clip is the number of distinct faces placed in it (make_clip's "people"), or, for clips
showing one person in several photos, the number of distinct names. Reported per clip:
truth, count, frames, analysis frames/s (video frames covered per second of wall time,
whole pipeline: ffmpeg decode, detection, encoding, tracking, clustering); then exact-match
accuracy and mean absolute error.

The "dev" clips are the ones settings were looked at on; the "heldout" clips use other
seeds (camera paths, photo order), sizes, groupings and identity photos, and were fixed
before their results were seen. --sweep re-clusters the same tracks at other thresholds.
--explain attributes each clip's errors to true faces (bench/analysis_truth.py): a count
can be exact with a split and a merge that cancel. --baseline DIR also times the
`redaction` package found in DIR (e.g. an older commit's `git archive REF redaction |
tar -x -C DIR`) on the same clips, alternating the order, and reports its counts and the
speed ratio: on a shared machine only ratios measured in one run mean anything.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.analysis_truth import explain, identities  # noqa: E402
from bench.lamp import add_lamp  # noqa: E402
from redaction.analysis import (  # noqa: E402
    AnalysisSettings,
    build_result,
    collect_tracks,
    person_labels,
)
from redaction.detect import Box  # noqa: E402
from redaction.encoders import warm_encoders  # noqa: E402

SHARED = ROOT.parent / "shared"
DEV = SHARED / "data" / "faces-dev"
IDS = SHARED / "data" / "identities"


@dataclass(frozen=True)
class Clip:
    """One bench clip: faces-dev globs or identity photos, timing, size and seed."""

    name: str
    globs: tuple[str, ...] = ()
    photos: tuple[str, ...] = ()  # identity photos (relative to IDS) instead of globs
    per: float = 1.5
    size: str = "1280x720"
    seed: int = 1
    people: int | None = None  # distinct names when one person is in several photos


DEV_CLIPS = [
    Clip("schoolkids", ("29_Students*",), per=1.0, size="640x360", seed=1),
    Clip("groups-meetings", ("12_*", "11_*"), per=1.0, size="1280x720", seed=2),
    Clip("voc-groups", ("20*",), per=1.5, size="960x540", seed=3),
    Clip("mixed-720p", ("29_*_1*", "12_*_2*", "11_*_5*"), per=1.5, size="1280x720", seed=7),
    Clip("identities", photos=("test/alex_lacamoire1.jpg", "train/biden/biden.jpg",
                               "train/obama/obama.jpg", "train/rose_leslie/img1.jpg",
                               "test/johnsnow_test1.jpg"), per=1.5, size="640x360", seed=5),
]

HELDOUT_CLIPS = [
    Clip("ho-kids-720p", ("29_Students*",), per=1.2, size="1280x720", seed=11),
    Clip("ho-groups-360p", ("12_*", "11_*"), per=1.5, size="640x360", seed=12),
    Clip("ho-mixed-540p", ("2008_*", "29_*_4*", "12_*_1*"), per=1.0, size="960x540", seed=13),
    Clip("ho-voc-kids", ("200*", "29_*_5*", "29_*_6*"), per=2.0, size="1280x720", seed=14),
    # Other photos of the identities: five people, none in the dev identities clip's photos.
    Clip("ho-identities", photos=("test/obama_and_biden.jpg", "test/kit_with_rose.jpg",
                                  "train/alex_lacamoire/img1.jpg"),
         per=1.5, size="960x540", seed=15),
    # One person in two photos each (cut between them): three people, six photos.
    Clip("ho-same-person", photos=("train/obama/obama.jpg", "train/biden/biden.jpg",
                                   "train/rose_leslie/img1.jpg", "train/obama/obama2.jpg",
                                   "train/biden/biden2.jpg", "train/rose_leslie/img2.jpg"),
         per=1.5, size="640x360", seed=16, people=3),
]


def _photos_dir(work: Path, clip: Clip) -> tuple[Path, Path]:
    """The clip's identity photos, with boxes from the detector (these photos are not
    labelled); names are prefixed so that make_clip's shuffle decides the order."""
    import cv2

    from redaction.detect import make_detector

    images = work / f"{clip.name}-photos"
    images.mkdir(exist_ok=True)
    boxes = {}
    for rel in clip.photos:
        name = rel.replace("/", "_")
        shutil.copy(IDS / rel, images / name)
        bgr = cv2.imread(str(IDS / rel))
        assert bgr is not None
        h, w = bgr.shape[:2]
        det = make_detector("centerface", threshold=0.5, detect_area=min(w * h, 1920 * 1088),
                            backend="float32")
        found = [b for b in det(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)) if b.score >= 0.5]
        boxes[name] = [[b.x0, b.y0, b.w, b.h] for b in found]
    (images / "boxes.json").write_text(json.dumps(boxes))
    return images, images / "boxes.json"


def _sources(work: Path, clip: Clip) -> tuple[Path, Path]:
    """(photo folder, boxes.json) the clip is made from."""
    if clip.photos:
        images = work / f"{clip.name}-photos"
        return images, images / "boxes.json"
    return DEV, DEV / "boxes.json"


def _named(clip: Clip, truth: list[list[tuple[str, Box]]]) -> list[list[tuple[str, Box]]]:
    """For a clip of one person in several photos, each face's identity is the person's
    name (the `train/<name>/` folder), so that --explain counts a person seen in two
    photos and counted twice as split; other clips keep (photo, label) identities."""
    if clip.people is None:
        return truth
    person = {rel.replace("/", "_"): rel.split("/")[1] for rel in clip.photos}
    assert all(not who.endswith("#1") for row in truth for who, _ in row), \
        f"{clip.name}: a photo of one named person shows two faces"
    return [[(person[who.rsplit("#", 1)[0]], box) for who, box in row] for row in truth]


def make(work: Path, clip: Clip, *, dark: bool = False, lamp: bool = False
         ) -> tuple[Path, int]:
    """Build one clip (under-exposed with sensor noise when `dark`; with a lamp's glare in
    view too when `lamp`, bench/lamp.py); returns (path, true number of people)."""
    if lamp:
        dark_clip, people = make(work, clip, dark=True)
        out = work / f"{clip.name}-lamp.mp4"
        if not out.exists():
            add_lamp(dark_clip, dark_clip.with_suffix(".truth.json"), out,
                     out.with_suffix(".truth.json"))
        return out, people
    images, boxes = (_photos_dir(work, clip) if clip.photos else (DEV, DEV / "boxes.json"))
    name = f"{clip.name}-dark" if dark else clip.name
    out, truth = work / f"{name}.mp4", work / f"{name}.truth.json"
    cmd = [sys.executable, str(SHARED / "tools" / "make_clip.py"), "--images", str(images),
           "--boxes", str(boxes), "--out", str(out), "--truth", str(truth),
           "--per-image", str(clip.per), "--size", clip.size, "--seed", str(clip.seed)]
    for g in clip.globs:
        cmd += ["--match", g]
    if dark:
        cmd += ["--dark"]
    subprocess.run(cmd, check=True, capture_output=True)
    people = int(json.loads(truth.read_text())["people"])
    return out, clip.people if clip.people is not None else people


_TIMED = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from redaction.analysis import analyze_file
import face_recognition  # imported before timing, as a worker would have
try:  # encoder processes started before timing too (trees from before them have none)
    from redaction.encoders import warm_encoders
    warm_encoders()
except ImportError:
    pass
t0 = time.perf_counter()
r = analyze_file(sys.argv[2])
print(json.dumps({"count": r.distinct_people, "seconds": time.perf_counter() - t0,
                  "frames": r.frames_total}))
"""


def _timed(root: Path, clip: Path) -> dict[str, float]:
    """Count and time `clip` with the `redaction` package under `root`, in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _TIMED, str(root), str(clip)], check=True,
                         capture_output=True, text=True, cwd=root)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", choices=["dev", "heldout", "all"], default="dev")
    ap.add_argument("--out", type=Path, help="keep clips here (default: a temp dir)")
    ap.add_argument("--sweep", action="store_true", help="also re-cluster at other thresholds")
    ap.add_argument("--baseline", type=Path, help="a directory holding an older `redaction`")
    ap.add_argument("--explain", action="store_true",
                    help="also attribute errors to true faces (split/merged/missed/extra)")
    ap.add_argument("--json", type=Path, help="write the results as JSON")
    ap.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                    help="override one AnalysisSettings field (repeatable), e.g. "
                         "--setting detect_area=942080")
    ap.add_argument("--clips", help="only these clips (comma-separated names)")
    ap.add_argument("--lamp", action="store_true",
                    help="build every clip dark with a lamp's glare in view (bench/lamp.py)")
    ap.add_argument("--dark", action="store_true",
                    help="build every clip under-exposed with sensor noise (make_clip.py "
                         "--dark), as night footage is")
    a = ap.parse_args()
    if (a.dark or a.lamp) and a.explain:
        # explain re-derives each face's place without the darkening, whose random draws
        # move the camera's path
        ap.error("--explain is not available with --dark or --lamp")
    work = a.out or Path(tempfile.mkdtemp(prefix="bench-analysis-"))
    work.mkdir(parents=True, exist_ok=True)
    clips = {"dev": DEV_CLIPS, "heldout": HELDOUT_CLIPS,
             "all": DEV_CLIPS + HELDOUT_CLIPS}[a.set]
    if a.clips:
        wanted = set(a.clips.split(","))
        clips = [c for c in clips if c.name in wanted]
    settings = with_settings(AnalysisSettings(), a.setting)
    warm_encoders()  # started once, as in a long-running job worker
    sweep = [0.30, 0.34, 0.38, 0.42, 0.46, 0.50, 0.60] if a.sweep else []
    rows = []
    for k, clip in enumerate(clips):
        path, truth = make(work, clip, dark=a.dark, lamp=a.lamp)
        row: dict[str, Any] = {"clip": clip.name, "size": clip.size, "truth": truth}
        if a.baseline:
            runs = [("new", ROOT), ("old", a.baseline)]
            timed = {label: _timed(root, path)
                     for label, root in (runs if k % 2 == 0 else runs[::-1])}
            new, old = timed["new"], timed["old"]
            row.update(count=new["count"], frames=new["frames"],
                       seconds=round(new["seconds"], 2), old_count=old["count"],
                       old_seconds=round(old["seconds"], 2))
        else:
            t0 = time.perf_counter()
            tracks, meta = collect_tracks(str(path), settings)
            result = build_result(tracks, meta, settings, [])
            secs = time.perf_counter() - t0
            row.update(count=result.distinct_people, frames=result.frames_total,
                       seconds=round(secs, 2),
                       sweep={str(th): build_result(tracks, meta,
                                                    replace(settings, cluster_distance=th),
                                                    []).distinct_people for th in sweep})
            if a.explain:
                images, boxes = _sources(work, clip)
                truth_ids = _named(clip, identities(SHARED, images, boxes, list(clip.globs),
                                                    clip.seed, clip.size, clip.per))
                row["explain"] = explain(*person_labels(tracks, meta, settings), truth_ids,
                                         tracks)
        row["fps"] = round(row["frames"] / row["seconds"], 1)
        rows.append(row)
        extra = (f"  old count {row['old_count']:3d} {row['old_seconds']:6.1f} s"
                 if a.baseline else f"  sweep {row['sweep']}" if sweep else "")
        if "explain" in row:
            extra += "  " + " ".join(f"{k} {row['explain'][k]}" for k in _ERRORS)
        print(f"{clip.name:16s} {clip.size:>9s} truth {truth:3d} count {row['count']:3d} "
              f"frames {row['frames']:4d} {row['fps']:6.1f} fps" + extra, flush=True)
    print(json.dumps(summarise(rows, settings, sweep, bool(a.baseline)), indent=2))
    if a.json:
        a.json.write_text(json.dumps({"summary": summarise(rows, settings, sweep,
                                                           bool(a.baseline)),
                                      "clips": rows}, indent=2))


_ERRORS = ("split", "merged", "missed", "undetected", "extra")


def with_settings(settings: AnalysisSettings, pairs: list[str]) -> AnalysisSettings:
    """`settings` with each KEY=VALUE applied, the value read as the field's type."""
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not hasattr(settings, key):
            raise SystemExit(f"--setting {pair!r}: expected KEY=VALUE with KEY one of "
                             f"{', '.join(sorted(vars(settings)))}")
        kind = type(getattr(settings, key))
        if kind is bool:  # bool("False") is True
            if value.lower() not in ("true", "false"):
                raise SystemExit(f"--setting {pair!r}: {key} is true or false")
            settings = replace(settings, **{key: value.lower() == "true"})
        else:
            settings = replace(settings, **{key: kind(value)})
    return settings


def summarise(rows: list[dict[str, Any]], settings: AnalysisSettings, sweep: list[float],
              baseline: bool) -> dict[str, object]:
    """Exact clips, error and speed over `rows` (and the baseline's, when timed)."""
    secs = sum(r["seconds"] for r in rows)
    frames = sum(r["frames"] for r in rows)
    out: dict[str, object] = {
        "clips": len(rows), "exact": sum(r["count"] == r["truth"] for r in rows),
        "mean_abs_error": round(sum(abs(r["count"] - r["truth"]) for r in rows) / len(rows), 2),
        "truth_people": sum(r["truth"] for r in rows),
        "counted_people": sum(r["count"] for r in rows),
        "fps": round(frames / secs, 1), "settings": vars(settings)}
    if baseline:
        old_secs = sum(r["old_seconds"] for r in rows)
        out.update(old_exact=sum(r["old_count"] == r["truth"] for r in rows),
                   old_counted_people=sum(r["old_count"] for r in rows),
                   old_fps=round(frames / old_secs, 1), speedup=round(old_secs / secs, 2))
    if rows and "explain" in rows[0]:
        out["errors"] = {k: sum(r["explain"][k] for r in rows) for k in _ERRORS}
    if sweep:
        out["sweep_exact"] = {str(th): sum(r["sweep"][str(th)] == r["truth"] for r in rows)
                              for th in sweep}
        out["sweep_counted"] = {str(th): sum(r["sweep"][str(th)] for r in rows)
                                for th in sweep}
    return out


if __name__ == "__main__":
    main()
