"""bwc-custody: verifiable custody and rule-based release of SRO body-camera footage."""

__version__ = "0.1.0"
