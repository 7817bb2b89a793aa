"""Records requests on evidence, and the policy decision of each, kept current."""
