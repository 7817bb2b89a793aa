"""Tag domain errors, each with a stable code."""

from bwc_custody.errors import BwcError
from bwc_custody.reasons import ReasonRequired

__all__ = ["ReasonRequired"]  # kept importable from here: tag removals raise it


class UnknownTag(BwcError):
    """A tag name outside the policy vocabulary (policies/vocabulary.py)."""

    code = "unknown_tag"
    status = 422


class TagNotFound(BwcError):
    code = "tag_not_found"
    status = 404


class KnownAdultNotFound(BwcError):
    code = "known_adult_not_found"
    status = 404


class InvalidReferencePhoto(BwcError):
    """A reference photo must show exactly one clear face."""

    code = "invalid_reference_photo"
    status = 422


class NotificationNotFound(BwcError):
    code = "notification_not_found"
    status = 404


class NotificationAlreadyDone(BwcError):
    code = "notification_already_done"
    status = 409


class AnalysisFailed(BwcError):
    """The video could not be analysed (no video stream, undecodable)."""

    code = "analysis_failed"
    status = 422


class AnalysisNotFound(BwcError):
    code = "analysis_not_found"
    status = 404
