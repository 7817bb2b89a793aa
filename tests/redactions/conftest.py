"""Clips from real photos and ingest, shared with the tagging tests."""

from tests.tags.conftest import ingest_clip, make_clip

__all__ = ["ingest_clip", "make_clip"]
