"""Errors of the policy engine, rendered by the common `BwcError` handler."""

from __future__ import annotations

from bwc_custody.errors import BwcError


class InvalidFacts(BwcError):
    """The request facts are malformed: an unknown key or value, or a bad date."""

    code = "invalid_facts"
    status = 422


class InvalidRules(BwcError):
    """The rule files cannot be loaded: a syntax error, unknown field, tag or group."""

    code = "invalid_rules"
    status = 500


class InvalidExtension(BwcError):
    """An Attorney General extension names a day KRS 61.880(2)(b) does not allow."""

    code = "invalid_ag_extension"
    status = 422


class InvalidDelayNotice(BwcError):
    """A KRS 61.872(5) delay notice lacks the place, time, earliest date or a detailed reason."""

    code = "invalid_delay_notice"
    status = 422
