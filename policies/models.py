"""Shapes of the policy engine: request facts, rules as data, and the decision."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    model_validator,
)

from policies.vocabulary import (
    ACTIONS,
    EFFECTS,
    FORMS,
    REDACTIONS,
    REQUESTER_TYPES,
    RESIDENCIES,
    RULE_EFFECTS,
    TAGS,
)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
_WARNING_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_HARM_CHARS = 4000


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
ResidencyName = Annotated[str, AfterValidator(_one_of("residency", RESIDENCIES))]
EffectName = Annotated[str, AfterValidator(_one_of("effect", EFFECTS))]
RuleEffectName = Annotated[str, AfterValidator(_one_of("effect", RULE_EFFECTS))]
RedactionName = Annotated[str, AfterValidator(_one_of("redaction", REDACTIONS))]
ActionName = Annotated[str, AfterValidator(_one_of("action", ACTIONS))]
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]

# The yes/no request facts a rule may test, in the order the docs and the lint list them.
BOOL_FACTS: Final[tuple[str, ...]] = (
    "parent_of_depicted", "relationship_confirmed", "custodial_parent", "attorney_affidavit",
    "person_tested", "juvenile_tried_as_adult", "harm_articulated", "recorded_by_sro",
)


class Facts(BaseModel):
    """What the engine knows about a request: who asks, in what form, and the recording's tags.

    Every fact a custodian must check defaults to the answer that grants nothing: a claim
    counts once confirmed, residency is unknown until stated.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    requester_type: RequesterName
    # KRS 61.872(2)(a): open-records rights belong to Kentucky residents (61.870(10)). `unknown`
    # asks the requester for the statement of residency instead of denying.
    residency: ResidencyName = "unknown"
    # The requester's claim, self-declared at intake, that their child is shown. Only read
    # together with requester_type `parent_guardian`, and only counts with relationship_confirmed.
    parent_of_depicted: StrictBool = False
    # The custodian has confirmed the relationship the requester claims: parent or guardian of a
    # child shown, victim, personal representative (a document seen, not the requester's word).
    relationship_confirmed: StrictBool = False
    # A confirmed parent who has legal custody of the child (KRS 620.050 names the custodial
    # parent for abuse reports). Only read with a confirmed `parent_guardian`.
    custodial_parent: StrictBool = False
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
    # KRS 189A.100(2)(b): the custodian confirmed the requester is the person whose sobriety test
    # is recorded. Only read with `depicted_adult` / `depicted_juvenile`.
    person_tested: StrictBool = False
    # KRS 635.120: the juvenile offender shown has been indicted and arraigned for trial as an
    # adult in Circuit Court (or the District Court decided to try the child as an adult), and
    # the recording is of the present case. The custodian confirms it from the court record.
    juvenile_tried_as_adult: StrictBool = False
    # KRS 61.878(1)(h), Shively (Ky. 2024): the concrete, record-specific harm the custodian
    # says premature release would do to the pending action. Printed in the denial.
    articulated_harm: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _compat_ky_resident(cls, data: Any) -> Any:
        """Accept the older `ky_resident` yes/no (None: unknown) as `residency`."""
        if not isinstance(data, dict) or "ky_resident" not in data:
            return data
        data = dict(data)
        value = data.pop("ky_resident")
        if value is not None and not isinstance(value, bool):
            raise ValueError(f"ky_resident must be true, false or null, got {value!r}")
        mapped = "unknown" if value is None else "resident" if value else "nonresident"
        if "residency" in data and data["residency"] != mapped:
            raise ValueError(f"ky_resident={value!r} contradicts residency={data['residency']!r}")
        data["residency"] = mapped
        return data

    @model_validator(mode="after")
    def _harm_text(self) -> Facts:
        if self.articulated_harm is not None and len(self.articulated_harm) > MAX_HARM_CHARS:
            raise ValueError(f"articulated_harm is longer than {MAX_HARM_CHARS} characters")
        return self

    @property
    def ky_resident(self) -> bool | None:
        """The residency as the older yes/no field (None when unknown)."""
        return None if self.residency == "unknown" else self.residency == "resident"

    @property
    def harm_articulated(self) -> bool:
        """True when the custodian has written a harm (blank text does not count)."""
        return bool(self.articulated_harm and self.articulated_harm.strip())


