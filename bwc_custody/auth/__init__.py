"""Identities, roles, tokens and the default-deny access rules."""
