"""Face detection, tracking, blurring, and the redaction/analysis worker."""
