"""`python -m enroll ...` is `faceunlock enroll ...`."""

from faceunlock.unlock.cli import run_subcommand

run_subcommand("enroll")
