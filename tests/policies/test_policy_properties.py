"""Properties that must hold for every request, checked with hypothesis and exhaustively."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.calendar import is_business_day
from policies.engine import evaluate, in_group, load_rules, matches
from policies.lint import fact_combinations
from policies.models import Facts
from policies.vocabulary import (
    FORMS,
    OPENING_TAGS,
    REQUESTER_TYPES,
    RESIDENCIES,
    TAGS,
    effect_rank,
)

RULES = load_rules()
PROTECTIVE_TAGS = tuple(t for t in TAGS if t not in OPENING_TAGS)

facts_strategy = st.builds(
    Facts,
    requester_type=st.sampled_from(REQUESTER_TYPES),
    residency=st.sampled_from(RESIDENCIES),
    parent_of_depicted=st.booleans(),
    relationship_confirmed=st.booleans(),
    custodial_parent=st.booleans(),
    form=st.sampled_from(FORMS),
    received_on=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 12, 31)),
    tags=st.frozensets(st.sampled_from(TAGS)),
    recorded_by_sro=st.booleans(),
    attorney_affidavit=st.booleans(),
    person_tested=st.booleans(),
    juvenile_tried_as_adult=st.booleans(),
    articulated_harm=st.sampled_from([None, "", "names a witness not yet interviewed"]),
)


def _not_named(facts: Facts) -> bool:
    """KRS 610.320(3), 610.340: the requester is not one the statutes name for a child's records."""
    return in_group(facts, RULES.groups["not_named_for_juvenile_records"])


def _lifts_a_168_4_election(rule_id: str) -> bool:
    """True for a rule that applies only while no KRS 61.168(5) tag is present."""
    rule = next(r for r in RULES.rules if r.id == rule_id)
    return bool(rule.when.tags_none) and set(rule.when.tags_none) <= OPENING_TAGS


@settings(max_examples=200)
@given(facts=facts_strategy, extra=st.sampled_from(PROTECTIVE_TAGS))
def test_adding_a_protective_tag_never_weakens_the_decision(facts: Facts, extra: str) -> None:
    before = evaluate(facts, RULES)
    after = evaluate(facts.model_copy(update={"tags": facts.tags | {extra}}), RULES)
    assert effect_rank(after.effect) >= effect_rank(before.effect)
    assert set(after.redact) >= set(before.redact)
    assert after.requires_legal_signoff >= before.requires_legal_signoff
    assert set(after.warnings) >= set(before.warnings)


@settings(max_examples=200)
@given(facts=facts_strategy, extra=st.sampled_from(sorted(OPENING_TAGS)))
def test_an_opening_tag_only_turns_a_61_168_4_withholding_into_redaction(
        facts: Facts, extra: str) -> None:
    """KRS 61.168(5): a use of force, arrest or complaint lifts the (4) elections and nothing else:
    what was withheld under them is then redacted, never released whole."""
    before = evaluate(facts, RULES)
    after = evaluate(facts.model_copy(update={"tags": facts.tags | {extra}}), RULES)
    if effect_rank(after.effect) < effect_rank(before.effect):
        decisive = [r.id for r in before.rules if r.decisive]
        assert all(_lifts_a_168_4_election(rule_id) for rule_id in decisive), decisive
        assert set(after.redact) >= set(before.redact)
        assert after.redact or after.effect == "view_only" or before.effect == "view_only"
    assert after.requires_legal_signoff >= before.requires_legal_signoff
    assert set(after.warnings) >= set(before.warnings)


@settings(max_examples=200)
@given(facts=facts_strategy.filter(lambda f: _not_named(f) and not f.juvenile_tried_as_adult))
def test_no_juvenile_offender_recording_is_ever_released_to_the_public(facts: Facts) -> None:
    """KRS 610.320(3): a juvenile offender's law-enforcement record is not opened to the public,
    in custody or not (23-ORD-260, 10-ORD-066): not whole, not redacted, not for viewing."""
    facts = facts.model_copy(update={"tags": facts.tags | {"juvenile_offender"}})
    decision = evaluate(facts, RULES)
    assert decision.effect == "deny"
    assert decision.letter == "denial"
    assert any(part.what == "recording" and "KRS 610.320(3)" in " ".join(part.citations)
               for part in decision.withheld)


@settings(max_examples=200)
@given(facts=facts_strategy.filter(lambda f: _not_named(f) and not f.juvenile_tried_as_adult),
       tags=st.frozensets(st.sampled_from(TAGS)))
def test_no_unredacted_release_of_a_child_to_unnamed_requesters(facts: Facts, tags) -> None:
    facts = facts.model_copy(update={"tags": tags | {"juvenile"}})
    decision = evaluate(facts, RULES)
    assert decision.effect != "release"
    if decision.effect in ("view_only", "release_redacted"):
        assert "juveniles" in decision.redact


@settings(max_examples=200)
@given(facts=facts_strategy)
def test_every_denial_names_each_withheld_part_and_its_exception(facts: Facts) -> None:
    """KRS 61.880(1): a (partial) denial states the specific exception for each withheld part and
    how it applies; 25-ORD-072: redacting without citing an exception violates the Act."""
    decision = evaluate(facts, RULES)
    if decision.letter in ("denial", "partial_denial"):
        assert decision.withheld
        assert all(part.citations and part.explanations for part in decision.withheld)
    redacted = {part.redaction for part in decision.withheld if part.what == "redaction"}
    if decision.effect in ("release_redacted", "view_only", "release"):
        assert redacted == set(decision.redact)
    if decision.effect == "view_only" and facts.form == "copy":
        assert decision.letter == "partial_denial"
        assert any(part.what == "copy" for part in decision.withheld)
    if decision.letter == "grant":
        assert not decision.withheld
    assert decision.released or decision.letter == "denial"


