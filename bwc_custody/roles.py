"""The roles a user may hold (below every domain: settings name them too)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """The roles a user may hold; one person may hold several."""

    officer = "officer"
    dock = "dock"
    custodian = "custodian"
    legal_reviewer = "legal_reviewer"
    auditor = "auditor"
    admin = "admin"
    requester = "requester"
