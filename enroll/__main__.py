"""`python -m enroll ...` is `faceunlock enroll ...`."""

from unlock.cli import run_subcommand

run_subcommand("enroll")
