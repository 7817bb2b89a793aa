"""`bwc policy ...` commands."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bwc_custody.commands import fail
from bwc_custody.errors import BwcError
from policies.docs import RULES_MD, generate
from policies.engine import evaluate, load_rules, parse_facts
from policies.errors import InvalidFacts
from policies.lint import lint as lint_rules

app = typer.Typer(help="Release-policy engine: explain decisions, lint rule files.",
                  no_args_is_help=True)

RulesOption = typer.Option(None, "--rules",
                           help="Rule file or folder (default: the shipped rules).")


@app.command()
def explain(
    facts: Path = typer.Option(..., "--facts", help="JSON file with the request facts."),
    rules: Path | None = RulesOption,
) -> None:
    """Print the decision for the request described in FACTS as JSON."""
    try:
        try:
            data = json.loads(facts.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidFacts(f"cannot read facts file {facts}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise InvalidFacts(f"facts file {facts} is not valid JSON: {exc}") from exc
        decision = evaluate(parse_facts(data), load_rules(rules))
    except BwcError as exc:
        fail(exc)
    typer.echo(decision.model_dump_json(indent=2))


@app.command()
def lint(rules: Path | None = RulesOption) -> None:
    """Check the rule files; exit 1 on errors (unknown field or tag, unreachable, contradictory)."""
    findings = lint_rules(rules)
    for finding in findings:
        typer.echo(str(finding), err=finding.level == "error")
    errors = sum(f.level == "error" for f in findings)
    warnings = len(findings) - errors
    typer.echo(f"{errors} errors, {warnings} warnings")
    if errors:
        raise typer.Exit(code=1)


@app.command()
def docs(
    rules: Path | None = RulesOption,
    out: Path = typer.Option(RULES_MD, "--out", help="Where to write the rules table."),
    check: bool = typer.Option(False, "--check", help="Exit 1 if OUT is stale; write nothing."),
) -> None:
    """Regenerate RULES.md, the table of rules a lawyer reviews, from the rule files."""
    try:
        text = generate(rules)
    except BwcError as exc:
        fail(exc)
    if check:
        current = out.read_text(encoding="utf-8") if out.exists() else ""
        if current != text:
            typer.echo(f"{out} is stale: run `bwc policy docs`", err=True)
            raise typer.Exit(code=1)
        typer.echo(f"{out} is up to date")
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}")
