"""Provenance anyone can check offline: C2PA manifests on released files (signed by the
agency's own certificate authority) and RFC 3161 timestamps of custody checkpoints.

A library like `storage/`: imports no domain package of `bwc_custody` (only its error
base); the domain services call in, never the other way.
"""
