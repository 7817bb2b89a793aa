"""Why a bench clip's count is off: which true faces were split, merged or never counted.

make_clip's truth lists boxes per frame but not whose they are. Its camera paths are
reproduced here from the same seed (its own `Camera` and `move_box`, imported from the
tool), which gives every truth box an identity: (photo, label index). Each counted track
is matched to the identity whose box it overlaps most often (IoU >= 0.2, or the box holding
the detection's centre: some labels include a hat or hair), and then:

  split    one identity counted as several people (overcount)
  merged   one person holding several identities (undercount)
  missed   an identity no counted track matched (undercount), of which `undetected` the
           detector never found at all (a labelled head turned away) and the rest were
           found but dropped (too weak or too brief to count)
  extra    a person matching no identity (an unlabelled face, a painting, a false face)

A clip can be "exact" with errors that cancel; these four numbers show them.
"""

from __future__ import annotations

import importlib.util
import json
import random
from collections import Counter, defaultdict
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from redaction.detect import Box, iou

if TYPE_CHECKING:
    from redaction.analysis_link import Track


def _make_clip_module(shared: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_clip", shared / "tools" / "make_clip.py")
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def identities(shared: Path, images: Path, boxes: Path, globs: list[str], seed: int,
               size: str, per: float, fps: int = 30) -> list[list[tuple[str, Box]]]:
    """Per frame, (identity, box) of every visible face, as make_clip placed them."""
    import cv2

    mc = _make_clip_module(shared)
    width, height = map(int, size.split("x"))
    labels = json.loads(boxes.read_text())
    names = mc.select(sorted(labels), globs or None, None)
    rng = random.Random(seed)
    rng.shuffle(names)
    n = round(per * len(names) * fps)
    each = n // len(names)
    frames: list[list[tuple[str, Box]]] = []
    for k, name in enumerate(names):
        img = cv2.imread(str(images / name))
        assert img is not None, name
        h, w = img.shape[:2]
        faces = []
        for x, y, bw, bh in labels[name]:  # clipped to the photo, as make_clip does
            x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + bw), min(h, y + bh)
            if x1 > x0 and y1 > y0:
                faces.append([x0, y0, x1 - x0, y1 - y0])
        count = each if k < len(names) - 1 else n - each * (len(names) - 1)
        cam = mc.Camera(rng, width, height, w, h, count, fps, 1.0)
        for t in range(count):
            m = cam.matrix(t)
            row = []
            for i, f in enumerate(faces):
                b = mc.move_box(m, f, width, height, 0.5)
                if b is not None:
                    row.append((f"{name}#{i}", Box(b[0], b[1], b[0] + b[2], b[1] + b[3])))
            frames.append(row)
    return frames


def _identity_of(box: Box, row: list[tuple[str, Box]]) -> str | None:
    """The identity a detection belongs to: best overlap, else the label holding its centre
    (a label drawn around more than the face: a hat, hair)."""
    best = max(((iou(box, b), i) for i, b in row), default=(0.0, None))
    if best[0] < 0.2:
        best = next(((1.0, i) for i, b in row
                     if b.x0 <= box.cx <= b.x1 and b.y0 <= box.cy <= b.y1), best)
    return best[1] if best[0] >= 0.2 else None


def explain(kept: list[Track], labels: list[int], truth: list[list[tuple[str, Box]]],
            raw: list[Track] | None = None) -> dict[str, Any]:
    """Split, merged, missed and extra counts (and the identities involved); with the raw
    tracks, also how many of the missed were never detected at all."""
    ident: list[str | None] = []
    for t in kept:
        votes = Counter(_identity_of(o.box, truth[o.frame]) for o in t.obs)
        ident.append(votes.most_common(1)[0][0])
    persons: dict[int, set[str | None]] = defaultdict(set)
    for who, lab in zip(ident, labels, strict=True):
        persons[lab].add(who)
    people_of: dict[str, set[int]] = defaultdict(set)
    for lab, whos in persons.items():
        for who in whos:
            if who is not None:
                people_of[who].add(lab)
    everyone = {i for row in truth for i, _ in row}
    split = sorted(i for i, labs in people_of.items() if len(labs) > 1)
    merged = [sorted(w for w in whos if w) for whos in persons.values()
              if len({w for w in whos if w}) > 1]
    missed = sorted(everyone - set(people_of))
    out = {"split": len(split), "merged": sum(len(m) - 1 for m in merged),
           "missed": len(missed),
           "extra": sum(1 for whos in persons.values() if whos == {None}),
           "split_ids": split, "merged_ids": merged, "missed_ids": missed}
    if raw is not None:
        found = {_identity_of(o.box, truth[o.frame]) for t in raw for o in t.obs}
        out["undetected"] = sum(1 for i in missed if i not in found)
    return out
