"""Check the rule files: unknown fields, tags, groups; unreachable, contradictory, gap rules.

Every fact other than the tags takes few values (about 1,200 combinations once the yes/no facts a
requester type never has are left out), so the checker tries them all; tag conditions are checked
symbolically.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from policies.engine import build_rule_set, matches
from policies.models import Condition, Facts, Rule, RuleSet
from policies.vocabulary import (
    FORMS,
    OPENING_TAGS,
    PERSON_REDACTIONS,
    REQUESTER_TYPES,
    RESIDENCIES,
    TAGS,
    WHOLE_HEADS,
)

# The yes/no facts that only mean something for some requester types ("read with" in models.py);
# every other requester type always has them as no.
TYPE_FLAGS: dict[str, tuple[str, ...]] = {
    "parent_guardian": ("parent_of_depicted", "relationship_confirmed", "custodial_parent"),
    "victim": ("relationship_confirmed",),
    "personal_representative": ("relationship_confirmed",),
    "attorney_for_depicted": ("attorney_affidavit",),
    "depicted_adult": ("person_tested",),
    "depicted_juvenile": ("person_tested",),
}
COMMON_FLAGS = ("juvenile_tried_as_adult", "harm_articulated", "recorded_by_sro")
_ANY_DAY = dt.date(2025, 1, 6)
# KRS 61.880(1) wants "the specific exception": a KRS 61.168(4) or (5) citation without its
# paragraph letter is allowed only on a rule flagged for counsel (21-ORD-102, 23-ORD-324).
_BARE_168 = re.compile(r"61\.168\(([45])\)(?!\([a-z]\))")


@dataclass(frozen=True)
class Finding:
    """One problem in the rule files; errors fail the lint, warnings are reported."""

    level: Literal["error", "warning"]
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}"


def fact_combinations() -> list[Facts]:
    """Every combination of the non-tag facts a requester type can have, with no tags."""
    combos = []
    for requester in REQUESTER_TYPES:
        names = (*COMMON_FLAGS, *TYPE_FLAGS.get(requester, ()))
        for form, residency, *flags in itertools.product(
            FORMS, RESIDENCIES, *[(False, True)] * len(names)
        ):
            values = dict(zip(names, flags, strict=True))
            harm = values.pop("harm_articulated")
            combos.append(Facts.model_validate({
                "requester_type": requester, "form": form, "residency": residency,
                "received_on": _ANY_DAY, "articulated_harm": "a named harm" if harm else None,
                **values,
            }))
    return combos


def _tag_problem(when: Condition) -> str | None:
    """Why the tag tests can never hold together, or None when some tag set passes them."""
    for name in ("tags_all", "tags_any", "tags_none"):
        if getattr(when, name) == ():
            return f"{name} is an empty list, which matches nothing"
    required = set(when.tags_all or ())
    excluded = set(when.tags_none or ())
    if required & excluded:
        return f"tags {sorted(required & excluded)} are both required and excluded"
    if when.tags_any is not None and set(when.tags_any) <= excluded:
        return "every tag in tags_any is also in tags_none"
    return None


def _tag_key(when: Condition) -> tuple[frozenset[str], frozenset[str] | None, frozenset[str]]:
    """The tag tests in a canonical form, to compare two conditions."""
    return (frozenset(when.tags_all or ()),
            None if when.tags_any is None else frozenset(when.tags_any),
            frozenset(when.tags_none or ()))


def _check_rule(rule: Rule, where: str) -> list[Finding]:
    """Problems a rule has on its own: contradictory effect, non-monotone tag test."""
    found = []

    def error(msg: str) -> None:
        found.append(Finding("error", where, msg))

    if rule.effect == "release" and rule.redact:
        error("contradictory: effect release with redactions; use release_redacted")
    if rule.effect == "release_redacted" and not rule.redact:
        error("effect release_redacted but nothing listed under redact")
    if WHOLE_HEADS in rule.redact and not PERSON_REDACTIONS & set(rule.redact):
        # whole_heads says how people are hidden, not who: alone it would blur the heads of
        # people no rule hides (a requester's own child, an adult the public may see)
        error(f"{WHOLE_HEADS} without the people it applies to: list one of "
              f"{', '.join(sorted(PERSON_REDACTIONS))} in the same rule")
    if rule.effect == "none" and not (rule.requires_legal_signoff or rule.warnings or rule.redact
                                      or rule.actions):
        error("effect none and no sign-off, warning, action or redaction: the rule does nothing")
    if rule.effect == "residency_statement" and "residency_statement" not in rule.actions:
        error("effect residency_statement without the residency_statement action")
    adds = (rule.effect != "release" or rule.redact or rule.requires_legal_signoff
            or rule.warnings or rule.actions)
    closing = set(rule.when.tags_none or ()) - OPENING_TAGS
    if closing and adds:
        # Adding a protective tag must never weaken a decision: a rule that stops matching when
        # such a tag is added may only be a plain grant. Only the KRS 61.168(5) tags (use of
        # force, arrest, complaint) may switch off a restriction, as the statute does.
        error(f"tags_none {sorted(closing)} on a rule that restricts, redacts, warns or sets "
              "sign-off: adding a tag would weaken the decision; only plain `release` rules may "
              f"use tags_none, others only with the KRS 61.168(5) tags {sorted(OPENING_TAGS)}")
    if _BARE_168.search(rule.citation) and not rule.needs_counsel_review:
        error("cites KRS 61.168(4) or (5) without the paragraph letter: a denial must name the "
              "specific exception (KRS 61.880(1)); add the letter or flag it for counsel")
    return found


def check(rule_set: RuleSet) -> list[Finding]:
    """Cross-rule findings for a rule set that parsed cleanly."""
    findings: list[Finding] = []
    combos = fact_combinations()
    reach: dict[str, frozenset[int]] = {}
    for rule in rule_set.rules:
        where = f"{rule_set.sources.get(rule.id, '?')}: rule {rule.id!r}"
        findings += _check_rule(rule, where)
        tags_when = rule.when.model_copy(update={"tags_all": None, "tags_any": None,
                                                 "tags_none": None})
        reach[rule.id] = frozenset(
            i for i, facts in enumerate(combos) if matches(tags_when, facts, rule_set.groups)
        )
        problem = _tag_problem(rule.when)
        if problem:
            findings.append(Finding("error", where, f"unreachable: {problem}"))
        elif not reach[rule.id]:
            findings.append(Finding("error", where, "unreachable: no requester passes its "
                                    "requester, group, form and yes/no tests together"))
    for a, b in itertools.combinations(rule_set.rules, 2):
        if reach[a.id] and reach[a.id] == reach[b.id] and _tag_key(a.when) == _tag_key(b.when):
            where = f"rules {a.id!r} and {b.id!r}"
            if a.effect != b.effect:
                findings.append(Finding("error", where, f"contradictory: the same condition "
                                        f"gives {a.effect} and {b.effect}"))
            else:
                findings.append(Finding("warning", where, "duplicate: the same condition and "
                                        "effect; merge them or make the conditions differ"))
    used = {g for r in rule_set.rules for g in r.when.requester_group or ()}
    for name in sorted(set(rule_set.groups) - used):
        findings.append(Finding("warning", f"group {name!r}", "defined but no rule uses it"))
    findings += _gaps(rule_set, combos, reach)
    return findings


def _gaps(rule_set: RuleSet, combos: list[Facts],
          reach: dict[str, frozenset[int]]) -> list[Finding]:
    """Requests no deciding rule covers: they fall to the default deny, with no exception named."""
    deciding = [r for r in rule_set.rules if r.effect != "none"]
    tag_sets = [frozenset(), *(frozenset([t]) for t in TAGS), frozenset(TAGS)]
    gaps = []
    for i, facts in enumerate(combos):
        for tags in tag_sets:
            if not any(i in reach[r.id] and r.when.tags_hold(tags) for r in deciding):
                gaps.append(facts.model_copy(update={"tags": tags}))
                break
    if not gaps:
        return []
    shown = "; ".join(
        f"{f.requester_type}/{f.form} residency={f.residency} parent={f.parent_of_depicted} "
        f"confirmed={f.relationship_confirmed} affidavit={f.attorney_affidavit} "
        f"sro={f.recorded_by_sro} tags={sorted(f.tags)}"
        for f in gaps[:5]
    )
    return [Finding("warning", "coverage", f"{len(gaps)} kinds of request match no deciding rule "
                    f"and fall to the default deny (a denial letter must name an exception): "
                    f"{shown}")]


def lint(path: Path | None = None) -> list[Finding]:
    """All findings for the rule files under `path` (the shipped rules when None)."""
    rule_set, problems = build_rule_set(path)
    if rule_set is None:
        return [Finding("error", p.split(": ", 1)[0], p.split(": ", 1)[-1]) for p in problems]
    return check(rule_set)
