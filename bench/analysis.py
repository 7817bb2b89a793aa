"""Person-count accuracy and speed of redaction/analysis.py on make_clip clips of real faces.

    .venv/bin/python bench/analysis.py [--out DIR] [--sweep] [--json FILE]

Clips are made by ../shared/tools/make_clip.py from ../shared/data/faces-dev (labelled
group photos) and ../shared/data/identities (one photo per named person). The truth for a
clip is the number of distinct faces placed in it (make_clip's "people"). Reported per clip:
truth, count, frames, analysis frames/s (video frames covered per second of wall time,
whole pipeline: ffmpeg decode, detection, encoding, tracking, clustering); then exact-match
accuracy and mean absolute error. --sweep re-clusters the same tracks at other thresholds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redaction.analysis import AnalysisSettings, build_result, collect_tracks  # noqa: E402

SHARED = ROOT.parent / "shared"
DEV = SHARED / "data" / "faces-dev"
IDS = SHARED / "data" / "identities"
ONE_PER_PERSON = ["test/alex_lacamoire1.jpg", "train/biden/biden.jpg", "train/obama/obama.jpg",
                  "train/rose_leslie/img1.jpg", "test/johnsnow_test1.jpg"]

# (name, images dir, boxes, globs, seconds per photo, size, seed)
CLIPS = [
    ("schoolkids", "dev", ["29_Students*"], 1.0, "640x360", 1),
    ("groups-meetings", "dev", ["12_*", "11_*"], 1.0, "1280x720", 2),
    ("voc-groups", "dev", ["20*"], 1.5, "960x540", 3),
    ("mixed-720p", "dev", ["29_*_1*", "12_*_2*", "11_*_5*"], 1.5, "1280x720", 7),
    ("identities", "ids", ["*"], 1.5, "640x360", 5),
]


def _identities_dir(work: Path) -> tuple[Path, Path]:
    """One photo per named person, with a box from the detector (truth is 1 face each)."""
    import cv2

    from redaction.detect import make_detector

    images = work / "ids"
    images.mkdir(exist_ok=True)
    boxes = {}
    for rel in ONE_PER_PERSON:
        src = IDS / rel
        name = rel.replace("/", "_")
        shutil.copy(src, images / name)
        bgr = cv2.imread(str(src))
        assert bgr is not None
        h, w = bgr.shape[:2]
        det = make_detector("centerface", threshold=0.5, detect_area=min(w * h, 1920 * 1088))
        found = [b for b in det(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)) if b.score >= 0.5]
        boxes[name] = [[b.x0, b.y0, b.w, b.h] for b in found]
    (images / "boxes.json").write_text(json.dumps(boxes))
    return images, images / "boxes.json"


def make(work: Path, name: str, source: str, globs: list[str], per: float, size: str,
         seed: int) -> tuple[Path, dict]:  # type: ignore[type-arg]
    """Build one clip; returns (path, truth)."""
    images, boxes = (DEV, DEV / "boxes.json") if source == "dev" else _identities_dir(work)
    out, truth = work / f"{name}.mp4", work / f"{name}.truth.json"
    cmd = [sys.executable, str(SHARED / "tools" / "make_clip.py"), "--images", str(images),
           "--boxes", str(boxes), "--out", str(out), "--truth", str(truth),
           "--per-image", str(per), "--size", size, "--seed", str(seed)]
    for g in globs:
        cmd += ["--match", g]
    subprocess.run(cmd, check=True, capture_output=True)
    return out, json.loads(truth.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, help="keep clips here (default: a temp dir)")
    ap.add_argument("--sweep", action="store_true", help="also re-cluster at other thresholds")
    ap.add_argument("--json", type=Path, help="write the results as JSON")
    a = ap.parse_args()
    work = a.out or Path(tempfile.mkdtemp(prefix="bench-analysis-"))
    work.mkdir(parents=True, exist_ok=True)
    settings = AnalysisSettings()
    sweep = [0.30, 0.34, 0.38, 0.42, 0.46, 0.50, 0.60] if a.sweep else []
    rows = []
    for name, source, globs, per, size, seed in CLIPS:
        clip, truth = make(work, name, source, globs, per, size, seed)
        t0 = time.perf_counter()
        tracks, meta = collect_tracks(str(clip), settings)
        result = build_result(tracks, meta, settings, [])
        secs = time.perf_counter() - t0
        row = {"clip": name, "size": size, "truth": truth["people"],
               "count": result.distinct_people, "frames": result.frames_total,
               "analysed": result.frames_analysed, "seconds": round(secs, 2),
               "fps": round(result.frames_total / secs, 1),
               "sweep": {str(th): build_result(tracks, meta, replace(settings,
                                                                     cluster_distance=th),
                                               []).distinct_people for th in sweep}}
        rows.append(row)
        print(f"{name:16s} {size:>9s} truth {row['truth']:3d} count {row['count']:3d} "
              f"frames {row['frames']:4d} {row['fps']:6.1f} fps"
              + (f"  sweep {row['sweep']}" if sweep else ""), flush=True)
    exact = sum(r["count"] == r["truth"] for r in rows)
    mae = sum(abs(r["count"] - r["truth"]) for r in rows) / len(rows)
    total_truth = sum(r["truth"] for r in rows)
    frames = sum(r["frames"] for r in rows)
    secs = sum(r["seconds"] for r in rows)
    summary = {"clips": len(rows), "exact": exact, "accuracy": round(exact / len(rows), 3),
               "mean_abs_error": round(mae, 2), "truth_people": total_truth,
               "counted_people": sum(r["count"] for r in rows),
               "fps": round(frames / secs, 1), "cluster_distance": settings.cluster_distance}
    if sweep:
        summary["sweep_exact"] = {str(th): sum(r["sweep"][str(th)] == r["truth"] for r in rows)
                                  for th in sweep}
        summary["sweep_counted"] = {str(th): sum(r["sweep"][str(th)] for r in rows)
                                    for th in sweep}
    print(json.dumps(summary, indent=2))
    if a.json:
        a.json.write_text(json.dumps({"summary": summary, "clips": rows}, indent=2))


if __name__ == "__main__":
    main()
