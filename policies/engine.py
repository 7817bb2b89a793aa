"""Load the rule files and decide a request: the strongest effect of all matching rules wins."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from policies.calendar import response_deadline
from policies.errors import InvalidFacts, InvalidRules
from policies.models import (
    Condition,
    Decision,
    Facts,
    FactTest,
    Group,
    MatchedRule,
    Notice,
    RequiredAction,
    ResidencyRequest,
    Rule,
    RuleSet,
    WithheldPart,
)
from policies.vocabulary import (
    ACTION_TEXTS,
    EFFECT_PLAIN,
    REDACTIONS,
    WHOLE_HEADS,
    effect_rank,
)

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


# When each required action counts as done: the fact that records it.
ACTION_DONE: dict[str, Callable[[Facts], bool]] = {
    "residency_statement": lambda f: f.residency != "unknown",
    "confirm_relationship": lambda f: f.relationship_confirmed,
    "articulate_harm": lambda f: f.harm_articulated,
}

RESIDENCY_CLOCK = (
    "The request for the statement is the agency's written response and goes out within the five "
    "business days of KRS 61.880(1), by {send_by}. The request is then treated as received on the "
    "day the statement arrives, and a new five-business-day period runs from that day; with no "
    "statement, the request may be denied for want of one (21-ORD-193). The restart is an "
    "assumption for counsel to confirm."
)

_WITHHELD_WHOLE = {
    "deny": "the whole recording",
    "deny_during_investigation": "the whole recording, until the investigation or prosecution ends",
}


def evaluate(facts: Facts, rules: RuleSet | None = None) -> Decision:
    """Decide a request: strongest matching effect, cited rules, what is withheld and why."""
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
    notices: list[Notice] = []
    for rule in matched:
        for w in rule.warnings:
            if all(n.code != w.code for n in notices):
                notices.append(Notice(code=w.code, rule=rule.id, text=" ".join(w.text.split()),
                                      plain=" ".join(w.plain.split())))
    redact = sorted({item for r in matched for item in r.redact})
    redaction_rules = {item: [r.id for r in matched if item in r.redact] for item in redact}
    deadline = response_deadline(facts.received_on)
    withheld = _withheld(effect, facts, matched, redact, reason)
    letter: Literal["grant", "partial_denial", "denial", "residency_statement"]
    if effect in _WITHHELD_WHOLE:
        letter = "denial"
    elif effect == "residency_statement":
        letter = "residency_statement"
    else:
        letter = "partial_denial" if withheld else "grant"
    return Decision(
        effect=effect,
        reason=reason,
        letter=letter,
        requires_legal_signoff=reason == "no_rule"
        or any(r.requires_legal_signoff for r in matched),
        needs_counsel_review=any(r.needs_counsel_review for r in matched),
        rules=cited,
        redact=redact,
        redaction_rules=redaction_rules,
        deadline=deadline,
        explanations=explanations,
        warnings=[n.text for n in notices],
        notices=notices,
        released="" if letter == "denial" else EFFECT_PLAIN[effect][facts.form],
        withheld=withheld,
        required_actions=_actions(facts, matched),
        residency_request=_residency_request(deadline) if effect == "residency_statement" else None,
        articulated_harm=facts.articulated_harm if facts.harm_articulated else None,
    )


def _withheld(effect: str, facts: Facts, matched: list[Rule], redact: list[str],
              reason: str) -> list[WithheldPart]:
    """Each part the answer withholds, with the exceptions for it (KRS 61.880(1), 25-ORD-072)."""
    decisive = [r for r in matched if r.effect == effect]
    if effect in _WITHHELD_WHOLE:
        if reason == "no_rule":
            return [WithheldPart(what="recording", description=_WITHHELD_WHOLE[effect],
                                 rules=[DEFAULT_DENY.id], citations=[DEFAULT_DENY.citation],
                                 explanations=[DEFAULT_DENY_EXPLANATION],
                                 needs_counsel_review=True)]
        return [_part("recording", _WITHHELD_WHOLE[effect], [r], facts) for r in decisive]
    if effect == "residency_statement":
        return []
    parts = []
    if effect == "view_only" and facts.form == "copy":
        parts += [_part("copy", "a copy of the recording (viewing at the agency is offered "
                        "instead)", [r], facts) for r in decisive]
    for item in redact:
        listing = [r for r in matched if item in r.redact]
        parts.append(_part("redaction", REDACTIONS[item], listing, facts, redaction=item))
    return parts


def _part(what: Literal["recording", "copy", "redaction"], description: str, rules: list[Rule],
          facts: Facts, redaction: str | None = None) -> WithheldPart:
    harm = any("articulate_harm" in r.actions for r in rules) and facts.harm_articulated
    return WithheldPart(
        what=what, redaction=redaction, description=description, rules=[r.id for r in rules],
        citations=[r.citation for r in rules],
        explanations=[" ".join(r.explanation.split()) for r in rules],
        harm=(facts.articulated_harm or "").strip() if harm else None,
        needs_counsel_review=any(r.needs_counsel_review for r in rules))


def _actions(facts: Facts, matched: list[Rule]) -> list[RequiredAction]:
    """The actions the matched rules ask for that the facts do not yet record as done."""
    found: dict[str, list[str]] = {}
    for rule in matched:
        for code in rule.actions:
            if not ACTION_DONE[code](facts):
                found.setdefault(code, []).append(rule.id)
    return [RequiredAction(code=code, citation=ACTION_TEXTS[code]["citation"],
                           text=ACTION_TEXTS[code]["text"], rules=ids)
            for code, ids in found.items()]


def _residency_request(deadline: dt.date) -> ResidencyRequest:
    return ResidencyRequest(citation=ACTION_TEXTS["residency_statement"]["citation"],
                            send_by=deadline, text=ACTION_TEXTS["residency_statement"]["text"],
                            clock=RESIDENCY_CLOCK.format(send_by=deadline.isoformat()))


def _cite(rule: Rule, *, decisive: bool) -> MatchedRule:
    return MatchedRule(
        id=rule.id,
        title=rule.title,
        citation=rule.citation,
        effect=rule.effect,
        decisive=decisive,
        needs_counsel_review=rule.needs_counsel_review,
        assumption=rule.assumption,
        basis=rule.basis,
        meets_shall=rule.meets_shall,
        requires_legal_signoff=rule.requires_legal_signoff,
        actions=list(rule.actions),
    )


def whole_heads_rules(decision: Mapping[str, Any]) -> list[dict[str, str]]:
    """The rules of a decision (as stored, its JSON) that ask for whole heads, each as `id`,
    `title` and `citation`; empty when the decision does not ask for them."""
    if WHOLE_HEADS not in (decision.get("redact") or []):
        return []
    ids = (decision.get("redaction_rules") or {}).get(WHOLE_HEADS)
    if ids is None:  # a decision stored without redaction_rules: its withheld part names them
        ids = [i for part in decision.get("withheld") or []
               if part.get("redaction") == WHOLE_HEADS for i in part.get("rules") or []]
    cited = {str(r.get("id")): r for r in decision.get("rules") or []}
    found = [{"id": i, "title": str(cited.get(i, {}).get("title", "")),
              "citation": str(cited.get(i, {}).get("citation", ""))} for i in ids]
    # listed in `redact` with no rule found: still asked for, never silently dropped
    return found or [{"id": "unknown", "title": "", "citation": ""}]
