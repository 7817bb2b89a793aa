"""Legal review and release of one exact redacted file per records request."""
