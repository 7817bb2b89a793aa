"""`python -m bwc_custody` runs the `bwc` command line."""

from bwc_custody.cli import main

main()
