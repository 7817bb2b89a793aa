"""The records-request workflow as a declared table: states, transitions, who may move them."""
