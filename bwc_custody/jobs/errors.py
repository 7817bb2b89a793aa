"""Job queue errors, each with a stable code."""

from bwc_custody.errors import BwcError


class JobNotFound(BwcError):
    code = "job_not_found"
    status = 404


class UnknownJobKind(BwcError):
    """A job kind no worker can run."""

    code = "unknown_job_kind"
    status = 422


class JobNotCancellable(BwcError):
    """Only a queued job can be cancelled (a running one is finished or left to fail)."""

    code = "job_not_cancellable"
    status = 409


class LeaseLost(BwcError):
    """The worker's lease on a job ran out and another worker may hold it: stop, publish
    nothing."""

    code = "lease_lost"
    status = 409


class JobFailed(BwcError):
    """A job run in the foreground (CLI) failed; details carry the job's own error."""

    code = "job_failed"
    status = 500
