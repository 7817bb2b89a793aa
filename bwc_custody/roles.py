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


# What the console calls each role, and what holding it lets a person do (the admin pages'
# checkboxes): the identifiers with underscores swapped would read "legal reviewer" but
# also "dock" for a docking station.
ROLE_LABELS: dict[str, str] = {
    "custodian": "records custodian",
    "legal_reviewer": "legal reviewer",
    "auditor": "auditor",
    "officer": "school resource officer",
    "admin": "administrator",
    "requester": "outside requester",
    "dock": "docking station",
}
ROLE_DUTIES: dict[str, str] = {
    "custodian": "requests, recordings, tags, redaction, release",
    "legal_reviewer": "signs off redacted files or sends them back",
    "auditor": "reads everything, and the custody log",
    "officer": "uploads footage, reads its own recordings",
    "admin": "these pages (people and devices)",
    "requester": "files requests and downloads releases through the API",
    "dock": "uploads footage with an API token (add it as a device)",
}
