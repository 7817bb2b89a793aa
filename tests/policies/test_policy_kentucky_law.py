"""Issue 21, "Kentucky law, round 2": one test per item, written from the statute or decision text
(quoted above each test, as confirmed in policies/SOURCES.md), not from the engine's output."""

from __future__ import annotations

import pytest

from policies.engine import evaluate, load_rules
from policies.vocabulary import ACTIONS, EFFECT_PLAIN, EFFECTS, FORMS, REDACTIONS, TAGS

CONFIRMED_PARENT = {"parent": True, "confirmed": True}
OPENING = ("arrest", "use_of_force", "formal_complaint")


def _decisive(decision) -> set[str]:
    return {r.id for r in decision.rules if r.decisive}


def _citations(decision) -> str:
    return " | ".join(r.citation for r in decision.rules if r.decisive)


def _actions(decision) -> set[str]:
    return {a.code for a in decision.required_actions}


# --- DUI sobriety tests --------------------------------------------------------------------------
# KRS 189A.100(2)(b)5: such footage "shall be used for official purposes only": viewing "in court",
# "by the prosecution and defense in preparation for a trial", and "for purposes of administrative
# reviews and official administrative proceedings"; otherwise "confidential records" (22-ORD-072).
# 2018 HB 373 (HCS1): KRS 61.168 "does not override KRS 189A.100".

@pytest.mark.parametrize(
    ("requester", "kw"),
    [
        pytest.param("public", {}, id="public"),
        pytest.param("news_media", {}, id="news"),
        # 22-ORD-072: an attorney for a person involved, for a civil trial: denied.
        pytest.param("attorney_for_depicted", {"affidavit": True}, id="attorney-civil-case"),
        # 23-ORD-025: an attorney wanting it to impeach a witness in an unrelated trial: denied.
        pytest.param("attorney_for_depicted", {}, id="attorney-unrelated-trial"),
        pytest.param("depicted_adult", {}, id="passenger-not-tested"),
        pytest.param("insurer", {}, id="insurer"),
        pytest.param("parent_guardian", CONFIRMED_PARENT, id="parent"),
    ],
)
@pytest.mark.parametrize("extra", [(), ("arrest",), ("use_of_force", "formal_complaint")])
def test_dui_sobriety_test_is_denied_outside_official_purposes(make_facts, requester, kw,
                                                               extra) -> None:
    decision = evaluate(make_facts(requester, tags=("dui_sobriety_test", *extra), **kw))
    assert decision.effect == "deny"
    assert "KRS 189A.100(2)(b)5" in _citations(decision)
    assert any("official misconduct" in w for w in decision.warnings)


def test_dui_sobriety_test_official_users(make_facts) -> None:
    assert evaluate(make_facts("prosecutor", tags=("dui_sobriety_test",))).effect == "release"
    assert evaluate(make_facts("court_order", tags=("dui_sobriety_test",))).effect == "release"
    police = evaluate(make_facts("law_enforcement_agency", tags=("dui_sobriety_test",)))
    assert police.effect == "deny"
    assert police.needs_counsel_review


@pytest.mark.parametrize("form", FORMS)
def test_the_person_tested_may_view_only(make_facts, form) -> None:
    decision = evaluate(make_facts("depicted_adult", form=form, person_tested=True,
                                   tags=("dui_sobriety_test",)))
    assert decision.effect == "view_only"
    assert decision.needs_counsel_review
    assert decision.letter == ("partial_denial" if form == "copy" else "grant")


# --- CJIS data on screen -------------------------------------------------------------------------
# KRS 61.168(4)(k) (quoted in 25-ORD-014): "a public agency may elect not to disclose body-worn
# camera recordings containing video or audio footage that ... [w]ould result in the disclosure of
# nonpublic or confidential data classified as Criminal Justice Information Services data by the
# Federal Bureau of Investigation".

def test_cjis_footage_is_withheld_from_the_public_under_4k(make_facts) -> None:
    decision = evaluate(make_facts("public", tags=("cjis_data",)))
    assert decision.effect == "deny"
    assert "KRS 61.168(4)(k)" in _citations(decision)
    assert "cjis_screen" in decision.redact


@pytest.mark.parametrize("opening", OPENING)
def test_cjis_screen_is_redacted_when_61_168_5_applies(make_facts, opening) -> None:
    decision = evaluate(make_facts("public", tags=("cjis_data", opening)))
    assert decision.effect == "release_redacted"
    assert decision.redact == ["cjis_screen"]


def test_cjis_screen_redacted_for_the_involved_viewing_not_for_prosecutors(make_facts) -> None:
    viewing = evaluate(make_facts("depicted_adult", form="inspection", tags=("cjis_data",)))
    assert viewing.effect == "view_only"
    assert "cjis_screen" in viewing.redact
    assert evaluate(make_facts("prosecutor", tags=("cjis_data",))).redact == []