@settings(max_examples=200)
@given(facts=facts_strategy)
def test_a_pending_case_is_never_a_reason_by_itself(facts: Facts) -> None:
    """Shively (Ky. 2024): withholding for a pending action needs the custodian's concrete harm;
    without it the decision asks for it, and with it the letter prints it."""
    decision = evaluate(facts, RULES)
    if decision.effect != "deny_during_investigation":
        return
    actions = {a.code for a in decision.required_actions}
    if facts.harm_articulated:
        assert "articulate_harm" not in actions
        assert all(part.harm == facts.articulated_harm.strip() for part in decision.withheld)
    else:
        assert "articulate_harm" in actions


@settings(max_examples=200)
@given(facts=facts_strategy.filter(lambda f: f.residency == "unknown"))
def test_unknown_residency_asks_for_the_statement_and_releases_nothing(facts: Facts) -> None:
    decision = evaluate(facts, RULES)
    if decision.effect == "residency_statement":
        assert decision.letter == "residency_statement"
        assert decision.residency_request is not None
        assert decision.residency_request.send_by == decision.deadline
        assert "residency_statement" in {a.code for a in decision.required_actions}
        assert not decision.withheld
    assert decision.effect != "release" or facts.requester_type in (
        "news_media", "prosecutor", "court_order", "law_enforcement_agency",
        "attorney_for_depicted")


@settings(max_examples=200)
@given(facts=facts_strategy)
def test_every_decision_names_a_deciding_rule(facts: Facts) -> None:
    decision = evaluate(facts, RULES)
    assert decision.rules
    decisive = [r for r in decision.rules if r.decisive]
    assert decisive
    assert all(r.effect == decision.effect for r in decisive)
    assert all(r.citation for r in decision.rules)


@settings(max_examples=200)
@given(facts=facts_strategy)
def test_sro_recordings_always_need_legal_signoff(facts: Facts) -> None:
    facts = facts.model_copy(update={"recorded_by_sro": True})
    assert evaluate(facts, RULES).requires_legal_signoff


@settings(max_examples=200)
@given(facts=facts_strategy)
def test_deadline_is_the_fifth_business_day_after_receipt(facts: Facts) -> None:
    deadline = evaluate(facts, RULES).deadline
    days = [facts.received_on + dt.timedelta(days=n)
            for n in range(1, (deadline - facts.received_on).days + 1)]
    assert sum(is_business_day(d) for d in days) == 5
    assert is_business_day(deadline)
    # Christmas to New Year's is the longest run of holidays: at most 13 calendar days.
    assert 5 <= len(days) <= 13


def _effect_table() -> tuple[list[Facts], dict[str, frozenset[int]]]:
    """Every non-tag combination and, per rule, the combinations its fact tests admit."""
    combos = fact_combinations()
    reach = {}
    for rule in RULES.rules:
        fact_part = rule.when.model_copy(update={"tags_all": None, "tags_any": None,
                                                 "tags_none": None})
        reach[rule.id] = frozenset(i for i, f in enumerate(combos)
                                   if matches(fact_part, f, RULES.groups))
    return combos, reach


def test_exhaustive_monotonicity_over_single_tags() -> None:
    """Every non-tag combination, from no tags, for each protective tag added: never weaker.

    Decided from the rules' fact reach and tag tests (what `matches` does, split in two), so the
    1,200 x 25 cases take a second; the hypothesis tests above cover `evaluate` itself."""
    combos, reach = _effect_table()
    deciding = [r for r in RULES.rules if r.effect != "none"]

    def rank(i: int, tags: frozenset[str]) -> int:
        found = [effect_rank(r.effect) for r in deciding
                 if i in reach[r.id] and r.when.tags_hold(tags)]
        return max(found, default=effect_rank("deny"))

    for i, base in enumerate(combos):
        before = rank(i, frozenset())
        for tag in PROTECTIVE_TAGS:
            assert rank(i, frozenset([tag])) >= before, (base, tag)


def test_the_fast_table_agrees_with_evaluate() -> None:
    combos, reach = _effect_table()
    deciding = [r for r in RULES.rules if r.effect != "none"]
    for i in range(0, len(combos), 7):
        for tags in (frozenset(), frozenset(["juvenile_offender"]),
                     frozenset(["nudity", "arrest"])):
            found = [r.effect for r in deciding if i in reach[r.id] and r.when.tags_hold(tags)]
            expected = max(found, key=effect_rank) if found else "deny"
            facts = combos[i].model_copy(update={"tags": tags})
            assert evaluate(facts, RULES).effect == expected


def test_nothing_matching_is_a_default_deny(tmp_path: Path) -> None:
    (tmp_path / "only.yaml").write_text(
        "rules:\n"
        "  - id: prosecutors-only\n"
        "    title: Prosecutors only\n"
        "    citation: KRS 610.340(2)\n"
        "    when: {requester_type: [prosecutor]}\n"
        "    effect: release\n"
        "    explanation: Prosecutors receive recordings for official use.\n",
        encoding="utf-8",
    )
    rules = load_rules(tmp_path)
    facts = Facts(requester_type="public", residency="resident", form="copy",
                  received_on=dt.date(2025, 3, 3))
    decision = evaluate(facts, rules)
    assert decision.effect == "deny"
    assert decision.reason == "no_rule"
    assert [r.id for r in decision.rules] == ["default-deny"]
    assert decision.requires_legal_signoff
    assert decision.letter == "denial"
    assert [p.rules for p in decision.withheld] == [["default-deny"]]
