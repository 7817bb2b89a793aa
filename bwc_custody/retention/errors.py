"""Retention errors, each with a stable code."""

from bwc_custody.errors import BwcError


class NotDue(BwcError):
    """Something still keeps the recording (its period, a hold, a pending request)."""

    code = "retention_not_due"
    status = 409


class HoldNotFound(BwcError):
    code = "hold_not_found"
    status = 404


class HoldLifted(BwcError):
    """The hold was lifted already; a lifted hold is history, not undone."""

    code = "hold_already_lifted"
    status = 409


class CaseNotFound(BwcError):
    """No recording carries this case number (a typo would otherwise close nothing)."""

    code = "case_not_found"
    status = 404


class CaseAlreadyClosed(BwcError):
    code = "case_already_closed"
    status = 409
