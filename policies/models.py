"""Shapes of the policy engine: request facts, rules as data, and the decision."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictBool,
    model_validator,
)

from policies.vocabulary import EFFECTS, FORMS, REDACTIONS, REQUESTER_TYPES, RULE_EFFECTS, TAGS

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")


def _one_of(kind: str, allowed: Iterable[str]) -> Callable[[str], str]:
    """A validator that accepts only the words in `allowed`, naming them when it refuses."""
    known = tuple(allowed)

    def check(value: str) -> str:
        if value not in known:
            raise ValueError(f"unknown {kind} {value!r}; expected one of: {', '.join(known)}")
        return value

    return check


def _iso_date(value: Any) -> Any:
    """Accept a date, or a string written exactly YYYY-MM-DD (no timestamps, no numbers)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a real calendar date") from exc
    raise ValueError(f"expected a date written YYYY-MM-DD, got {value!r}")


TagName = Annotated[str, AfterValidator(_one_of("tag", TAGS))]
RequesterName = Annotated[str, AfterValidator(_one_of("requester_type", REQUESTER_TYPES))]
FormName = Annotated[str, AfterValidator(_one_of("form", FORMS))]
EffectName = Annotated[str, AfterValidator(_one_of("effect", EFFECTS))]
RuleEffectName = Annotated[str, AfterValidator(_one_of("effect", RULE_EFFECTS))]
RedactionName = Annotated[str, AfterValidator(_one_of("redaction", REDACTIONS))]
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


class Facts(BaseModel):
    """What the engine knows about a request: who asks, in what form, and the recording's tags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requester_type: RequesterName
    # KRS 61.872(2)(a): open-records rights belong to Kentucky residents (61.870(10)).
    # Unknown residency is treated as non-resident, the more restrictive reading.
    ky_resident: StrictBool = False
    # Only read together with requester_type `parent_guardian`.
    parent_of_depicted: StrictBool = False
    form: FormName
    received_on: IsoDate
    tags: frozenset[TagName] = frozenset()
    # Every recording in this system is made by an SRO (policy 000 IV.H.e); kept as a fact so
    # the sign-off rule is written as data rather than assumed in code.
    recorded_by_sro: StrictBool = True
    # KRS 61.169: a Kentucky-licensed attorney of a directly involved person signed the affidavit
    # limiting use to court, administrative or insurance matters. Only read for
    # requester_type `attorney_for_depicted`.
    attorney_affidavit: StrictBool = False


class FactTest(BaseModel):
    """Tests over the request facts other than tags; every test given must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requester_type: tuple[RequesterName, ...] | None = None
    requester_type_not: tuple[RequesterName, ...] | None = None
    form: tuple[FormName, ...] | None = None
    ky_resident: StrictBool | None = None
    parent_of_depicted: StrictBool | None = None
    attorney_affidavit: StrictBool | None = None
    recorded_by_sro: StrictBool | None = None

    def holds(self, facts: Facts) -> bool:
        """True when every test given holds for `facts`."""
        if self.requester_type is not None and facts.requester_type not in self.requester_type:
            return False
        if self.requester_type_not is not None and facts.requester_type in self.requester_type_not:
            return False
        if self.form is not None and facts.form not in self.form:
            return False
        for name in ("ky_resident", "parent_of_depicted", "attorney_affidavit", "recorded_by_sro"):
            wanted = getattr(self, name)
            if wanted is not None and getattr(facts, name) != wanted:
                return False
        return True


class Condition(FactTest):
    """A rule's `when`: fact tests, requester groups and tag tests, all of which must hold.

    `tags_all`: every tag listed is present; `tags_any`: at least one is present; `tags_none`:
    none is present; `requester_group`: the requester belongs to at least one group listed.
    An empty list matches nothing.
    """

    requester_group: tuple[str, ...] | None = None
    tags_all: tuple[TagName, ...] | None = None
    tags_any: tuple[TagName, ...] | None = None
    tags_none: tuple[TagName, ...] | None = None

    def tags_hold(self, tags: frozenset[str]) -> bool:
        """True when the tag tests hold for `tags`."""
        if self.tags_all is not None and (not self.tags_all or not tags.issuperset(self.tags_all)):
            return False
        if self.tags_any is not None and tags.isdisjoint(self.tags_any):
            return False
        if self.tags_none is not None and (
            not self.tags_none or not tags.isdisjoint(self.tags_none)
        ):
            return False
        return True


class Group(BaseModel):
    """A named set of requesters: one who passes any of the alternatives belongs to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    any_of: tuple[FactTest, ...]


class Rule(BaseModel):
    """One rule as a lawyer writes it: a condition, an effect and the words that go into letters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    citation: str
    when: Condition
    effect: RuleEffectName
    requires_legal_signoff: StrictBool = False
    redact: tuple[RedactionName, ...] = ()
    warnings: tuple[str, ...] = ()
    explanation: str
    needs_counsel_review: StrictBool = False
    assumption: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if not _RULE_ID.match(self.id):
            raise ValueError(f"rule id {self.id!r} must be lower-case words joined by '-'")
        for name in ("title", "citation", "explanation"):
            if not getattr(self, name).strip():
                raise ValueError(f"{name} must not be empty")
        if self.needs_counsel_review and not (self.assumption and self.assumption.strip()):
            raise ValueError("needs_counsel_review is set: write the assumption down")
        if self.assumption and not self.needs_counsel_review:
            raise ValueError("an assumption is written: set needs_counsel_review: true")
        return self


@dataclass(frozen=True)
class RuleSet:
    """The loaded rules in file order, the requester groups they name, and where they came from."""

    rules: tuple[Rule, ...]
    groups: dict[str, Group]
    sources: dict[str, str] = field(default_factory=dict)  # rule id -> file name


class MatchedRule(BaseModel):
    """A rule that matched the request, as the decision and the letters cite it."""

    id: str
    title: str
    citation: str
    effect: str
    decisive: bool
    needs_counsel_review: bool
    assumption: str | None = None


class Decision(BaseModel):
    """The engine's answer: the strongest matching effect and everything it rests on."""

    effect: EffectName
    reason: Literal["rule", "no_rule"]
    requires_legal_signoff: bool
    needs_counsel_review: bool
    rules: list[MatchedRule]
    redact: list[str]
    deadline: dt.date
    explanations: list[str]
    warnings: list[str]
