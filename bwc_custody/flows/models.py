"""Read shapes that join several domains (the request as staff and requesters see it)."""

from __future__ import annotations

from bwc_custody.appeals.models import AppealRead
from bwc_custody.releases.models import ReleaseRead, RoundRead
from bwc_custody.requests.models import RequestRead


class RequestView(RequestRead):
    """A request with, besides its decision and written denial, the file in review or
    approved (staff only), what was released once it is, and any appeal of the answer
    (staff only)."""

    review: RoundRead | None = None
    release: ReleaseRead | None = None
    appeals: list[AppealRead] = []
