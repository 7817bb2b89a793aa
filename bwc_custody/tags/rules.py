"""Pure tagging rules: officer incident types -> tags, and analysis -> auto tags.

Accepted `incident_type` values (comma-separated; case and spaces ignored). Each maps to a
tag of policies/vocabulary.py; the four notification incidents of policy 001 (data
collection 7, notice within three days) are marked NOTIFY:

- detention, juvenile_detention, detention_under_18 -> detention_under_18 (KRS 610.190); NOTIFY
- arrest, arrest_adult_student, arrest_non_student -> arrest; NOTIFY
- firearm_drawn, taser_drawn, firearm_unholstered, taser_unholstered,
  firearm_or_taser_drawn -> firearm_or_taser_drawn; NOTIFY
- firearm_discharged, taser_discharged, firearm_or_taser_discharged
  -> firearm_or_taser_discharged; NOTIFY
- any other vocabulary tag name (e.g. private_residence_interior) -> that tag; no notice

Other values are kept on the evidence row, tag nothing, and are listed as `unmapped` in the
custody entry so a custodian can see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from policies.vocabulary import TAGS

INCIDENT_ALIASES: dict[str, str] = {
    "detention": "detention_under_18",
    "juvenile_detention": "detention_under_18",
    "arrest_adult_student": "arrest",
    "arrest_non_student": "arrest",
    "firearm_drawn": "firearm_or_taser_drawn",
    "taser_drawn": "firearm_or_taser_drawn",
    "firearm_unholstered": "firearm_or_taser_drawn",
    "taser_unholstered": "firearm_or_taser_drawn",
    "firearm_discharged": "firearm_or_taser_discharged",
    "taser_discharged": "firearm_or_taser_discharged",
}
# Incidents the superintendent, general counsel and board hear of within three days.
NOTIFY: frozenset[str] = frozenset({
    "detention_under_18", "arrest", "firearm_or_taser_drawn", "firearm_or_taser_discharged",
})
NOTICE_DAYS = 3


def incident_tags(incident_type: str | None) -> tuple[list[str], list[str]]:
    """(tags, unmapped values) for an officer's `incident_type`."""
    tags: list[str] = []
    unmapped: list[str] = []
    for raw in (incident_type or "").split(","):
        token = raw.strip().lower().replace(" ", "_").replace("-", "_")
        if not token:
            continue
        name = INCIDENT_ALIASES.get(token, token)
        if name in TAGS:
            if name not in tags:
                tags.append(name)
        else:
            unmapped.append(raw.strip())
    return tags, unmapped


@dataclass(frozen=True)
class Person:
    """One distinct person of an analysis: the tracks, best detection score, adult name."""

    person: int
    track_ids: tuple[int, ...]
    frames: tuple[tuple[int, int], ...]
    score: float
    known_adult: str | None = None


@dataclass(frozen=True)
class AutoTag:
    """A tag the analysis proposes, with confidence and the frames/tracks behind it."""

    name: str
    confidence: float
    evidence: dict[str, Any] = field(default_factory=dict)


def auto_tags(*, campus: str | None, people: Sequence[Person]) -> list[AutoTag]:
    """The auto tags for an analysis; never proposes removing anything.

    `campus` says why the footage counts as recorded on a campus (None: it does not).
    On a campus: `school_campus`, with that reason as its basis; any person not matched to
    an enrolled known adult is presumed a student -> `juvenile`; two or more such people ->
    `multi_student`. No faces found proves nothing: no tag is added and none is cleared.
    """
    if campus is None:
        return []
    out = [AutoTag("school_campus", 1.0, {"basis": campus})]
    students = sorted((p for p in people if p.known_adult is None),
                      key=lambda p: -p.score)
    if not students:
        return out

    def ev(group: Sequence[Person], basis: str) -> dict[str, Any]:
        return {"basis": basis, "persons": [p.person for p in group],
                "track_ids": sorted(t for p in group for t in p.track_ids),
                "frames": sorted([list(f) for p in group for f in p.frames])}

    out.append(AutoTag("juvenile", round(students[0].score, 3),
                       ev(students, "unidentified person on a school campus, presumed a "
                                    "student (KRS 610.320)")))
    if len(students) >= 2:
        # As sure as the weaker of the two clearest faces.
        out.append(AutoTag("multi_student", round(students[1].score, 3),
                           ev(students, f"{len(students)} distinct unidentified people on a "
                                        "school campus, presumed students")))
    return out
