"""The custody log's entry hash recomputed from an entry as the API and `bwc log` show it,
the way an outside party would (README, "Custody log"), without the server's code."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any


def recomputed_entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of every field but `entry_hash`, `at` in UTC."""
    at = datetime.fromisoformat(entry["at"])
    assert at.utcoffset() == timedelta(0), f"entry time without UTC offset: {entry['at']}"
    body = {k: v for k, v in entry.items() if k != "entry_hash"} | {"at": at.isoformat()}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
