"""The closed vocabularies an integrator must use, as enums in the OpenAPI schema.

The values are the policy engine's (`policies.vocabulary`) and the workflow's
(`review.workflow`). Fields typed with these stay plain strings when validated: an unknown
value is refused by the engine or the tag service with its own stable code (`invalid_facts`,
`unknown_tag`) naming the allowed values, as before; the schema only says what they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import WithJsonSchema

from policies.vocabulary import EFFECTS, FORMS, REQUESTER_TYPES, TAGS
from review.workflow import STATES


def _closed(values: Sequence[str], description: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": list(values), "description": description})


RequesterTypeName = Annotated[str, _closed(
    REQUESTER_TYPES, "Who asks (policies/RULES.md says what each type may receive).")]
FormName = Annotated[str, _closed(FORMS, "Inspection at the agency, or a copy.")]
TagName = Annotated[str, _closed(TAGS, "A tag of the policy vocabulary.")]
EffectName = Annotated[str, _closed(EFFECTS, "What the decision lets out, strongest first.")]
StateName = Annotated[str, _closed(STATES, "Where the request stands in the workflow.")]
