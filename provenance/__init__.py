"""Provenance anyone can check offline: C2PA manifests on released files (signed by the
agency's own certificate authority) and RFC 3161 timestamps of custody checkpoints.

Imports no `bwc_custody` package: the custody service calls in, never the other way.
"""
