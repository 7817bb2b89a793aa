"""The written reason some decisions require (removing a tag, closing a request, ...)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField

from bwc_custody.errors import BwcError

MIN_REASON = 8  # characters


class ReasonRequired(BwcError):
    """The action needs a written reason of at least MIN_REASON characters."""

    code = "reason_required"
    status = 422


class WrittenReason(BaseModel):
    """Why (required, written; checked by `require_reason`)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = PField(default="", max_length=4000)


# Optional in the route so that a missing body is answered by ReasonRequired, like a short
# reason, rather than by a generic validation error.
ReasonBody = Annotated[WrittenReason | None, Body()]


def require_reason(reason: str | None, what: str) -> str:
    """The reason stripped, or ReasonRequired naming `what` needs it."""
    text = (reason or "").strip()
    if len(text) < MIN_REASON:
        raise ReasonRequired(f"{what} needs a written reason (at least {MIN_REASON} characters)",
                             min_length=MIN_REASON)
    return text
