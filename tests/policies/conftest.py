"""Fixtures for the policy engine tests: the shipped rules and a facts factory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policies.engine import RULES_DIR, load_rules
from policies.models import Facts, RuleSet

FactsFactory = Callable[..., Facts]


def build_facts(
    requester_type: str,
    *,
    form: str = "copy",
    residency: str = "resident",
    parent: bool = False,
    confirmed: bool = False,
    custodial: bool = False,
    affidavit: bool = False,
    person_tested: bool = False,
    tried_as_adult: bool = False,
    harm: str | None = None,
    tags: tuple[str, ...] | list[str] = (),
    sro: bool = True,
    received_on: dt.date = dt.date(2025, 3, 3),
) -> Facts:
    """Facts for a request, with the defaults most scenarios share (a resident asking a copy)."""
    return Facts(
        requester_type=requester_type,
        form=form,
        residency=residency,
        parent_of_depicted=parent,
        relationship_confirmed=confirmed,
        custodial_parent=custodial,
        attorney_affidavit=affidavit,
        person_tested=person_tested,
        juvenile_tried_as_adult=tried_as_adult,
        articulated_harm=harm,
        tags=frozenset(tags),
        recorded_by_sro=sro,
        received_on=received_on,
    )


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    """The shipped rule set."""
    return load_rules()


@pytest.fixture
def make_facts() -> FactsFactory:
    """Build Facts with keyword defaults (resident, copy, no tags, recorded by an SRO)."""
    return build_facts


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped rule files, to break on purpose."""
    target = tmp_path / "rules"
    target.mkdir()
    for file in RULES_DIR.glob("*.yaml"):
        (target / file.name).write_text(file.read_text(encoding="utf-8"), encoding="utf-8")
    return target


@pytest.fixture
def write_facts(tmp_path: Path) -> Callable[[Any], Path]:
    """Write a facts JSON file (given as an object or as raw text) and return its path."""
    import json

    def write(data: Any) -> Path:
        path = tmp_path / "facts.json"
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
        return path

    return write
