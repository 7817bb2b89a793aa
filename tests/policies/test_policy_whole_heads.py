"""Whole heads (issue 23): the rules that ask for students to be hidden by the whole head, not
only the face, match school footage of several students for everyone from whom students are
hidden, and nothing else; the decision names the rule and its citation wherever it lists
them."""

from __future__ import annotations

import pytest

from policies.engine import evaluate, whole_heads_rules
from policies.vocabulary import PERSON_REDACTIONS, WHOLE_HEADS
from tests.policies.conftest import build_facts

PARENT = {"parent": True, "confirmed": True}
HEADS_RULES = {"school-students-whole-heads-open-records", "school-students-whole-heads-involved"}
INVOLVED = "school-students-whole-heads-involved"


def test_several_students_during_an_investigation_ask_for_whole_heads() -> None:
    """The brief's case: a parent asks for school footage of several students while the
    investigation is open. Nothing is shown yet, and the decision already says that the
    other students are to be hidden by the whole head, naming the rule and its citation."""
    decision = evaluate(build_facts(
        "parent_guardian", **PARENT, harm="the other students are not yet interviewed",
        tags=("multi_student", "school_campus", "investigation_open")))
    assert decision.effect == "deny_during_investigation"
    assert decision.redact == ["non_subject_students", WHOLE_HEADS]
    assert decision.redaction_rules[WHOLE_HEADS] == ["school-students-whole-heads-involved"]
    asked = whole_heads_rules(decision.model_dump(mode="json"))
    assert [a["id"] for a in asked] == ["school-students-whole-heads-involved"]
    assert "KRS 610.320(3)" in asked[0]["citation"]
    assert "34 CFR 99.3" in asked[0]["citation"]


def test_after_the_investigation_the_letter_lists_whole_heads_with_rule_and_citation() -> None:
    decision = evaluate(build_facts("parent_guardian", **PARENT, form="inspection",
                                    tags=("multi_student", "school_campus")))
    assert decision.effect == "view_only"
    part = next(w for w in decision.withheld if w.redaction == WHOLE_HEADS)
    assert part.rules == ["school-students-whole-heads-involved"]
    assert part.citations
    assert "12-ORD-018" in part.citations[0]
    assert part.needs_counsel_review  # the assumption about faces not being enough
    assert "back of the head" in part.description
    assert decision.needs_counsel_review


@pytest.mark.parametrize(("requester", "extra", "tags", "rule"), [
    ("public", {}, ("multi_student", "school_campus"),
     "school-students-whole-heads-open-records"),
    ("news_media", {}, ("juvenile", "multi_student", "school_campus"),
     "school-students-whole-heads-open-records"),
    ("school_personnel", {}, ("multi_student", "school_campus"),
     "school-students-whole-heads-open-records"),
    # a parent whose claim is not yet confirmed asks like any citizen
    ("parent_guardian", {"parent": True}, ("multi_student", "school_campus"),
     "school-students-whole-heads-open-records"),
    ("depicted_juvenile", {}, ("juvenile", "multi_student", "school_campus"), INVOLVED),
    ("depicted_adult", {}, ("multi_student", "school_campus"), INVOLVED),
    ("victim", {"confirmed": True}, ("juvenile_offender", "multi_student", "school_campus"),
     INVOLVED),
    ("attorney_for_depicted", {"affidavit": True}, ("multi_student", "school_campus"),
     INVOLVED),
])
def test_whole_heads_for_several_students_at_school(requester: str, extra: dict[str, bool],
                                            tags: tuple[str, ...], rule: str) -> None:
    decision = evaluate(build_facts(requester, tags=tags, **extra))
    assert WHOLE_HEADS in decision.redact
    assert rule in decision.redaction_rules[WHOLE_HEADS]
    # never alone: always with the people it hides
    assert PERSON_REDACTIONS & set(decision.redact)


@pytest.mark.parametrize(("requester", "extra", "tags"), [
    # off campus, or a campus without several students: no rule asks (one child at school
    # is hidden by the face; whole heads there are left to counsel, see the rules' assumption)
    ("public", {}, ("juvenile",)),
    ("public", {}, ("multi_student",)),
    ("public", {}, ("school_campus",)),
    ("public", {}, ("juvenile", "school_campus")),
    ("parent_guardian", {"parent": True, "confirmed": True}, ("juvenile", "school_campus")),
    ("public", {}, ("school_campus", "use_of_force")),
    # officials receive the recording unredacted: nothing to hide by head
    ("prosecutor", {}, ("multi_student", "school_campus", "juvenile")),
    ("law_enforcement_agency", {}, ("multi_student", "school_campus", "juvenile")),
    ("court_order", {}, ("multi_student", "school_campus", "juvenile")),
    # the child tried as an adult: the statute opens the case; other children are hidden by
    # face (no whole-heads rule was written for it: left to counsel)
    ("public", {"tried_as_adult": True}, ("juvenile_offender", "school_campus")),
])
def test_no_whole_heads_where_no_rule_asks(requester: str, extra: dict[str, bool],
                                           tags: tuple[str, ...]) -> None:
    decision = evaluate(build_facts(requester, tags=tags, **extra))
    assert WHOLE_HEADS not in decision.redact
    assert whole_heads_rules(decision.model_dump(mode="json")) == []


def test_every_whole_heads_rule_is_policy_flagged_for_counsel(rules) -> None:
    """No source we confirmed says a face blur is not enough: each rule says so itself."""
    asking = {r.id: r for r in rules.rules if WHOLE_HEADS in r.redact}
    assert set(asking) == HEADS_RULES
    for rule in asking.values():
        assert rule.basis == "policy"
        assert rule.needs_counsel_review
        assert rule.assumption
        assert "not checked" in rule.assumption
        assert rule.effect == "none"  # it says how people are hidden, it decides nothing
        assert PERSON_REDACTIONS & set(rule.redact)


def test_a_decision_stored_before_redaction_rules_still_names_the_rule() -> None:
    stored = evaluate(build_facts("public", tags=("multi_student", "school_campus"))
                      ).model_dump(mode="json")
    del stored["redaction_rules"]
    assert [a["id"] for a in whole_heads_rules(stored)] == [
        "school-students-whole-heads-open-records"]
