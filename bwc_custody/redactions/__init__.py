"""Redacted derivatives of evidence: requested, made by a worker, stored encrypted, logged."""