# --- A juvenile suspect, in custody or not -------------------------------------------------------
# KRS 610.320(3) (quoted in 23-ORD-260): "[a]ll law enforcement and court records regarding
# children who have not reached their eighteenth birthday shall not be opened to scrutiny by the
# public"; "an absolute prohibition on the release of law enforcement records" of juvenile
# offenders (10-ORD-066); 23-ORD-260 upheld withholding the whole video.

@pytest.mark.parametrize("requester", ["public", "news_media", "school_personnel", "insurer"])
@pytest.mark.parametrize("tags", [("juvenile_offender",), ("juvenile", "juvenile_offender"),
                                  ("juvenile_offender", "arrest", "school_campus")])
def test_juvenile_offender_recording_is_withheld_whole(make_facts, requester, tags) -> None:
    for form in FORMS:
        decision = evaluate(make_facts(requester, form=form, tags=tags))
        assert decision.effect == "deny", (requester, tags, form)
        assert "juvenile-offender-withheld" in _decisive(decision)
        assert decision.withheld[0].what == "recording"


def test_juvenile_offender_is_not_the_same_as_detention(make_facts) -> None:
    # A juvenile merely seen is redacted (98-ORD-185); an offender's recording is withheld.
    seen = evaluate(make_facts("public", tags=("juvenile",)))
    offender = evaluate(make_facts("public", tags=("juvenile", "juvenile_offender")))
    assert (seen.effect, offender.effect) == ("release_redacted", "deny")
    assert "juvenile_offender" in TAGS
    assert "detention_under_18" in TAGS


def test_juvenile_offender_and_the_persons_610_340_names(make_facts) -> None:
    # KRS 610.340(1)(a): not disclosed "except to the child, parent, victims, or other persons
    # authorized to attend a juvenile court hearing"; (2): officials for official use only.
    parent = evaluate(make_facts("parent_guardian", tags=("juvenile_offender",),
                                 **CONFIRMED_PARENT))
    assert parent.effect == "release_redacted"
    assert parent.redact == ["non_subject_juveniles"]
    victim = evaluate(make_facts("victim", confirmed=True, form="inspection",
                                 tags=("juvenile", "juvenile_offender")))
    assert victim.effect == "view_only"
    assert victim.redact == ["bystander_juveniles"]
    adult = evaluate(make_facts("depicted_adult", form="inspection", tags=("juvenile_offender",)))
    assert adult.effect == "deny"
    assert adult.needs_counsel_review
    assert any(r.meets_shall and "61.168(5)(d)" in r.meets_shall for r in adult.rules)
    assert evaluate(make_facts("prosecutor", tags=("juvenile_offender",))).effect == "release"


def test_juvenile_tried_as_adult(make_facts) -> None:
    # KRS 635.120(1): records "of juveniles tried as adults in the Circuit Court shall be open to
    # the public after the child has been indicted and arraigned"; other children stay protected.
    decision = evaluate(make_facts("news_media", tried_as_adult=True,
                                   tags=("juvenile", "juvenile_offender", "arrest")))
    assert decision.effect == "release_redacted"
    assert decision.redact == ["juveniles_not_tried_as_adults"]
    assert any("635.120(3)" in w for w in decision.warnings)


# --- The parent's copy ---------------------------------------------------------------------------
# KRS 610.340(1)(a) opens a child's records to the parent; KRS 61.872(2)(a): "Any resident of the
# Commonwealth shall have the right to inspect public records"; the claim is self-declared.

def test_an_unconfirmed_parent_claim_counts_for_nothing_yet(make_facts) -> None:
    decision = evaluate(make_facts("parent_guardian", parent=True, tags=("juvenile",)))
    assert decision.effect == "release_redacted"
    assert decision.redact == ["juveniles"]  # as for any citizen: their own child blurred too
    assert _actions(decision) == {"confirm_relationship"}


def test_a_confirmed_parent_copy_depends_on_residency_and_on_a_child_shown(make_facts) -> None:
    resident = evaluate(make_facts("parent_guardian", tags=("juvenile",), **CONFIRMED_PARENT))
    assert (resident.effect, resident.redact) == ("release_redacted", ["non_subject_juveniles"])
    nonresident = evaluate(make_facts("parent_guardian", residency="nonresident",
                                      tags=("juvenile",), **CONFIRMED_PARENT))
    assert nonresident.effect == "view_only"
    unknown = evaluate(make_facts("parent_guardian", residency="unknown", tags=("juvenile",),
                                  **CONFIRMED_PARENT))
    assert unknown.effect == "residency_statement"
    # No child shown: the parent has what any resident has, and 610.340 is not what grants it.
    none_shown = evaluate(make_facts("parent_guardian", **CONFIRMED_PARENT))
    assert none_shown.effect == "release"
    assert "KRS 61.872(2)(a)" in _citations(none_shown)
    assert "610.340" not in _citations(none_shown)


