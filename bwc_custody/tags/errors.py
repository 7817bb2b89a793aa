"""Tag domain errors, each with a stable code."""

from bwc_custody.errors import BwcError
from bwc_custody.reasons import ReasonRequired
from redaction.errors import InvalidReferencePhoto

# Kept importable from here: tag removals raise ReasonRequired, and known-adult enrolment
# refuses photos with the redactor's InvalidReferencePhoto (one rule for reference photos).
__all__ = ["InvalidReferencePhoto", "ReasonRequired"]


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


class UnknownPerson(BwcError):
    """A person id that no person count of this recording found (ids are
    `<analysis id>-<person number>`: `bwc people EVIDENCE_ID` lists them)."""

    code = "unknown_person"
    status = 422


class PeopleNotStored(BwcError):
    """The person count predates stored faces: it has no boxes or thumbnails to choose from
    (run the person count again)."""

    code = "people_not_stored"
    status = 409
