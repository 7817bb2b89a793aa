"""Records-request errors, each with a stable code."""

from bwc_custody.errors import BwcError


class RequestNotFound(BwcError):
    code = "request_not_found"
    status = 404


class RecordingNotInRequest(BwcError):
    """The request does not name that recording."""

    code = "recording_not_in_request"
    status = 404


class ReceivedOnInFuture(BwcError):
    code = "received_on_in_future"
    status = 422
