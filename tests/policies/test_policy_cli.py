"""`bwc policy explain | lint | docs`, through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from policies.cli import app
from policies.docs import RULES_MD, generate

runner = CliRunner()

GOOD_FACTS = {
    "requester_type": "parent_guardian",
    "ky_resident": True,
    "parent_of_depicted": True,
    "relationship_confirmed": True,
    "form": "inspection",
    "received_on": "2025-11-26",
    "tags": ["juvenile", "multi_student", "investigation_open"],
}


def test_explain_prints_the_decision(write_facts) -> None:
    result = runner.invoke(app, ["explain", "--facts", str(write_facts(GOOD_FACTS))])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["effect"] == "deny_during_investigation"
    assert out["requires_legal_signoff"] is True
    assert out["deadline"] == "2025-12-05"
    ids = {r["id"] for r in out["rules"]}
    assert {"multi-student-investigation-parents", "sro-legal-review"} <= ids
    assert all(r["citation"] for r in out["rules"])
    assert "non_subject_students" in out["redact"]
    assert out["needs_counsel_review"] is True


def test_explain_school_copy_warns_about_ferpa(write_facts) -> None:
    facts = {"requester_type": "school_personnel", "ky_resident": True, "form": "copy",
             "received_on": "2025-03-03", "tags": ["school_campus"]}
    result = runner.invoke(app, ["explain", "--facts", str(write_facts(facts))])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["effect"] == "release"
    assert any("99.8" in w for w in out["warnings"])
    assert any("IV.H.b" in w for w in out["warnings"])


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        pytest.param({"colour": "red"}, "unknown field 'colour'", id="unknown-key"),
        pytest.param({"requester_type": "mayor"}, "unknown requester_type 'mayor'",
                     id="unknown-requester"),
        pytest.param({"tags": ["juvenile", "ufo"]}, "unknown tag 'ufo'", id="unknown-tag"),
        pytest.param({"form": "email"}, "unknown form 'email'", id="unknown-form"),
        pytest.param({"received_on": "2025-02-30"}, "not a real calendar date", id="bad-date"),
        pytest.param({"received_on": "26/11/2025"}, "YYYY-MM-DD", id="bad-date-format"),
        pytest.param({"ky_resident": "yes"}, "ky_resident", id="bool-as-string"),
    ],
)
def test_explain_refuses_bad_facts(write_facts, change, fragment) -> None:
    result = runner.invoke(app, ["explain", "--facts", str(write_facts({**GOOD_FACTS, **change}))])
    assert result.exit_code == 2
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "invalid_facts"
    assert fragment in error["message"]
    assert result.stdout == ""


def test_explain_refuses_missing_fields_and_bad_json(write_facts) -> None:
    result = runner.invoke(app, ["explain", "--facts", str(write_facts({"form": "copy"}))])
    assert result.exit_code == 2
    message = json.loads(result.stderr)["error"]["message"]
    assert "requester_type: required field is missing" in message
    result = runner.invoke(app, ["explain", "--facts", str(write_facts("{not json"))])
    assert result.exit_code == 2
    assert "not valid JSON" in json.loads(result.stderr)["error"]["message"]


def test_lint_is_clean_on_the_shipped_rules() -> None:
    result = runner.invoke(app, ["lint"])
    assert result.exit_code == 0, result.output
    assert "0 errors, 0 warnings" in result.stdout


def _append(rules_dir: Path, text: str) -> None:
    (rules_dir / "99_broken.yaml").write_text("rules:\n" + text, encoding="utf-8")


RULE_HEAD = """  - id: {id}
    title: A broken rule
    citation: KRS 61.878(1)(a)
    explanation: Broken on purpose.
