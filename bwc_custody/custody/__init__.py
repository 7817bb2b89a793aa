"""The tamper-evident custody log."""
