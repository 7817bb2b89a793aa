"""Clips from real photos and ingest, shared with the tagging tests."""

from tests.tags.conftest import make_clip

__all__ = ["make_clip"]
