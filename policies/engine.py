"""Load the rule files and decide a request: the strongest effect of all matching rules wins."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from policies.calendar import response_deadline
from policies.errors import InvalidFacts, InvalidRules
from policies.models import Condition, Decision, Facts, FactTest, Group, MatchedRule, Rule, RuleSet
from policies.vocabulary import effect_rank

RULES_DIR = Path(__file__).parent / "rules"

# Reported when no rule decides: the engine denies by default, never releases (issue 6).
DEFAULT_DENY = MatchedRule(
    id="default-deny",
    title="No rule grants access: denied by default",
    citation="Policy 000 IV.H.d-e (custodian decides after legal review)",
    effect="deny",
    decisive=True,
    needs_counsel_review=False,
)
DEFAULT_DENY_EXPLANATION = (
    "No rule of the agency's release policy covers this request, so the recording is withheld "
    "until a lawyer reviews it. A denial letter must still name the specific exception that "
    "applies (KRS 61.880(1))."
)

_FILE_KEYS = {"groups", "rules"}


def _format_error(exc: ValidationError) -> list[str]:
    """Readable lines for a pydantic error: where, and what is wrong."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            msg = f"unknown field {str(err['loc'][-1])!r}"
        elif err["type"] == "missing":
            msg = "required field is missing"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {msg}" if where else msg)
    return lines


def parse_facts(data: Any) -> Facts:
    """Validate a facts mapping (unknown keys and values refused) or raise InvalidFacts."""
    if not isinstance(data, dict):
        raise InvalidFacts("facts must be a JSON object", got=type(data).__name__)
    try:
        return Facts.model_validate(data)
    except ValidationError as exc:
        problems = _format_error(exc)
        raise InvalidFacts("invalid facts: " + "; ".join(problems), problems=problems) from exc


def read_rule_files(path: Path | None = None) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """Raw entries of the rule files under `path` as (file, entry) pairs, and problems found.

    Each entry is tagged with `kind` ("rule" or "group") and, for groups, `name`.
    """
    root = path or RULES_DIR
    files = sorted(root.glob("*.yaml")) if root.is_dir() else [root]
    if not files:
        return [], [f"{root}: no rule files (*.yaml)"]
    entries: list[tuple[str, dict[str, Any]]] = []
    problems: list[str] = []
    for file in files:
        try:
            doc = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            problems.append(f"{file.name}: cannot read: {exc}")
            continue
        if not isinstance(doc, dict) or not set(doc) <= _FILE_KEYS:
            keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
            problems.append(f"{file.name}: expected a mapping with keys 'rules' and/or 'groups', "
                            f"got {keys}")
            continue
        groups = doc.get("groups") or {}
        if not isinstance(groups, dict):
            problems.append(f"{file.name}: 'groups' must be a mapping of name -> group")
            groups = {}
        for name, body in groups.items():
            entries.append((file.name, {"kind": "group", "name": str(name), "body": body}))
        rules = doc.get("rules") or []
        if not isinstance(rules, list):
            problems.append(f"{file.name}: 'rules' must be a list")
            rules = []
        for body in rules:
            entries.append((file.name, {"kind": "rule", "body": body}))
    return entries, problems


def build_rule_set(path: Path | None = None) -> tuple[RuleSet | None, list[str]]:
    """Parse and validate the rule files strictly; the RuleSet is None when there are problems."""
    entries, problems = read_rule_files(path)
    rules: list[Rule] = []
    groups: dict[str, Group] = {}
    sources: dict[str, str] = {}
    for file, entry in entries:
        body = entry["body"]
        if entry["kind"] == "group":
            name = entry["name"]
            try:
                group = Group.model_validate(body)
            except ValidationError as exc:
                problems += [f"{file}: group {name!r}: {line}" for line in _format_error(exc)]
                continue
            if name in groups:
                problems.append(f"{file}: group {name!r} is defined twice")
            groups[name] = group
            continue
        label = body.get("id", "?") if isinstance(body, dict) else "?"
        try:
            rule = Rule.model_validate(body)
        except ValidationError as exc:
            problems += [f"{file}: rule {label!r}: {line}" for line in _format_error(exc)]
            continue
        if rule.id in sources:
            problems.append(f"{file}: rule id {rule.id!r} is already used in {sources[rule.id]}")
            continue
        sources[rule.id] = file
        rules.append(rule)
    for rule in rules:
        for name in rule.when.requester_group or ():
            if name not in groups:
                problems.append(f"{sources[rule.id]}: rule {rule.id!r}: unknown requester_group "
                                f"{name!r}; defined groups: {', '.join(sorted(groups))}")
    if problems:
        return None, problems
    return RuleSet(rules=tuple(rules), groups=groups, sources=sources), []


@lru_cache(maxsize=1)
def _default_rules() -> RuleSet:
    return load_rules(RULES_DIR)


def load_rules(path: Path | None = None) -> RuleSet:
    """The rules under `path` (the shipped rules, cached, when None); raises InvalidRules."""
    if path is None:
        return _default_rules()
    rule_set, problems = build_rule_set(Path(path))
    if rule_set is None:
        raise InvalidRules(f"rule files under {path} are invalid ({len(problems)} problems)",
                           problems=problems)
    return rule_set


def in_group(facts: Facts, group: Group) -> bool:
    """True when the requester passes any of the group's alternatives."""
    return any(test.holds(facts) for test in group.any_of)


def matches(when: Condition, facts: Facts, groups: dict[str, Group]) -> bool:
    """True when every part of the condition holds for the facts."""
    if not FactTest.holds(when, facts) or not when.tags_hold(facts.tags):
        return False
    if when.requester_group is not None:
        return any(in_group(facts, groups[name]) for name in when.requester_group)
    return True


def evaluate(facts: Facts, rules: RuleSet | None = None) -> Decision:
    """Decide a request: strongest matching effect, cited rules, redactions and deadline."""
    rule_set = rules or load_rules()
    matched = [r for r in rule_set.rules if matches(r.when, facts, rule_set.groups)]
    deciding = [r for r in matched if r.effect != "none"]
    reason: Literal["rule", "no_rule"] = "rule" if deciding else "no_rule"
    effect = max((r.effect for r in deciding), key=effect_rank) if deciding else "deny"
    cited = [_cite(r, decisive=r.effect == effect) for r in matched]
    explanations = [r.explanation.strip() for r in matched]
    if reason == "no_rule":
        cited.insert(0, DEFAULT_DENY)
        explanations.insert(0, DEFAULT_DENY_EXPLANATION)
    warnings: list[str] = []
    for rule in matched:
        warnings += [w.strip() for w in rule.warnings if w.strip() not in warnings]
    return Decision(
        effect=effect,
        reason=reason,
        requires_legal_signoff=reason == "no_rule"
        or any(r.requires_legal_signoff for r in matched),
        needs_counsel_review=any(r.needs_counsel_review for r in matched),
        rules=cited,
        redact=sorted({item for r in matched for item in r.redact}),
        deadline=response_deadline(facts.received_on),
        explanations=explanations,
        warnings=warnings,
    )


def _cite(rule: Rule, *, decisive: bool) -> MatchedRule:
    return MatchedRule(
        id=rule.id,
        title=rule.title,
        citation=rule.citation,
        effect=rule.effect,
        decisive=decisive,
        needs_counsel_review=rule.needs_counsel_review,
        assumption=rule.assumption,
    )
