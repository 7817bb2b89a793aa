"""The engine as the review workflow calls it: load_rules, parse_facts, evaluate."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.engine import evaluate, load_rules, parse_facts
from policies.errors import InvalidFacts, InvalidRules
from policies.vocabulary import EFFECTS, TAGS, effect_rank


def test_default_rules_are_cached() -> None:
    assert load_rules() is load_rules()


def test_evaluate_uses_the_shipped_rules_by_default(make_facts) -> None:
    decision = evaluate(make_facts("public", tags=["juvenile"]))
    assert decision.effect == "release_redacted"
    assert decision.redact == ["juveniles"]


def test_effects_are_ordered_by_strength() -> None:
    assert [effect_rank(e) for e in EFFECTS] == [5, 4, 3, 2, 1, 0]
    # Asking for the residency statement withholds everything, like a denial: only a denial on
    # the merits outranks it.
    assert effect_rank("residency_statement") > effect_rank("deny_during_investigation")


def test_every_tag_is_used_by_some_rule(rules) -> None:
    used = {t for r in rules.rules for name in ("tags_all", "tags_any", "tags_none")
            for t in getattr(r.when, name) or ()}
    # school_campus decides no effect by itself; with children shown it asks for whole heads
    # (the school community knows them by more than the face).
    assert set(TAGS) - used == set()


def test_counsel_review_rules_carry_their_assumption(rules) -> None:
    flagged = [r for r in rules.rules if r.needs_counsel_review]
    assert flagged
    assert all(r.assumption and len(r.assumption) > 40 for r in flagged)
    ids = {r.id for r in flagged}
    assert "multi-student-investigation-parents" in ids  # the open question in LEGAL.md


def test_parse_facts_refuses_non_objects() -> None:
    with pytest.raises(InvalidFacts, match="JSON object"):
        parse_facts(["public"])


def test_parse_facts_defaults_are_the_restrictive_ones() -> None:
    facts = parse_facts({"requester_type": "public", "form": "copy", "received_on": "2025-03-03"})
    assert facts.residency == "unknown"
    assert facts.ky_resident is None
    assert facts.relationship_confirmed is False
    assert facts.recorded_by_sro is True
    decision = evaluate(facts)
    # KRS 61.872(2)(a): unknown residency is asked for, not denied; nothing is released meanwhile.
    assert decision.effect == "residency_statement"
    assert decision.letter == "residency_statement"


@pytest.mark.parametrize(("value", "residency"), [(True, "resident"), (False, "nonresident"),
                                                   (None, "unknown")])
def test_parse_facts_reads_the_older_ky_resident(value: bool | None, residency: str) -> None:
    facts = parse_facts({"requester_type": "public", "form": "copy",
                         "received_on": "2025-03-03", "ky_resident": value})
    assert facts.residency == residency
    assert facts.ky_resident is value


def test_parse_facts_refuses_contradicting_residency() -> None:
    with pytest.raises(InvalidFacts, match="contradicts"):
        parse_facts({"requester_type": "public", "form": "copy", "received_on": "2025-03-03",
                     "ky_resident": True, "residency": "nonresident"})


def test_parse_facts_refuses_an_overlong_harm() -> None:
    with pytest.raises(InvalidFacts, match="longer than"):
        parse_facts({"requester_type": "public", "form": "copy", "received_on": "2025-03-03",
                     "articulated_harm": "x" * 5000})


def test_load_rules_refuses_broken_files(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("rules:\n  - id: x\n    colour: red\n", encoding="utf-8")
    with pytest.raises(InvalidRules) as info:
        load_rules(tmp_path)
    assert any("unknown field 'colour'" in p for p in info.value.details["problems"])


def test_load_rules_refuses_yaml_that_is_not_a_rule_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(InvalidRules):
        load_rules(tmp_path)


def test_every_redaction_and_action_has_a_display_label() -> None:
    """The console names them by these labels, never the key with its underscores swapped."""
    from policies.vocabulary import ACTION_LABELS, ACTIONS, REDACTION_LABELS, REDACTIONS

    assert set(REDACTION_LABELS) == set(REDACTIONS)
    assert set(ACTION_LABELS) == set(ACTIONS)
    assert all("_" not in label for label in [*REDACTION_LABELS.values(), *ACTION_LABELS.values()])
    assert REDACTION_LABELS["non_subject_students"] == "non-subject students"


def test_every_tag_requester_type_effect_and_role_has_a_display_label() -> None:
    """The console's badges and lists name them by these (the meanings are tooltips)."""
    from bwc_custody.roles import ROLE_DUTIES, ROLE_LABELS, Role
    from policies.vocabulary import (
        EFFECT_LABELS,
        REQUESTER_LABELS,
        REQUESTER_TYPES,
        RULE_EFFECTS,
        TAG_LABELS,
        TAGS,
    )

    assert set(TAG_LABELS) == set(TAGS)
    assert set(REQUESTER_LABELS) == set(REQUESTER_TYPES)
    assert set(EFFECT_LABELS) == set(RULE_EFFECTS)
    assert set(ROLE_LABELS) == set(ROLE_DUTIES) == {str(r) for r in Role}
    labels = [*TAG_LABELS.values(), *REQUESTER_LABELS.values(), *EFFECT_LABELS.values(),
              *ROLE_LABELS.values()]
    assert all("_" not in label for label in labels)
    assert (TAG_LABELS["multi_student"], TAG_LABELS["cjis_data"]) == ("several students",
                                                                      "CJIS data")


def test_a_matched_rule_records_what_it_adds_without_deciding(make_facts) -> None:
    """The sign-off and actions of each matched rule go into the decision, so the console can say
    what a rule whose effect is `none` adds (sro-legal-review: a legal sign-off)."""
    decision = evaluate(make_facts("public", tags=["juvenile"]))
    sro = next(r for r in decision.rules if r.id == "sro-legal-review")
    assert (sro.effect, sro.requires_legal_signoff, sro.actions) == ("none", True, [])
