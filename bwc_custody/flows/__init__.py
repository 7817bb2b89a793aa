"""Flows: what spans domains, above every domain service.

A domain's service calls only services below it (auth < custody, vault < evidence < jobs,
uploads < tags < redactions < requests < releases, appeals < retention). When a change in
one domain must make another react, the reaction is a flow: a plain function here that
calls the services in order, in the caller's transaction (no event registry a process
could forget to fill, no post-commit hook for a custody change):

- `ingest`: a new recording gets its officer tags, its 3-day notices and its person count;
- `tagging`: a tag change (custodian, officer, the person count) decides every open
  request on the recording again;
- `requests`: deciding a request (and voiding a sign-off the new decision contradicts),
  closing one with its review round, and the views joining a request with its review
  rounds, release and appeals;
- `jobs`: the one table of job kinds to their handlers, and the handlers;
- `redactions`: a redaction request whose heads mode follows the decisions on the recording
  (on while one asks for whole heads);
- `studio`: the redaction studio (the people counted, the original and a copy to compare,
  followed boxes, and the render that queues the chosen copy), each step logged;
- `auth`: logons and user administration, each step in the custody log.

The routes and commands (`api.py`, `cli.py`) call flows or services; `pyproject.toml`'s
import-linter contracts keep the direction.
"""
