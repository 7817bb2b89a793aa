"""The docking-station agent: uploads footage from a dock directory, never losing a file."""