# --- KRS 61.168(5): use of force, detention or arrest, formal complaint --------------------------
# 24-ORD-086: "The Department may withhold body-worn camera footage in its entirety to the extent
# permitted under KRS 61.168(4), but otherwise must redact such footage in accordance with
# KRS 61.878(4) and KRS 61.878(1)(a)."

FOUR_CATEGORIES = [
    ("private_residence_interior", "residence_interior"),
    ("medical_or_counseling", "medical_or_counseling"),
    ("correctional_facility_interior", "correctional_interior"),
    ("domestic_violence_shelter", "shelter_location"),
    ("nudity", "nudity"),
    ("deceased", "deceased"),
    ("officer_death", "officer_death"),
    ("sexual_offense_victim", "victim_identity"),
    ("witness_identity", "witness_identity"),
    ("protected_education_or_health_info", "protected_records_info"),
]


@pytest.mark.parametrize(("tag", "redaction"), FOUR_CATEGORIES)
def test_a_61_168_4_category_is_withheld_then_redacted_under_5(make_facts, tag, redaction) -> None:
    alone = evaluate(make_facts("public", tags=(tag,)))
    assert alone.effect == "deny"
    for opening in OPENING:
        opened = evaluate(make_facts("public", tags=(tag, opening)))
        assert opened.effect == "release_redacted", (tag, opening)
        assert opened.redact == [redaction]
        part = next(p for p in opened.withheld if p.redaction == redaction)
        assert any("KRS 61.878(1)(a)" in c for c in part.citations)


def test_a_drawn_firearm_alone_does_not_open_the_recording(make_facts) -> None:
    decision = evaluate(make_facts("public", tags=("nudity", "firearm_or_taser_drawn")))
    assert decision.effect == "deny"
    assert "tag_use_of_force" in {n.code for n in decision.notices}


def test_each_61_168_4_citation_names_its_paragraph_or_asks_counsel() -> None:
    # KRS 61.880(1) wants "the specific exception"; 21-ORD-102, 23-ORD-324.
    for rule in load_rules().rules:
        if rule.id.startswith("bwc-4-"):
            assert ("61.168(4)(" in rule.citation) or (
                rule.needs_counsel_review and "paragraph letter" in rule.citation), rule.id
    residence = next(r for r in load_rules().rules if r.id == "bwc-4-residence-withheld")
    assert residence.citation.startswith("KRS 61.168(4)(a)")
    assert not residence.needs_counsel_review


# --- Investigations ------------------------------------------------------------------------------
# Shively Police Dep't v. Courier Journal (Ky. 2024): SPD "categorically denied the Courier
# Journal's request for public records on the sole basis that those records pertained to an
# ongoing criminal case" and did not prove compliance; KRS 61.878(1)(h) needs "a concrete risk of
# harm to the agency in the prospective action" (City of Fort Thomas, quoted in 21-ORD-102).

def test_investigation_withholding_needs_the_custodians_harm(make_facts) -> None:
    bare = evaluate(make_facts("public", tags=("investigation_open",)))
    assert bare.effect == "deny_during_investigation"
    assert _actions(bare) == {"articulate_harm"}
    assert "Shively" in _citations(bare)
    assert "17.150" not in _citations(bare)
    harm = "It shows two witnesses the detective has not yet interviewed."
    argued = evaluate(make_facts("public", tags=("investigation_open",), harm=harm))
    assert _actions(argued) == set()
    assert argued.withheld[0].harm == harm
    assert argued.articulated_harm == harm


# --- Persons the statutes name -------------------------------------------------------------------

def test_a_victim_teacher_may_view_once_confirmed(make_facts) -> None:
    # KRS 610.340(1)(a), (b): records of a child's arrest "may be disclosed to victims".
    unconfirmed = evaluate(make_facts("victim", form="inspection",
                                      tags=("juvenile", "juvenile_offender", "school_campus")))
    assert unconfirmed.effect == "deny"
    assert _actions(unconfirmed) == {"confirm_relationship"}
    confirmed = evaluate(make_facts("victim", confirmed=True, form="inspection",
                                    tags=("juvenile", "juvenile_offender", "school_campus")))
    assert confirmed.effect == "view_only"


def test_620_050_custodial_parent(make_facts) -> None:
    # KRS 620.050: the report "shall not be divulged to anyone except" those listed, among them
    # "the custodial parent or legal guardian of the child".
    custodial = evaluate(make_facts("parent_guardian", custodial=True, form="inspection",
                                    tags=("juvenile", "child_abuse_report"), **CONFIRMED_PARENT))
    assert custodial.effect == "view_only"
    assert "abuse_report_parent_suspect" in {n.code for n in custodial.notices}
    other = evaluate(make_facts("parent_guardian", form="inspection",
                                tags=("juvenile", "child_abuse_report"), **CONFIRMED_PARENT))
    assert other.effect == "deny"


