"""The policy engine's words: evidence tags, requester types, forms, effects, redactions, actions.

This is the single source of the evidence tag vocabulary; the tagging code imports it from here.
Plain-language texts for the console and the letters live here too, as data (policies/SOURCES.md
says where each statute's words were confirmed).
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Tag = Literal[
    "juvenile",
    "juvenile_offender",
    "multi_student",
    "school_campus",
    "private_residence_interior",
    "medical_or_counseling",
    "correctional_facility_interior",
    "domestic_violence_shelter",
    "nudity",
    "deceased",
    "officer_death",
    "informant",
    "witness_identity",
    "sexual_offense_victim",
    "child_abuse_report",
    "protected_education_or_health_info",
    "cjis_data",
    "dui_sobriety_test",
    "detention_under_18",
    "arrest",
    "use_of_force",
    "formal_complaint",
    "firearm_or_taser_drawn",
    "firearm_or_taser_discharged",
    "investigation_open",
]
TAGS: Final[tuple[str, ...]] = get_args(Tag)

TAG_MEANINGS: Final[dict[str, str]] = {
    "juvenile": "a person under 18 is seen or heard",
    "juvenile_offender": "a person under 18 seen or heard is a suspect or offender in the recorded "
    "incident, whether or not taken into custody (KRS 610.320(3))",
    "multi_student": "more than one student is seen or heard",
    "school_campus": "recorded on school property or at a school event",
    "private_residence_interior": "shows the inside of a private residence",
    "medical_or_counseling": "shows a medical, mental-health or counselling setting",
    "correctional_facility_interior": "shows the inside of a jail, detention centre or other "
    "correctional facility",
    "domestic_violence_shelter": "shows a domestic-violence shelter or could reveal where it is",
    "nudity": "shows a person nude or partly nude",
    "deceased": "shows a dead body",
    "officer_death": "shows the death of a public safety officer",
    "informant": "could identify a confidential informant",
    "witness_identity": "could identify a witness (other than an informant)",
    "sexual_offense_victim": "shows or identifies a victim of a sexual offense",
    "child_abuse_report": "records a report or investigation of child abuse or neglect",
    "protected_education_or_health_info": "shows protected educational or health information "
    "(a student record or a medical chart on a screen or paper)",
    "cjis_data": "shows or plays data from the FBI's Criminal Justice Information Services, "
    "e.g. a cruiser laptop screen (KRS 61.168(4)(k))",
    "dui_sobriety_test": "records a DUI field sobriety test, a test refusal, or the pursuit or "
    "traffic stop of a suspected DUI (KRS 189A.100(2)); officer metadata or the custodian sets it",
    "detention_under_18": "a person under 18 is taken or received into custody (KRS 610.190)",
    "arrest": "a detention or arrest is made (KRS 61.168(5))",
    "use_of_force": "an officer uses force on a person (KRS 61.168(5))",
    "formal_complaint": "a formal complaint against an officer concerns the recorded incident "
    "(KRS 61.168(5))",
    "firearm_or_taser_drawn": "an officer unholsters a firearm or Taser",
    "firearm_or_taser_discharged": "an officer discharges a firearm or Taser",
    "investigation_open": "a criminal or juvenile investigation or prosecution is pending",
}

# The short names the console shows (the meanings above are their tooltips), lower case as
# REDACTION_LABELS: "multi student" or "cjis data" made from the identifier read badly.
TAG_LABELS: Final[dict[str, str]] = {
    "juvenile": "juvenile",
    "juvenile_offender": "juvenile offender",
    "multi_student": "several students",
    "school_campus": "school campus",
    "private_residence_interior": "inside a home",
    "medical_or_counseling": "medical or counseling",
    "correctional_facility_interior": "inside a correctional facility",
    "domestic_violence_shelter": "domestic-violence shelter",
    "nudity": "nudity",
    "deceased": "dead body",
    "officer_death": "officer death",
    "informant": "informant",
    "witness_identity": "witness identity",
    "sexual_offense_victim": "sexual-offense victim",
    "child_abuse_report": "child-abuse report",
    "protected_education_or_health_info": "student or health records",
    "cjis_data": "CJIS data",
    "dui_sobriety_test": "DUI sobriety test",
    "detention_under_18": "under-18 detention",
    "arrest": "arrest",
    "use_of_force": "use of force",
    "formal_complaint": "formal complaint",
    "firearm_or_taser_drawn": "firearm/Taser drawn",
    "firearm_or_taser_discharged": "firearm/Taser fired",
    "investigation_open": "open investigation",
}

# Tags that take a recording OUT of the agency's KRS 61.168(4) elections (KRS 61.168(5), as
# 24-ORD-086 and 25-ORD-014 read it): with one of them, footage in a (4) category is redacted
# under KRS 61.878(1)(a) and (4), not withheld whole. They are the only tags whose addition may
# weaken a decision, and only from a (4) withholding to a redacted release (tests/policies).
OPENING_TAGS: Final[frozenset[str]] = frozenset({"arrest", "use_of_force", "formal_complaint"})

RequesterType = Literal[
    "public",
    "news_media",
    "school_personnel",
    "parent_guardian",
    "depicted_adult",
    "depicted_juvenile",
    "victim",
    "personal_representative",
    "attorney_for_depicted",
    "prosecutor",
    "court_order",
    "law_enforcement_agency",
    "insurer",
]
REQUESTER_TYPES: Final[tuple[str, ...]] = get_args(RequesterType)

REQUESTER_MEANINGS: Final[dict[str, str]] = {
    "public": "any member of the public",
    "news_media": "a news-gathering organization (a resident by KRS 61.870(10))",
    "school_personnel": "school staff or officials (policy 000 IV.H.b: through the custodian)",
    "parent_guardian": "a parent or guardian; `parent_of_depicted` is their claim that their child "
    "is shown, `relationship_confirmed` the custodian's check of it",
    "depicted_adult": "an adult seen or heard in the recording (directly involved)",
    "depicted_juvenile": "a child seen or heard in the recording (directly involved)",
    "victim": "a victim of the recorded offense, e.g. a teacher assaulted by a student "
    "(KRS 610.340(1)); counts once the custodian confirms it",
    "personal_representative": "the personal representative of a person or entity directly "
    "involved (KRS 61.168(5)(d)): an executor, administrator, guardian or agent with written "
    "authority; counts once the custodian confirms it",
    "attorney_for_depicted": "an attorney for a person shown; `attorney_affidavit` is the signed "
    "KRS 61.169 affidavit",
    "prosecutor": "a prosecutor, for official use (KRS 610.340(2))",
    "court_order": "a court order directing production",
    "law_enforcement_agency": "another law-enforcement agency, for official use",
    "insurer": "an insurance company",
}

REQUESTER_LABELS: Final[dict[str, str]] = {
    "public": "member of the public",
    "news_media": "news media",
    "school_personnel": "school staff",
    "parent_guardian": "parent or guardian",
    "depicted_adult": "adult shown",
    "depicted_juvenile": "child shown",
    "victim": "victim",
    "personal_representative": "personal representative",
    "attorney_for_depicted": "attorney for a person shown",
    "prosecutor": "prosecutor",
    "court_order": "court order",
    "law_enforcement_agency": "law-enforcement agency",
    "insurer": "insurer",
}

Form = Literal["inspection", "copy"]
FORMS: Final[tuple[str, ...]] = get_args(Form)

Residency = Literal["resident", "nonresident", "unknown"]
RESIDENCIES: Final[tuple[str, ...]] = get_args(Residency)

# Ordered strongest (most restrictive) first: a decision takes the strongest effect that matched.
# `residency_statement` releases nothing and decides nothing on the merits: the requester is asked
# for the KRS 61.872(2)(a) statement first. Only a denial on the merits outranks it.
Effect = Literal[
    "deny", "residency_statement", "deny_during_investigation", "view_only", "release_redacted",
    "release",
]
EFFECTS: Final[tuple[str, ...]] = get_args(Effect)

# A rule whose effect is `none` decides nothing: it only adds sign-off, warnings, actions or
# redactions.
RuleEffect = Literal[
    "deny", "residency_statement", "deny_during_investigation", "view_only", "release_redacted",
    "release", "none",
]
RULE_EFFECTS: Final[tuple[str, ...]] = get_args(RuleEffect)

EFFECT_MEANINGS: Final[dict[str, str]] = {
    "deny": "withheld",
    "residency_statement": "nothing released yet: the requester is asked for the KRS 61.872(2)(a) "
    "statement of Kentucky residency",
    "deny_during_investigation": "withheld while the investigation or prosecution is pending",
    "view_only": "may be viewed at the agency's premises; no copy",
    "release_redacted": "released (inspection or copy) after the listed redactions",
    "release": "released as requested",
    "none": "decides nothing; adds sign-off, warnings, actions or redactions",
}

EFFECT_LABELS: Final[dict[str, str]] = {
    "deny": "deny",
    "residency_statement": "residency statement first",
    "deny_during_investigation": "deny during investigation",
    "view_only": "view only",
    "release_redacted": "release redacted",
    "release": "release",
    "none": "no decision",
}

# What the requester is told, in plain words, for each effect and the form they asked for. A
# copy request answered `view_only` is a partial denial (the copy is refused): its letter lists
# the exception, as a denial does (KRS 61.880(1)).
EFFECT_PLAIN: Final[dict[str, dict[str, str]]] = {
    "deny": {
        "inspection": "The recording is withheld. The letter names each exception and how it "
        "applies, and how to appeal to the Attorney General.",
        "copy": "The recording is withheld. The letter names each exception and how it "
        "applies, and how to appeal to the Attorney General.",
    },
    "residency_statement": {
        "inspection": "Before we can answer, tell us in writing how you are a Kentucky resident "
        "(you live or work here, own property here, are a Kentucky business or news outlet, or "
        "act for one). A statement is enough; no proof is needed.",
        "copy": "Before we can answer, tell us in writing how you are a Kentucky resident "
        "(you live or work here, own property here, are a Kentucky business or news outlet, or "
        "act for one). A statement is enough; no proof is needed.",
    },
    "deny_during_investigation": {
        "inspection": "The recording is withheld while the investigation or prosecution is "
        "pending, because releasing it now would harm it in the way the letter explains. Ask "
        "again when the case ends.",
        "copy": "The recording is withheld while the investigation or prosecution is pending, "
        "because releasing it now would harm it in the way the letter explains. Ask again when "
        "the case ends.",
    },
    "view_only": {
        "inspection": "You may view the recording at the agency, by appointment, as often as "
        "you ask.",
        "copy": "No copy is owed: we offer you a viewing at the agency instead, by appointment, "
        "as often as you ask. Your Kentucky attorney may receive a copy by signing the KRS "
        "61.169 affidavit. The refused copy is a partial denial you may appeal.",
    },
    "release_redacted": {
        "inspection": "You may view the recording at the agency, with the listed parts blurred "
        "or muted. The letter lists each part and the exception for it.",
        "copy": "You will receive a copy with the listed parts blurred or muted. The letter "
        "lists each part and the exception for it.",
    },
    "release": {
        "inspection": "You may view the recording at the agency.",
        "copy": "You will receive a copy of the recording.",
    },
}

REDACTIONS: Final[dict[str, str]] = {
    "juveniles": "every person under 18 (faces, voices, names, other identifiers)",
    "non_subject_juveniles": "every person under 18 other than the requester, the requester's "
    "child or the attorney's client",
    "bystander_juveniles": "every person under 18 who is neither the requester (or the "
    "requester's child) nor a juvenile offender in the recorded incident",
    "juveniles_not_tried_as_adults": "every person under 18 other than the juvenile tried as an "
    "adult in this case (KRS 635.120)",
    "students": "every student",
    "non_subject_students": "every student other than the requester, the requester's child "
    "or the attorney's client",
    "residence_interior": "the interior of the private residence",
    "medical_or_counseling": "the medical, mental-health or counselling setting and patients",
    "correctional_interior": "the interior of the correctional facility",
    "shelter_location": "the domestic-violence shelter and anything that could reveal where it is",
    "nudity": "nude or partly nude persons",
    "deceased": "the dead body",
    "officer_death": "the death of the public safety officer",
    "informant_identity": "anything that could identify a confidential informant",
    "witness_identity": "anything that could identify a witness",
    "victim_identity": "anything that could identify the victim of a sexual offense",
    "protected_records_info": "the protected educational or health information (the screen or "
    "paper it is on)",
    "cjis_screen": "the screen or audio carrying CJIS data (a manual region drawn by the "
    "custodian)",
    "whole_heads": "the whole head, not only the face, of each person hidden (hair, ears and "
    "the back of the head), so that someone who knows them, a classmate, cannot recognise them "
    "from behind or in profile",
}

# Each redaction as a badge names it: a few words, not the key with its underscores
# ("non_subject_students" read as "non subject students"). REDACTIONS says what each means.
REDACTION_LABELS: Final[dict[str, str]] = {
    "juveniles": "juveniles",
    "non_subject_juveniles": "non-subject juveniles",
    "bystander_juveniles": "bystander juveniles",
    "juveniles_not_tried_as_adults": "juveniles not tried as adults",
    "students": "students",
    "non_subject_students": "non-subject students",
    "residence_interior": "residence interior",
    "medical_or_counseling": "medical or counselling setting",
    "correctional_interior": "correctional facility interior",
    "shelter_location": "shelter location",
    "nudity": "nudity",
    "deceased": "dead body",
    "officer_death": "officer's death",
    "informant_identity": "informant's identity",
    "witness_identity": "witness's identity",
    "victim_identity": "victim's identity",
    "protected_records_info": "protected records",
    "cjis_screen": "CJIS screen",
    "whole_heads": "whole heads",
}

# Says HOW the persons a rule hides are hidden rather than WHAT is hidden: a rule that lists it
# must also list who it hides (one of PERSON_REDACTIONS), checked by `bwc policy lint`. A copy
# made without heads is refused at submission for review while the decision in force lists it.
WHOLE_HEADS: Final = "whole_heads"

# The redactions that hide people (their faces, voices, names), as opposed to places, screens
# or documents: the ones `whole_heads` can apply to.
PERSON_REDACTIONS: Final[frozenset[str]] = frozenset({
    "juveniles", "non_subject_juveniles", "bystander_juveniles", "juveniles_not_tried_as_adults",
    "students", "non_subject_students", "informant_identity", "witness_identity",
    "victim_identity",
})

# What the custodian must do before answering, and the fact that records it was done.
Action = Literal["residency_statement", "confirm_relationship", "articulate_harm"]
ACTIONS: Final[tuple[str, ...]] = get_args(Action)

ACTION_TEXTS: Final[dict[str, dict[str, str]]] = {
    "residency_statement": {
        "citation": "KRS 61.872(2)(a); KRS 61.870(10); 22-ORD-168",
        "text": "Ask the requester for a written statement of the manner in which they are a "
        "resident of Kentucky (KRS 61.870(10)(a) to (f)). A statement is enough: do not demand "
        "proof (22-ORD-168). Send the request in writing within the five business days.",
        "done_when": "residency is `resident` or `nonresident`",
    },
    "confirm_relationship": {
        "citation": "KRS 610.340(1)(a); KRS 61.168(5)(d); KRS 620.050",
        "text": "The requester's claim (parent or guardian of a child shown, legal custody, "
        "victim, personal representative) is self-declared. Confirm it from a document before "
        "the rights it brings apply; until then the request is answered as any citizen's.",
        "done_when": "relationship_confirmed is yes",
    },
    "articulate_harm": {
        "citation": "KRS 61.878(1)(h); Shively Police Dep't v. Courier Journal, Inc. (Ky. 2024); "
        "City of Fort Thomas v. Cincinnati Enquirer, 406 S.W.3d 842, 851 (Ky. 2013)",
        "text": "A pending case is not by itself a reason to withhold. Write the concrete harm "
        "that releasing THIS recording now would do to the pending action; it is kept with the "
        "decision and printed in the letter. If you cannot, the recording is not withheld on "
        "this ground.",
        "done_when": "articulated_harm is written",
    },
}


# The same for the actions, as the badge of a rule that decides nothing but asks for one says.
ACTION_LABELS: Final[dict[str, str]] = {
    "residency_statement": "residency statement",
    "confirm_relationship": "confirmed relationship",
    "articulate_harm": "articulated harm",
}

def effect_rank(effect: str) -> int:
    """Strength of an effect: 0 for `release` up to 5 for `deny`."""
    return len(EFFECTS) - 1 - EFFECTS.index(effect)
