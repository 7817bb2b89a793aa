"""Properties that must hold for every request, checked with hypothesis."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.calendar import is_business_day
from policies.engine import evaluate, load_rules
from policies.models import Facts
from policies.vocabulary import FORMS, REQUESTER_TYPES, TAGS, effect_rank

RULES = load_rules()

# KRS 610.320(3) and 610.340 name, besides officials, only the child, the parent and the child's
# attorney; every other requester may not receive a recording of a child unredacted.
NAMED_FOR_JUVENILE_RECORDS = {"depicted_juvenile", "attorney_for_depicted", "prosecutor",
                              "court_order", "law_enforcement_agency"}

facts_strategy = st.builds(
    Facts,
    requester_type=st.sampled_from(REQUESTER_TYPES),
    ky_resident=st.booleans(),
    parent_of_depicted=st.booleans(),
    form=st.sampled_from(FORMS),
    received_on=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 12, 31)),
    tags=st.frozensets(st.sampled_from(TAGS)),
    recorded_by_sro=st.booleans(),
    attorney_affidavit=st.booleans(),
)


def _named(facts: Facts) -> bool:
    return facts.requester_type in NAMED_FOR_JUVENILE_RECORDS or (
        facts.requester_type == "parent_guardian" and facts.parent_of_depicted
    )


@settings(max_examples=400)
@given(facts=facts_strategy, extra=st.sampled_from(TAGS))
def test_adding_a_tag_never_weakens_the_decision(facts: Facts, extra: str) -> None:
    before = evaluate(facts, RULES)
    after = evaluate(facts.model_copy(update={"tags": facts.tags | {extra}}), RULES)
    assert effect_rank(after.effect) >= effect_rank(before.effect)
    assert set(after.redact) >= set(before.redact)
    assert after.requires_legal_signoff >= before.requires_legal_signoff
    assert set(after.warnings) >= set(before.warnings)


@settings(max_examples=400)
@given(facts=facts_strategy)
def test_every_decision_names_a_deciding_rule(facts: Facts) -> None:
    decision = evaluate(facts, RULES)
    assert decision.rules
    decisive = [r for r in decision.rules if r.decisive]
    assert decisive
    assert all(r.effect == decision.effect for r in decisive)
    assert all(r.citation for r in decision.rules)


@settings(max_examples=400)
@given(facts=facts_strategy.filter(lambda f: not _named(f)),
       tags=st.frozensets(st.sampled_from(TAGS)))
def test_no_unredacted_release_of_a_child_to_unnamed_requesters(facts: Facts, tags) -> None:
    facts = facts.model_copy(update={"tags": tags | {"juvenile"}})
    decision = evaluate(facts, RULES)
    assert decision.effect != "release"
    assert decision.effect != "view_only" or "juveniles" in decision.redact
    if decision.effect == "release_redacted":
        assert "juveniles" in decision.redact


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


def test_exhaustive_monotonicity_over_single_tags() -> None:
    """Every non-tag combination, from no tags, for each tag added: never weaker."""
    from policies.lint import fact_combinations

    for base in fact_combinations():
        before = evaluate(base, RULES)
        for tag in TAGS:
            after = evaluate(base.model_copy(update={"tags": frozenset([tag])}), RULES)
            assert effect_rank(after.effect) >= effect_rank(before.effect), (base, tag)


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
    facts = Facts(requester_type="public", ky_resident=True, form="copy",
                  received_on=dt.date(2025, 3, 3))
    decision = evaluate(facts, rules)
    assert decision.effect == "deny"
    assert decision.reason == "no_rule"
    assert [r.id for r in decision.rules] == ["default-deny"]
    assert decision.requires_legal_signoff
