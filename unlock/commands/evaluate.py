"""`faceunlock eval ...`: benchmarks on real face data sets."""

from __future__ import annotations

import argparse

from faceunlock.unlock.commands import register

EVAL_MODULES = [
    "faceunlock.unlock.commands.eval_lfw",
    "faceunlock.unlock.commands.eval_unlock",
    "faceunlock.unlock.commands.eval_liveness",
    "faceunlock.unlock.commands.eval_live",
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `eval` and its benchmarks."""
    p = sub.add_parser("eval", help="benchmarks: LFW verification, unlock FAR/FRR")
    evals = p.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    register(evals, EVAL_MODULES)
