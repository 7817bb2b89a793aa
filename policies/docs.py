"""Generate policies/RULES.md, the table of rules a lawyer reviews, from the rule files."""

from __future__ import annotations

from pathlib import Path

from policies.engine import load_rules
from policies.models import BOOL_FACTS, Condition, FactTest, RuleSet
from policies.vocabulary import (
    ACTION_TEXTS,
    EFFECT_MEANINGS,
    EFFECT_PLAIN,
    EFFECTS,
    OPENING_TAGS,
    PERSON_REDACTIONS,
    REDACTIONS,
    REQUESTER_MEANINGS,
    TAG_MEANINGS,
)

RULES_MD = Path(__file__).parent / "RULES.md"


HOW_TO_WRITE = [
    "## How a rule is written",
    "",
    "Each file in `policies/rules/` holds `rules:` (a list) and/or `groups:` (a mapping). A rule "
    "has `id`, `title`, `citation`, `when`, `effect`, `explanation` (goes into letters), and may "
    "have `redact`, `actions` (what the custodian must do first), `warnings` (each a `code`, the "
    "legal `text` and the same in `plain` words), `requires_legal_signoff`, `basis: policy` (P: "
    "the agency's policy, not a statute), `meets_shall` (the statutory \"shall\" a rule cuts "
    "into), and `needs_counsel_review` with the `assumption` about the law it rests on. Unknown "
    "fields, tags or values are errors; run `bwc policy lint` after every change and "
    "`bwc policy docs` to regenerate this file.",
    "",
    "`redact` says what is hidden; one item says how: `whole_heads` asks that the people the "
    "same rule hides be blurred by their whole head (hair, ears, the back of the head), not "
    "only by the face, and is an error without one of the redactions that hide people ("
    + ", ".join(f"`{r}`" for r in sorted(PERSON_REDACTIONS)) + "). While the decision in force "
    "lists it, a redacted copy made without the redactor's heads mode is refused when "
    "submitted for legal review (`heads_required`), and a new redaction of the recording "
    "blurs heads unless the custodian says otherwise.",
    "",
    "Every test in `when` must hold. Fact tests: `requester_type` / `requester_type_not` (lists), "
    "`requester_group` (in any of the groups listed), `form` (`inspection`, `copy`), `residency` "
    "(`resident`, `nonresident`, `unknown`), and yes/no tests "
    + ", ".join(f"`{name}`" for name in BOOL_FACTS) + ". Tag tests: `tags_all`, `tags_any`, "
    "`tags_none`. An empty list matches nothing. Only a plain `release` rule may use `tags_none`, "
    "except with the KRS 61.168(5) tags (" + ", ".join(f"`{t}`" for t in sorted(OPENING_TAGS))
    + "), so that adding a protective tag can never weaken a decision. A citation of KRS "
    "61.168(4) or (5) without its paragraph letter is an error unless the rule is flagged for "
    "counsel (KRS 61.880(1) wants the specific exception).",
    "",
]

