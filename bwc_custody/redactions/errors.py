"""Redaction-request errors, each with a stable code."""

from bwc_custody.errors import BwcError


class DerivativeNotFound(BwcError):
    code = "derivative_not_found"
    status = 404


class InvalidRedactionRequest(BwcError):
    """A redaction request names something that does not exist or is out of range."""

    code = "invalid_redaction_request"
    status = 422


class SpeechSearchNotFound(BwcError):
    code = "speech_search_not_found"
    status = 404


class NotARedactedCopy(BwcError):
    """Only a redacted copy made by a redaction job is submitted: the server signs it for
    that request (a signed copy was signed for another submission)."""

    code = "not_a_redacted_copy"
    status = 409
