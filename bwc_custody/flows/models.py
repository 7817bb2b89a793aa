"""Read shapes that join several domains (the request as staff and requesters see it)."""

from __future__ import annotations

from bwc_custody.appeals.models import AppealRead
from bwc_custody.releases.models import ReleaseRead, RoundRead
from bwc_custody.requests.models import RecordingRead, RequestRead


class RecordingView(RecordingRead):
    """One recording of a request with, besides its decision, the file in review or
    approved (staff only) and what was released once it is."""

    review: RoundRead | None = None
    release: ReleaseRead | None = None
    # staff only: the round legal review sent back, while the recording waits on the
    # custodian again (a returned file must not look like a new one)
    returned: RoundRead | None = None


class RequestView(RequestRead):
    """A request with each of its recordings and any appeal of the answer (staff only)."""

    recordings: list[RecordingView] = []
    appeals: list[AppealRead] = []