FACTS_TABLE = [
    ("requester_type", "required; one of the requester types below"),
    ("form", "required; `inspection` or `copy`"),
    ("received_on", "required; YYYY-MM-DD, the agency's date of receipt"),
    ("residency", "`resident`, `nonresident` or `unknown` (default); the older `ky_resident` "
     "yes/no/null is read as the same"),
    ("parent_of_depicted", "the requester's claim, at intake, that their child is shown "
     "(`parent_guardian` only); counts only with `relationship_confirmed`"),
    ("relationship_confirmed", "the custodian confirmed the claimed relationship (parent or "
     "guardian of a child shown, victim, personal representative) from a document"),
    ("custodial_parent", "the confirmed parent has legal custody (KRS 620.050)"),
    ("attorney_affidavit", "the attorney signed the KRS 61.169 affidavit "
     "(`attorney_for_depicted` only)"),
    ("person_tested", "the custodian confirmed the requester is the person whose sobriety test "
     "is recorded (KRS 189A.100(2)(b); `depicted_adult` / `depicted_juvenile` only)"),
    ("juvenile_tried_as_adult", "the juvenile offender shown is indicted and arraigned for trial "
     "as an adult in this case (KRS 635.120)"),
    ("articulated_harm", "the custodian's concrete harm of premature release (KRS 61.878(1)(h), "
     "Shively 2024); text, printed in the denial; `harm_articulated` tests that it is written"),
    ("recorded_by_sro", "always yes in this system (default yes)"),
    ("tags", "the recording's evidence tags (default none)"),
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
    if test.residency is not None:
        parts.append(f"residency is {_words(test.residency) or 'nothing'}")
    for name in BOOL_FACTS:
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
        "their redactions, warnings, actions and sign-off flags. When no rule with an effect "
        "matches, the request is denied by default (`default-deny`, reason `no_rule`). The answer "
        "is due 5 business days after receipt, skipping weekends and Kentucky state holidays "
        "(KRS 61.880(1)). Where each statute and Attorney General decision was confirmed, and "
        "how the decision reports to the letters, is in `policies/SOURCES.md`.",
        "",
        "Effects, strongest first: " + ", ".join(
            f"`{e}` ({EFFECT_MEANINGS[e]})" for e in EFFECTS) + ". "
        "A rule with effect `none` decides nothing; it only adds sign-off, warnings, actions or "
        "redactions. A redacted release, or viewing offered on a copy request, is a partial "
        "denial: its letter lists each withheld part with its exception, as a denial does.",
        "",
        "Rules marked **counsel** rest on an assumption about the law written below them; a "
        "lawyer must confirm or correct it. Rules marked **P** are the agency's own policy (the "
        "seeds), not law; **shall** marks a rule that cuts into a statutory \"shall\".",
        "",
        "## Rules",
        "",
        "| id | title | when | effect | redact | sign-off | counsel | basis | citation |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rule_set.rules:
        basis = "**P**" if r.basis == "policy" else "law"
        basis += " **shall**" if r.meets_shall else ""
        out.append(
            f"| `{r.id}` | {_cell(r.title)} | {_cell(describe(r.when))} | `{r.effect}` | "
            f"{_words(r.redact)} | {'yes' if r.requires_legal_signoff else ''} | "
            f"{'**counsel**' if r.needs_counsel_review else ''} | {basis} | {_cell(r.citation)} |"
        )
    out += ["", "## What each rule says", ""]
    for r in rule_set.rules:
        basis = "agency policy (P)" if r.basis == "policy" else "law"
        out += [f"### `{r.id}`: {r.title}", "",
                f"*{' '.join(r.citation.split())}* (file `{rule_set.sources.get(r.id, '?')}`; "
                f"{basis})", "",
                " ".join(r.explanation.split()), ""]
        for action in r.actions:
            out += [f"> Action `{action}`: {ACTION_TEXTS[action]['text']}", ""]
        for warning in r.warnings:
            out += [f"> Warning `{warning.code}`: {' '.join(warning.text.split())}", "",
                    f"> In plain words: {' '.join(warning.plain.split())}", ""]
        if r.meets_shall:
            out += [f"**Meets a statutory \"shall\".** {' '.join(r.meets_shall.split())}", ""]
        if r.assumption:
            out += [f"**Needs counsel review.** Assumption: {' '.join(r.assumption.split())}", ""]
    out += HOW_TO_WRITE
    out += ["## Request facts", "", "| fact | meaning |", "|---|---|"]
    out += [f"| `{name}` | {_cell(meaning)} |" for name, meaning in FACTS_TABLE]
    out += ["", "## Requester types", "", "| requester_type | meaning |", "|---|---|"]
    out += [f"| `{name}` | {_cell(meaning)} |" for name, meaning in REQUESTER_MEANINGS.items()]
    out += ["", "## Requester groups", "", "| group | meaning | a requester belongs when any of |",
            "|---|---|---|"]
    for name, group in rule_set.groups.items():
        alternatives = " **or** ".join("; ".join(describe_facts(t)) for t in group.any_of)
        out.append(f"| `{name}` | {_cell(group.title)} | {_cell(alternatives)} |")
    out += ["", "## Evidence tags", "",
            "Tags marked **opens** take the recording out of the KRS 61.168(4) elections "
            "(KRS 61.168(5)); every other tag only ever makes a decision stronger.", "",
            "| tag | meaning |", "|---|---|"]
    out += [f"| `{tag}`{' **opens**' if tag in OPENING_TAGS else ''} | {_cell(meaning)} |"
            for tag, meaning in TAG_MEANINGS.items()]
    out += ["", "## Redactions", "", "| redact | what is removed |", "|---|---|"]
    out += [f"| `{name}` | {_cell(meaning)} |" for name, meaning in REDACTIONS.items()]
    out += ["", "## Actions", "", "| action | citation | what the custodian does | done when |",
            "|---|---|---|---|"]
    out += [f"| `{name}` | {_cell(t['citation'])} | {_cell(t['text'])} | {_cell(t['done_when'])} |"
            for name, t in ACTION_TEXTS.items()]
    out += ["", "## What the requester is told", "",
            "| effect | on an inspection request | on a copy request |", "|---|---|---|"]
    out += [f"| `{e}` | {_cell(EFFECT_PLAIN[e]['inspection'])} | {_cell(EFFECT_PLAIN[e]['copy'])} |"
            for e in EFFECTS]
    return "\n".join(out) + "\n"


def generate(rules_path: Path | None = None) -> str:
    """RULES.md text for the rule files under `rules_path` (the shipped rules when None)."""
    return render(load_rules(rules_path))
