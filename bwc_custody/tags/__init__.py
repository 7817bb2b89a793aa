"""Evidence tags with provenance, known adults, notifications and person-count analysis."""
