"""Records requests, triage, legal sign-off and release."""
