"""Review and release errors, each with a stable code."""

from bwc_custody.errors import BwcError


class DecisionWithholds(BwcError):
    """The decision in force withholds the recording: there is nothing to review or release."""

    code = "decision_withholds"
    status = 409


class NotDecided(BwcError):
    """No recording is linked yet, so there is no decision to review a file against."""

    code = "request_not_decided"
    status = 409


class AnalysisPending(BwcError):
    """The person count has not run: juvenile and multi-student tags may be missing."""

    code = "analysis_pending"
    status = 409


class DerivativeMismatch(BwcError):
    """The file submitted was not made from the original of the recording asked for."""

    code = "derivative_mismatch"
    status = 409


class SeparationOfDuties(BwcError):
    """The person who submitted a file may not sign it off."""

    code = "separation_of_duties"
    status = 403


class NotViewed(BwcError):
    """A reviewer signs off only on a file they have watched since it was submitted."""

    code = "file_not_viewed"
    status = 409


class ApprovalInvalid(BwcError):
    """The approval on record is not one the server signed (edited in the database): nothing
    is released or handed out on it."""

    code = "approval_invalid"
    status = 409


class FixityFailed(BwcError):
    """The stored file no longer hashes to the SHA-256 that was signed off."""

    code = "fixity_failed"
    status = 409


class NotReleased(BwcError):
    """Nothing has been released on this request (yet)."""

    code = "not_released"
    status = 409


class InspectionOnly(BwcError):
    """The release is an inspection at the agency: no copy is handed out."""

    code = "inspection_only"
    status = 409


class DecisionAllows(BwcError):
    """The decision in force lets something out: it is reviewed and released, not denied."""

    code = "decision_allows"
    status = 409


class HeadsRequired(BwcError):
    """The decision in force asks for every whole head to be blurred (policies: `whole_heads`)
    and the copy submitted was made without the redactor's heads mode: a child hidden only by
    the face may still be known by hair, ears or the back of the head."""

    code = "heads_required"
    status = 409


class ActionRequired(BwcError):
    """The decision lists something the custodian must do before the answer goes out
    (confirm a relationship, write the harm, ask for the residency statement)."""

    code = "action_required"
    status = 409


class ResidencyStatementDue(BwcError):
    """The decision asks for the requester's statement of residency, not a denial."""

    code = "residency_statement_due"
    status = 409


class NotInReview(BwcError):
    """Coverage is reported on a file under review: this recording has none now."""

    code = "not_in_review"
    status = 409


class CoverageRangeInvalid(BwcError):
    """A played range the player reported is not one of the file: its end is not after its
    start, or it lies outside the file's length."""

    code = "coverage_range_invalid"
    status = 422


class CoverageImplausible(BwcError):
    """More was reported watched than the time since the reviewer began streaming the file
    allows: the report is refused, nothing of it counts."""

    code = "coverage_implausible"
    status = 409


class ReviewNotCovered(BwcError):
    """The reviewer has not watched the whole file and has not attested in writing why the
    rest need not be watched."""

    code = "review_not_covered"
    status = 409


class FlaggedNotCovered(BwcError):
    """A flagged (low-confidence) range of the file was not watched at normal speed: no
    attestation excuses that."""

    code = "flagged_not_covered"
    status = 409