class FactTest(BaseModel):
    """Tests over the request facts other than tags; every test given must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requester_type: tuple[RequesterName, ...] | None = None
    requester_type_not: tuple[RequesterName, ...] | None = None
    form: tuple[FormName, ...] | None = None
    residency: tuple[ResidencyName, ...] | None = None
    parent_of_depicted: StrictBool | None = None
    relationship_confirmed: StrictBool | None = None
    custodial_parent: StrictBool | None = None
    attorney_affidavit: StrictBool | None = None
    person_tested: StrictBool | None = None
    juvenile_tried_as_adult: StrictBool | None = None
    harm_articulated: StrictBool | None = None
    recorded_by_sro: StrictBool | None = None

    def holds(self, facts: Facts) -> bool:
        """True when every test given holds for `facts`."""
        if self.requester_type is not None and facts.requester_type not in self.requester_type:
            return False
        if self.requester_type_not is not None and facts.requester_type in self.requester_type_not:
            return False
        if self.form is not None and facts.form not in self.form:
            return False
        if self.residency is not None and facts.residency not in self.residency:
            return False
        for name in BOOL_FACTS:
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


class RuleWarning(BaseModel):
    """A duty a rule reminds the custodian of: the legal text and the same in plain words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    text: str
    plain: str

    @model_validator(mode="after")
    def _filled(self) -> RuleWarning:
        if not _WARNING_CODE.match(self.code):
            raise ValueError(f"warning code {self.code!r} must be lower-case words joined by '_'")
        if not self.text.strip() or not self.plain.strip():
            raise ValueError("a warning needs both `text` and `plain`")
        return self


class Rule(BaseModel):
    """One rule as a lawyer writes it: a condition, an effect and the words that go into letters.

    `basis` is `law` for a rule a statute or decision requires and `policy` (P) for the agency's
    own policy (the seeds); `meets_shall` names the statutory "shall" a policy rule cuts into.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    citation: str
    when: Condition
    effect: RuleEffectName
    requires_legal_signoff: StrictBool = False
    redact: tuple[RedactionName, ...] = ()
    actions: tuple[ActionName, ...] = ()
    warnings: tuple[RuleWarning, ...] = ()
    explanation: str
    basis: Literal["law", "policy"] = "law"
    meets_shall: str | None = None
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
        if self.meets_shall is not None and not self.meets_shall.strip():
            raise ValueError("meets_shall must name the statute and its words, or be left out")
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
    basis: Literal["law", "policy"] = "law"
    meets_shall: str | None = None
    # What a rule that decides nothing adds, so the console's badge can say it; a decision
    # stored before these were recorded reads them as nothing added.
    requires_legal_signoff: bool = False
    actions: list[str] = Field(default_factory=list)


class WithheldPart(BaseModel):
    """One thing the answer withholds, with the exception for it: a line of a (partial) denial.

    `what` is `recording` (the whole recording), `copy` (a copy refused, viewing offered) or
    `redaction` (the part named by `redaction`). `harm` is the custodian's articulated harm when
    the exception is KRS 61.878(1)(h).
    """

    what: Literal["recording", "copy", "redaction"]
    redaction: str | None = None
    description: str
    rules: list[str]
    citations: list[str]
    explanations: list[str]
    harm: str | None = None
    needs_counsel_review: bool


class RequiredAction(BaseModel):
    """Something the custodian must do before the answer goes out."""

    code: str
    citation: str
    text: str
    rules: list[str]


class Notice(BaseModel):
    """A rule's warning: the legal text and the same in plain words, for the console."""

    code: str
    rule: str
    text: str
    plain: str


class ResidencyRequest(BaseModel):
    """The KRS 61.872(2)(a) request for a statement of residency, and how the clock runs."""

    citation: str
    send_by: dt.date
    text: str
    clock: str


class Decision(BaseModel):
    """The engine's answer: the strongest matching effect and everything it rests on.

    `letter` says which written response it is: `grant`, `partial_denial` (a redacted release,
    or viewing offered on a copy request), `denial`, or `residency_statement`. `withheld` lists
    each part withheld with its exception, for the (partial) denial letter (KRS 61.880(1);
    25-ORD-072); `released` says in plain words what is released and how.
    """

    effect: EffectName
    reason: Literal["rule", "no_rule"]
    letter: Literal["grant", "partial_denial", "denial", "residency_statement"]
    requires_legal_signoff: bool
    needs_counsel_review: bool
    rules: list[MatchedRule]
    redact: list[str]
    # which matched rules ask for each item of `redact` (the rule ids), so that a requirement
    # checked later (whole heads, at submission for review) names the rule and its citation
    redaction_rules: dict[str, list[str]] = Field(default_factory=dict)
    deadline: dt.date
    explanations: list[str]
    warnings: list[str]
    notices: list[Notice] = Field(default_factory=list)
    released: str
    withheld: list[WithheldPart] = Field(default_factory=list)
    required_actions: list[RequiredAction] = Field(default_factory=list)
    residency_request: ResidencyRequest | None = None
    articulated_harm: str | None = None
