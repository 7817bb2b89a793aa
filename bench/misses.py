#!/usr/bin/env python3
"""Why truth boxes were missed: classify every box the sharpness test failed.

    .venv/bin/python bench/misses.py CLIP.mp4 CLIP.truth.json OUT.mp4 OUT.manifest.json

For each truth box still sharp in the output it reports how much of the box the manifest's
blurred regions covered, and then a cause:

  no_box       nothing blurred over it (the face was never found near this frame)
  gap          no box here, but a track covered this face within a few frames (a track
               ended too early or started too late)
  partial      a box covered part of it: the box lagged the face (motion) or was too small
  weak_blur    fully covered, still judged sharp (blur too weak for the test)

with the face's size, speed (centre pixels per frame), whether it touches the frame edge,
the phase of the frame between keyframes, the sharpness ratio, and the share of the
unblurred run's detail left (`detail_kept`, against `--reference`; "blurred by detail" in
the summary: at most the ratio left, so only the variance test calls it sharp).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the package, not bench/redaction.py

from redaction.blur import detail_kept, sharpness  # noqa: E402


def _cover(box: tuple[float, float, float, float], regions: list[list[int]]) -> float:
    """Share of `box` (x0, y0, x1, y1) covered by the union of `regions`."""
    x0, y0, x1, y1 = (int(np.floor(box[0])), int(np.floor(box[1])), int(np.ceil(box[2])),
                      int(np.ceil(box[3])))
    if x1 <= x0 or y1 <= y0:
        return 1.0
    m = np.zeros((y1 - y0, x1 - x0), bool)
    for rx0, ry0, rx1, ry1 in regions:
        ax0, ay0 = max(rx0, x0) - x0, max(ry0, y0) - y0
        ax1, ay1 = min(rx1, x1) - x0, min(ry1, y1) - y0
        if ax1 > ax0 and ay1 > ay0:
            m[ay0:ay1, ax0:ax1] = True
    return float(m.mean())


def _speed(frames: list[list[list[float]]], j: int, box: list[float]) -> float:
    """Centre displacement (px/frame) to the nearest truth box in the previous frame."""
    if j == 0 or not frames[j - 1]:
        return 0.0
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    d = min(((b[0] + b[2] / 2 - cx) ** 2 + (b[1] + b[3] / 2 - cy) ** 2) ** 0.5
            for b in frames[j - 1])
    return d if d < max(box[2], box[3]) else 0.0  # a different face: a new segment


class BoxRegions(NamedTuple):
    """One truth box of one frame and its grey region in the source, the output and the
    reference (the unblurred run; the source's own region without one)."""

    frame: int
    box: list[float]
    source: np.ndarray
    output: np.ndarray
    reference: np.ndarray


def box_regions(orig: Path, red: Path, truth: dict[str, Any],
                reference: Path | None = None) -> Iterator[BoxRegions]:
    """Every truth box's regions, frame by frame (each video read once, in step)."""
    clips = [cv2.VideoCapture(str(p)) for p in (orig, red, *([reference] if reference else []))]
    for j, boxes in enumerate(truth["frames"]):
        read = [c.read() for c in clips]
        if not all(ok for ok, _ in read):
            return
        grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for _, f in read]
        for box in boxes:
            x, y, w, h = box
            x0, y0 = int(x), int(y)
            x1, y1 = int(np.ceil(x + w)), int(np.ceil(y + h))
            src, out, *ref = (g[y0:y1, x0:x1] for g in grey)
            yield BoxRegions(j, box, src, out, ref[0] if ref else src)


def analyse(orig: Path, red: Path, truth: dict[str, Any], manifest: dict[str, Any],
            ratio: float = 0.35, reference: Path | None = None) -> list[dict[str, Any]]:
    """One record per missed truth box; `detail_kept` against `reference` (the unblurred run,
    bench/redaction.py), or against the source without one."""
    every = manifest["settings"]["detect_every"]
    regions = {row[0]: row[2] for row in manifest["frames"]}
    W, H = truth["size"]
    tf = truth["frames"]
    out: list[dict[str, Any]] = []
    for j, box, src, red_region, ref_region in box_regions(orig, red, truth, reference):
        x, y, w, h = box
        s0 = sharpness(src)
        s1 = sharpness(red_region)
        if s1 <= ratio * s0:
            continue
        tb = (x, y, x + w, y + h)
        cov = _cover(tb, regions.get(j, []))
        near = max((_cover(tb, regions.get(k, [])) for k in range(j - 2 * every,
                                                                 j + 2 * every + 1)
                    if k != j), default=0.0)
        cause = ("weak_blur" if cov > 0.98 else "partial" if cov > 0.02
                 else "gap" if near > 0.5 else "no_box")
        out.append({"frame": j, "box": box, "size": round(min(w, h), 1),
                    "edge": x <= 1 or y <= 1 or x + w >= W - 1 or y + h >= H - 1,
                    "speed": round(_speed(tf, j, box), 2), "phase": j % every,
                    "cover": round(cov, 3), "sharp_ratio": round(s1 / s0, 3) if s0 else 0,
                    "detail_kept": round(detail_kept(ref_region, red_region), 3),
                    "s0": round(s0, 1), "cause": cause})
    return out


def summarise(misses: list[dict[str, Any]], total: int, ratio: float = 0.35) -> str:
    """A short text table of the misses by cause and by attribute."""
    lines = [f"{len(misses)} missed of {total} truth boxes"]
    by_cause = Counter(m["cause"] for m in misses)
    for cause, n in by_cause.most_common():
        ms = [m for m in misses if m["cause"] == cause]
        sizes = Counter("<24" if m["size"] < 24 else "24-40" if m["size"] < 40 else
                        "40-80" if m["size"] < 80 else ">=80" for m in ms)
        speeds = [m["speed"] for m in ms]
        phases = dict(Counter(m["phase"] for m in ms))
        lines.append(
            f"  {cause:10s} {n:4d}  size {dict(sizes)}  edge {sum(m['edge'] for m in ms)}  "
            f"speed median {np.median(speeds):.1f} px/f  phase {phases}"
            f"  cover median {np.median([m['cover'] for m in ms]):.2f}"
            f"  blurred by detail {sum(m['detail_kept'] <= ratio for m in ms)}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clip", type=Path)
    ap.add_argument("truth", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--sharp-ratio", type=float, default=0.35)
    ap.add_argument("--json", type=Path, help="write every miss record here")
    ap.add_argument("--reference", type=Path,
                    help="the unblurred run (bench/redaction.py's CLIP.reference.mp4) to judge "
                    "detail kept against; the source without it")
    a = ap.parse_args()
    truth = json.loads(a.truth.read_text())
    man = json.loads(a.manifest.read_text())
    misses = analyse(a.clip, a.output, truth, man, a.sharp_ratio, a.reference)
    print(summarise(misses, sum(len(f) for f in truth["frames"]), a.sharp_ratio))
    if a.json:
        a.json.write_text(json.dumps(misses, indent=0))


if __name__ == "__main__":
    main()
