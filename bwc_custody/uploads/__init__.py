"""Resumable uploads (tus 1.0: core, creation, checksum, termination)."""
