"""Evidence: originals ingested from docks and the command line."""
