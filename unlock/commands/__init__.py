"""One module per `faceunlock` subcommand; each exposes `add_parser(subparsers)`.

Commands are thin: they parse arguments, call the pipeline, the app or the lab, and print.
They never import each other.
"""

from __future__ import annotations

import argparse
import importlib


def register(sub: argparse._SubParsersAction, module_names: list[str]) -> None:
    """Let each command module that is present add its parser to `sub`."""
    for name in module_names:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.add_parser(sub)
