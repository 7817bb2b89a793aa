"""Persons from tracks: clustering over the whole video, and matching known adults."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class KnownAdult:
    """An enrolled consenting adult (SRO, staff): name and reference encodings."""

    name: str
    encodings: list[np.ndarray]


def mean_encoding(encs: list[np.ndarray]) -> np.ndarray:
    out: np.ndarray = np.mean(np.stack(encs), axis=0)
    return out


def cluster_tracks(means: list[np.ndarray | None], spans: list[tuple[int, int]],
                   threshold: float) -> list[int]:
    """Person label per track: complete-linkage merge under `threshold`, never merging
    tracks whose spans (first, last frame) overlap; tracks without an encoding stay alone."""
    labels = list(range(len(means)))
    clusters: dict[int, list[int]] = {i: [i] for i in range(len(means))}
    enc_idx = [i for i, m in enumerate(means) if m is not None]
    if len(enc_idx) < 2:
        return labels
    mat = np.stack([means[i] for i in enc_idx])  # type: ignore[misc]
    dist = np.linalg.norm(mat[:, None, :] - mat[None, :, :], axis=2)
    pos = {t: k for k, t in enumerate(enc_idx)}
    while True:
        best: tuple[float, int, int] | None = None
        keys = [c for c in clusters if all(m in pos for m in clusters[c])]
        for ai, a in enumerate(keys):
            for b in keys[ai + 1:]:
                d = max(dist[pos[x], pos[y]] for x in clusters[a] for y in clusters[b])
                if d > threshold or (best is not None and d >= best[0]):
                    continue
                if any(spans[x][0] <= spans[y][1] and spans[y][0] <= spans[x][1]
                       for x in clusters[a] for y in clusters[b]):
                    continue
                best = (d, a, b)
        if best is None:
            break
        _, a, b = best
        clusters[a].extend(clusters.pop(b))
    for label, members in clusters.items():
        for m in members:
            labels[m] = label
    return labels


def match_known(encs: list[np.ndarray], known: Sequence[KnownAdult],
                threshold: float) -> str | None:
    """The known adult whose references lie within `threshold` of the median observation,
    or None (unsure means unidentified, i.e. a presumed student)."""
    if not encs or not known:
        return None
    best: tuple[float, str] | None = None
    for adult in known:
        if not adult.encodings:
            continue
        refs = np.stack(adult.encodings)
        per_obs = [float(np.linalg.norm(refs - e, axis=1).min()) for e in encs]
        d = float(np.median(per_obs))
        if d <= threshold and (best is None or d < best[0]):
            best = (d, adult.name)
    return best[1] if best else None
