"""The release-policy engine and its rule files."""
