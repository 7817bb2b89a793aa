"""Object storage (write-once, two backends), envelope encryption and key management.

Pure library code: no database, no web framework. The `bwc_custody.vault` domain records
what is stored here.
"""
