"""Imports every table so SQLModel.metadata (and Alembic) sees the whole schema."""

from bwc_custody.appeals.models import RecordsAppeal
from bwc_custody.auth.models import ApiToken, User, UserMfa
from bwc_custody.custody.models import Checkpoint, CustodyEntry
from bwc_custody.evidence.models import Evidence
from bwc_custody.jobs.models import Job
from bwc_custody.redactions.models import Derivative, SpeechAnalysis
from bwc_custody.releases.models import ReviewCoverage, ReviewRound
from bwc_custody.requests.models import (
    RecordsRequest,
    RequestDecision,
    RequestLetter,
    RequestRecording,
)
from bwc_custody.retention.models import CaseClosure, RetentionHold
from bwc_custody.tags.models import (
    AnalysisResult,
    KnownAdult,
    Notification,
    RecordingFacts,
    Tag,
)
from bwc_custody.uploads.models import Upload
from bwc_custody.vault.models import PendingObject, StoredObject

__all__ = ["AnalysisResult", "ApiToken", "CaseClosure", "Checkpoint", "CustodyEntry",
           "Derivative", "Evidence", "Job", "KnownAdult", "Notification", "PendingObject",
           "RecordingFacts", "RecordsAppeal", "RecordsRequest", "RequestDecision",
           "RequestLetter", "RequestRecording", "RetentionHold", "ReviewCoverage",
           "ReviewRound", "SpeechAnalysis",
           "StoredObject", "Tag", "Upload", "User", "UserMfa"]
