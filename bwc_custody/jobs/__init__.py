"""The job queue: long work (redaction, analysis) queued in the database and run by workers."""
