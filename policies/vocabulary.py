"""The policy engine's words: evidence tags, requester types, forms, effects, redactions.

This is the single source of the evidence tag vocabulary; the tagging code imports it from here.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Tag = Literal[
    "juvenile",
    "multi_student",
    "school_campus",
    "private_residence_interior",
    "medical_or_counseling",
    "nudity",
    "deceased",
    "informant",
    "sexual_offense_victim",
    "child_abuse_report",
    "detention_under_18",
    "arrest",
    "firearm_or_taser_drawn",
    "firearm_or_taser_discharged",
    "investigation_open",
]
TAGS: Final[tuple[str, ...]] = get_args(Tag)

TAG_MEANINGS: Final[dict[str, str]] = {
    "juvenile": "a person under 18 is seen or heard",
    "multi_student": "more than one student is seen or heard",
    "school_campus": "recorded on school property or at a school event",
    "private_residence_interior": "shows the inside of a private residence",
    "medical_or_counseling": "shows a medical, mental-health or counselling setting",
    "nudity": "shows a person nude or partly nude",
    "deceased": "shows a dead body",
    "informant": "could identify a confidential informant",
    "sexual_offense_victim": "shows or identifies a victim of a sexual offense",
    "child_abuse_report": "records a report or investigation of child abuse or neglect",
    "detention_under_18": "a person under 18 is taken or received into custody (KRS 610.190)",
    "arrest": "an arrest is made",
    "firearm_or_taser_drawn": "an officer unholsters a firearm or Taser",
    "firearm_or_taser_discharged": "an officer discharges a firearm or Taser",
    "investigation_open": "a criminal or juvenile investigation or prosecution is pending",
}

RequesterType = Literal[
    "public",
    "news_media",
    "school_personnel",
    "parent_guardian",
    "depicted_adult",
    "depicted_juvenile",
    "attorney_for_depicted",
    "prosecutor",
    "court_order",
    "law_enforcement_agency",
    "insurer",
]
REQUESTER_TYPES: Final[tuple[str, ...]] = get_args(RequesterType)

Form = Literal["inspection", "copy"]
FORMS: Final[tuple[str, ...]] = get_args(Form)

# Ordered strongest (most restrictive) first: a decision takes the strongest effect that matched.
Effect = Literal["deny", "deny_during_investigation", "view_only", "release_redacted", "release"]
EFFECTS: Final[tuple[str, ...]] = get_args(Effect)

# A rule whose effect is `none` decides nothing: it only adds sign-off, warnings or redactions.
RuleEffect = Literal[
    "deny", "deny_during_investigation", "view_only", "release_redacted", "release", "none"
]
RULE_EFFECTS: Final[tuple[str, ...]] = get_args(RuleEffect)

EFFECT_MEANINGS: Final[dict[str, str]] = {
    "deny": "withheld",
    "deny_during_investigation": "withheld while the investigation or prosecution is pending",
    "view_only": "may be viewed at the agency's premises; no copy",
    "release_redacted": "released (inspection or copy) after the listed redactions",
    "release": "released as requested",
    "none": "decides nothing; adds sign-off, warnings or redactions",
}

REDACTIONS: Final[dict[str, str]] = {
    "juveniles": "every person under 18 (faces, voices, names, other identifiers)",
    "non_subject_juveniles": "every person under 18 other than the requester, the requester's "
    "child or the attorney's client",
    "students": "every student",
    "non_subject_students": "every student other than the requester, the requester's child "
    "or the attorney's client",
    "residence_interior": "the interior of the private residence",
    "medical_or_counseling": "the medical, mental-health or counselling setting and patients",
    "nudity": "nude or partly nude persons",
    "deceased": "the dead body",
    "informant_identity": "anything that could identify a confidential informant",
    "victim_identity": "anything that could identify the victim of a sexual offense",
}


def effect_rank(effect: str) -> int:
    """Strength of an effect: 0 for `release` up to 4 for `deny`."""
    return len(EFFECTS) - 1 - EFFECTS.index(effect)
