"""`python -m export ...` is `faceunlock export ...`."""

from unlock.cli import run_subcommand

run_subcommand("export")
