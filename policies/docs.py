"""Generate policies/RULES.md, the table of rules a lawyer reviews, from the rule files."""

from __future__ import annotations

from pathlib import Path

from policies.engine import load_rules
from policies.models import Condition, FactTest, RuleSet
from policies.vocabulary import EFFECT_MEANINGS, EFFECTS, REDACTIONS, TAG_MEANINGS

RULES_MD = Path(__file__).parent / "RULES.md"


HOW_TO_WRITE = [
    "## How a rule is written",
    "",
    "Each file in `policies/rules/` holds `rules:` (a list) and/or `groups:` (a mapping). A rule "
    "has `id`, `title`, `citation`, `when`, `effect`, `explanation` (goes into letters), and may "
    "have `redact`, `warnings`, `requires_legal_signoff`, and `needs_counsel_review` with the "
    "`assumption` about the law it rests on. Unknown fields, tags or values are errors; run "
    "`bwc policy lint` after every change and `bwc policy docs` to regenerate this file.",
    "",
    "Every test in `when` must hold. Fact tests: `requester_type` / `requester_type_not` (lists), "
    "`requester_group` (in any of the groups listed), `form` (`inspection`, `copy`), and yes/no "
    "tests `ky_resident`, `parent_of_depicted` (read with `parent_guardian`), "
    "`attorney_affidavit` (a signed KRS 61.169 affidavit, read with `attorney_for_depicted`), "
    "`recorded_by_sro` (always yes in this system). Tag tests: `tags_all`, `tags_any`, "
    "`tags_none`. An empty list matches nothing. Only a plain `release` rule may use "
    "`tags_none`, so that adding a tag can never weaken a decision.",
    "",
    "Request facts (`bwc policy explain --facts FILE`): `requester_type`, `form`, `received_on` "
    "(YYYY-MM-DD) are required; `ky_resident`, `parent_of_depicted`, `attorney_affidavit` "
    "default to no and `recorded_by_sro` to yes; `tags` defaults to none.",
    "",
]


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _words(items: tuple[str, ...]) -> str:
    return ", ".join(f"`{i}`" for i in items)


def describe_facts(test: FactTest) -> list[str]:
    """The fact tests of a condition, one phrase each."""
    parts = []
    if test.requester_type is not None:
        parts.append(f"requester is {_words(test.requester_type) or 'nobody'}")
    if test.requester_type_not is not None:
        parts.append(f"requester is not {_words(test.requester_type_not)}")
    if test.form is not None:
        parts.append(f"form is {_words(test.form) or 'nothing'}")
    for name in ("ky_resident", "parent_of_depicted", "attorney_affidavit", "recorded_by_sro"):
        value = getattr(test, name)
        if value is not None:
            parts.append(f"{name} is {'yes' if value else 'no'}")
    return parts


def describe(when: Condition) -> str:
    """A condition in words: every phrase must hold."""
    parts = describe_facts(when)
    if when.requester_group is not None:
        parts.insert(0, f"requester in group {_words(when.requester_group)}")
    if when.tags_all is not None:
        parts.append(f"tagged with all of {_words(when.tags_all)}")
    if when.tags_any is not None:
        parts.append(f"tagged with any of {_words(when.tags_any)}")
    if when.tags_none is not None:
        parts.append(f"tagged with none of {_words(when.tags_none)}")
    return "; ".join(parts) or "always"


def render(rule_set: RuleSet) -> str:
    """The whole RULES.md text."""
    out = [
        "# Release rules",
        "",
        "<!-- Generated from policies/rules/*.yaml by `bwc policy docs`; do not edit by hand. -->",
        "",
        "The custodian's release decisions, as data. For a request, every rule whose condition "
        "holds is applied; the decision takes the **strongest** effect among them, the union of "
        "their redactions, warnings and sign-off flags. When no rule with an effect matches, the "
        "request is denied by default (`default-deny`, reason `no_rule`). The answer is due "
        "5 business days after receipt, skipping weekends and Kentucky state holidays "
        "(KRS 61.880(1)).",
        "",
        "Effects, strongest first: " + ", ".join(
            f"`{e}` ({EFFECT_MEANINGS[e]})" for e in EFFECTS) + ". "
        "A rule with effect `none` decides nothing; it only adds sign-off, warnings or redactions.",
        "",
        "Rules marked **counsel** rest on an assumption about the law written below them; a "
        "lawyer must confirm or correct it.",
        "",
        "## Rules",
        "",
        "| id | title | when | effect | redact | sign-off | counsel | citation |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rule_set.rules:
        out.append(
            f"| `{r.id}` | {_cell(r.title)} | {_cell(describe(r.when))} | `{r.effect}` | "
            f"{_words(r.redact)} | {'yes' if r.requires_legal_signoff else ''} | "
            f"{'**counsel**' if r.needs_counsel_review else ''} | {_cell(r.citation)} |"
        )
    out += ["", "## What each rule says", ""]
    for r in rule_set.rules:
        out += [f"### `{r.id}`: {r.title}", "",
                f"*{r.citation}* (file `{rule_set.sources.get(r.id, '?')}`)", "",
                " ".join(r.explanation.split()), ""]
        for warning in r.warnings:
            out += [f"> Warning: {' '.join(warning.split())}", ""]
        if r.assumption:
            out += [f"**Needs counsel review.** Assumption: {' '.join(r.assumption.split())}", ""]
    out += HOW_TO_WRITE
    out += ["## Requester groups", "", "| group | meaning | a requester belongs when any of |",
            "|---|---|---|"]
    for name, group in rule_set.groups.items():
        alternatives = " **or** ".join("; ".join(describe_facts(t)) for t in group.any_of)
        out.append(f"| `{name}` | {_cell(group.title)} | {_cell(alternatives)} |")
    out += ["", "## Evidence tags", "", "| tag | meaning |", "|---|---|"]
    out += [f"| `{tag}` | {_cell(meaning)} |" for tag, meaning in TAG_MEANINGS.items()]
    out += ["", "## Redactions", "", "| redact | what is removed |", "|---|---|"]
    out += [f"| `{name}` | {_cell(meaning)} |" for name, meaning in REDACTIONS.items()]
    return "\n".join(out) + "\n"


def generate(rules_path: Path | None = None) -> str:
    """RULES.md text for the rule files under `rules_path` (the shipped rules when None)."""
    return render(load_rules(rules_path))
