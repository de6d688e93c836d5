"""`faceunlock eval ...`: benchmarks on real face data sets."""

from __future__ import annotations

import argparse
import importlib

EVAL_MODULES = [
    "unlock.commands.eval_lfw",
    "unlock.commands.eval_unlock",
    "unlock.commands.eval_liveness",
    "unlock.commands.eval_live",
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `eval` and its benchmarks."""
    p = sub.add_parser("eval", help="benchmarks: LFW verification, unlock FAR/FRR")
    evals = p.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    for name in EVAL_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.add_parser(evals)
