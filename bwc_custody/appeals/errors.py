"""Appeal errors, each with a stable code."""

from bwc_custody.errors import BwcError


class AppealNotFound(BwcError):
    code = "appeal_not_found"
    status = 404


class AppealAlreadyDecided(BwcError):
    """An appeal is decided once; a further appeal (to a court) is recorded as a new one."""

    code = "appeal_already_decided"
    status = 409


class AppealDateInvalid(BwcError):
    """A day in the future, or a decision dated before the appeal was filed."""

    code = "appeal_date_invalid"
    status = 422
