"""Encrypted objects: what is stored where, under which wrapped key, with which hash."""
