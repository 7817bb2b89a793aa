"""The records-request workflow as a declared table (states, transitions, who may move them),
and what a legal reviewer must have watched of a file to sign it off (coverage)."""
