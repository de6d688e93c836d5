"""`python -m export ...` is `faceunlock export ...`."""

from faceunlock.unlock.cli import run_subcommand

run_subcommand("export")
