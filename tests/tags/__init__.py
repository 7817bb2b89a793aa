"""Tests of tags, known adults, notifications and the person-count analysis."""