"""


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param("    effect: deny\n    when: {tags_any: [juvenile]}\n    colour: red\n",
                     "unknown field 'colour'", id="unknown-field"),
        pytest.param("    effect: deny\n    when: {tags_any: [ufo]}\n", "unknown tag 'ufo'",
                     id="unknown-tag"),
        pytest.param("    effect: deny\n    when: {requester_group: [martians]}\n",
                     "unknown requester_group 'martians'", id="unknown-group"),
        pytest.param("    effect: maybe\n    when: {tags_any: [juvenile]}\n",
                     "unknown effect 'maybe'", id="unknown-effect"),
        pytest.param("    effect: release_redacted\n    redact: [faces]\n"
                     "    when: {tags_any: [juvenile]}\n", "unknown redaction 'faces'",
                     id="unknown-redaction"),
        pytest.param("    effect: deny\n    when: {tags_all: [nudity], tags_none: [nudity]}\n",
                     "unreachable", id="unreachable-tags"),
        pytest.param("    effect: deny\n    when: {requester_type: [public], "
                     "requester_type_not: [public]}\n", "unreachable", id="unreachable-requester"),
        pytest.param("    effect: deny\n    when: {requester_group: [open_records], "
                     "residency: [resident]}\n", "contradictory", id="contradicts-shipped-rule"),
        pytest.param("    effect: release\n    redact: [juveniles]\n"
                     "    when: {tags_any: [juvenile]}\n", "contradictory",
                     id="release-with-redact"),
        pytest.param("    effect: view_only\n    when: {tags_none: [juvenile]}\n", "tags_none",
                     id="non-monotone"),
        pytest.param("    effect: deny\n    when: {tags_any: [juvenile]}\n"
                     "    needs_counsel_review: true\n", "write the assumption down",
                     id="counsel-without-assumption"),
        pytest.param("    effect: deny\n    citation: KRS 61.168(4)\n"
                     "    when: {tags_any: [nudity]}\n", "paragraph letter", id="bare-61-168-4"),
        pytest.param("    effect: residency_statement\n    when: {residency: [unknown]}\n",
                     "without the residency_statement action", id="residency-without-action"),
        pytest.param("    effect: none\n    actions: [pray]\n    when: {tags_any: [nudity]}\n",
                     "unknown action 'pray'", id="unknown-action"),
        pytest.param("    effect: deny\n    when: {tags_any: [nudity], tags_none: [juvenile]}\n",
                     "tags_none", id="non-monotone-deny"),
        pytest.param("    effect: none\n    warnings: [{code: x, text: legal words}]\n"
                     "    when: {tags_any: [nudity]}\n", "plain", id="warning-without-plain"),
        pytest.param("    effect: none\n    redact: [whole_heads]\n"
                     "    when: {tags_any: [nudity]}\n", "whole_heads without the people",
                     id="whole-heads-without-people"),
        pytest.param("    effect: none\n    redact: [residence_interior, whole_heads]\n"
                     "    when: {tags_any: [private_residence_interior]}\n",
                     "whole_heads without the people", id="whole-heads-with-a-place"),
    ],
)
def test_lint_reports_broken_rules(rules_copy: Path, body: str, fragment: str) -> None:
    _append(rules_copy, RULE_HEAD.format(id="broken-rule") + body)
    result = runner.invoke(app, ["lint", "--rules", str(rules_copy)])
    assert result.exit_code == 1, result.output
    assert fragment in result.stderr
    assert "99_broken.yaml" in result.stderr or "broken-rule" in result.stderr


def test_lint_reports_duplicate_ids(rules_copy: Path) -> None:
    head = RULE_HEAD.format(id="open-records-resident")
    _append(rules_copy, head + "    effect: deny\n    when: {tags_any: [nudity]}\n")
    result = runner.invoke(app, ["lint", "--rules", str(rules_copy)])
    assert result.exit_code == 1
    assert "already used" in result.stderr


def test_lint_warns_of_gaps(tmp_path: Path) -> None:
    (tmp_path / "only.yaml").write_text("rules:\n" + RULE_HEAD.format(id="prosecutors")
                                        + "    effect: release\n"
                                        "    when: {requester_type: [prosecutor]}\n")
    result = runner.invoke(app, ["lint", "--rules", str(tmp_path)])
    assert result.exit_code == 0
    assert "fall to the default deny" in result.stdout


def test_explain_with_broken_rules_fails_cleanly(rules_copy: Path, write_facts) -> None:
    _append(rules_copy, RULE_HEAD.format(id="x-rule") + "    effect: deny\n    when: {zz: 1}\n")
    result = runner.invoke(app, ["explain", "--facts", str(write_facts(GOOD_FACTS)),
                                 "--rules", str(rules_copy)])
    assert result.exit_code == 2
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "invalid_rules"
    assert any("unknown field 'zz'" in p for p in error["details"]["problems"])


def test_rules_md_is_up_to_date() -> None:
    assert RULES_MD.read_text(encoding="utf-8") == generate(), "run `bwc policy docs`"


def test_docs_writes_and_checks(tmp_path: Path) -> None:
    out = tmp_path / "RULES.md"
    assert runner.invoke(app, ["docs", "--out", str(out), "--check"]).exit_code == 1
    assert runner.invoke(app, ["docs", "--out", str(out)]).exit_code == 0
    assert runner.invoke(app, ["docs", "--out", str(out), "--check"]).exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert "| `multi-student-investigation-parents` |" in text
    assert "Needs counsel review" in text