def test_personal_representative_may_view_61_168_4_footage(make_facts) -> None:
    # KRS 61.168(5)(d), quoted in 19-ORD-216: footage "requested by a person or other entity or
    # the personal representative of a person or entity that is directly involved ... shall be
    # made available ... for viewing on the premises".
    decision = evaluate(make_facts("personal_representative", confirmed=True,
                                   form="inspection", tags=("deceased",)))
    assert decision.effect == "view_only"
    assert "personal-representative-viewing" in {r.id for r in decision.rules}
    copy = evaluate(make_facts("personal_representative", confirmed=True, tags=("deceased",)))
    assert copy.effect == "view_only"
    assert copy.letter == "partial_denial"


def test_the_seeds_rule_stays_policy_and_flags_the_shall(rules) -> None:
    rule = next(r for r in rules.rules if r.id == "multi-student-investigation-parents")
    assert rule.basis == "policy"
    assert rule.meets_shall
    assert "shall be made available" in rule.meets_shall
    assert {r.id for r in rules.rules if r.basis == "policy"} >= {
        "sro-legal-review", "school-personnel-through-custodian",
        "district-incident-notification"}


# --- Residency -----------------------------------------------------------------------------------
# KRS 61.872(2)(a): "The official custodian may require the applicant to provide a statement in the
# written application of the manner in which the applicant is a resident of the Commonwealth".

def test_unknown_residency_asks_for_the_statement(make_facts) -> None:
    decision = evaluate(make_facts("public", residency="unknown"))
    assert decision.effect == "residency_statement"
    assert decision.letter == "residency_statement"
    request = decision.residency_request
    assert request is not None
    assert request.send_by == decision.deadline
    assert "61.872(2)(a)" in request.citation
    assert "five" in request.clock
    assert "statement arrives" in request.clock
    assert "no proof" in decision.released
    stated = evaluate(make_facts("public", residency="nonresident"))
    assert stated.effect == "deny"


# --- The written response ------------------------------------------------------------------------
# KRS 61.880(1): a response "denying, in whole or in part, ... shall include a statement of the
# specific exception authorizing the withholding of the record and a brief explanation of how the
# exception applies to the record withheld".

def test_a_redacted_release_is_a_partial_denial_listing_each_exception(make_facts) -> None:
    decision = evaluate(make_facts("public", tags=("juvenile", "multi_student", "informant")))
    assert decision.letter == "partial_denial"
    parts = {p.redaction: p for p in decision.withheld}
    assert set(parts) == {"juveniles", "students", "informant_identity"}
    assert "KRS 610.320(3)" in parts["juveniles"].citations[0]
    assert "KRS 61.878(1)(h)" in parts["informant_identity"].citations[0]
    assert all(p.explanations for p in parts.values())
    assert "blurred" in decision.released


def test_inspection_offered_on_a_copy_request_is_a_partial_denial(make_facts) -> None:
    decision = evaluate(make_facts("depicted_adult", residency="nonresident"))
    assert decision.effect == "view_only"
    assert decision.letter == "partial_denial"
    assert [p.what for p in decision.withheld] == ["copy"]
    assert "No copy is owed" in decision.released
    same_as_inspection = evaluate(make_facts("depicted_adult", form="inspection"))
    assert same_as_inspection.letter == "grant"
    assert not same_as_inspection.withheld


def test_a_grant_and_a_denial(make_facts) -> None:
    grant = evaluate(make_facts("public"))
    assert (grant.letter, grant.withheld) == ("grant", [])
    assert grant.released == EFFECT_PLAIN["release"]["copy"]
    denial = evaluate(make_facts("public", tags=("private_residence_interior",)))
    assert denial.letter == "denial"
    assert denial.released == ""
    assert [p.what for p in denial.withheld] == ["recording"]


def test_plain_words_exist_for_every_effect_form_warning_and_action(rules) -> None:
    assert set(EFFECT_PLAIN) == set(EFFECTS)
    assert all(set(texts) == set(FORMS) and all(texts.values())
               for texts in EFFECT_PLAIN.values())
    codes = {w.code for r in rules.rules for w in r.warnings}
    assert {"ferpa_school_copy", "sro_no_release_to_school", "district_notice_3_days",
            "affidavit_61_169"} <= codes
    assert all(w.plain.strip() for r in rules.rules for w in r.warnings)
    assert set(ACTIONS) == {a for r in rules.rules for a in r.actions}
    assert set(REDACTIONS) >= {x for r in rules.rules for x in r.redact}
