"""The web console: pages for records custodians and legal reviewers over the same services."""
