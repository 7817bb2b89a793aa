"""Records-request errors, each with a stable code."""

from bwc_custody.errors import BwcError


class RequestNotFound(BwcError):
    code = "request_not_found"
    status = 404


class RequestAlreadyLinked(BwcError):
    """A request names one recording; a different one is a new request."""

    code = "request_already_linked"
    status = 409


class ReceivedOnInFuture(BwcError):
    code = "received_on_in_future"
    status = 422
