"""The `faceunlock` command: one subcommand per job, each in its own module.

Command modules import heavy libraries (torch, onnxruntime) only inside their `run`
functions, so `faceunlock --help` is instant and the ONNX runtime path never loads torch.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from faceunlock.unlock.commands import register

# the modules that register a subcommand (`add_parser`)
COMMAND_MODULES = [
    "faceunlock.enroll.cli",
    "faceunlock.unlock.commands.users",
    "faceunlock.unlock.commands.verify",
    "faceunlock.unlock.commands.unlock_loop",
    "faceunlock.unlock.commands.demo",
    "faceunlock.export.cli",
    "faceunlock.unlock.commands.evaluate",
    "faceunlock.unlock.commands.bench",
    "faceunlock.unlock.commands.info",
    "faceunlock.unlock.commands.config",
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand whose module is present."""
    parser = argparse.ArgumentParser(
        prog="faceunlock",
        description="On-device face unlock: enrol your face, unlock with a webcam, export to ONNX.",
    )
    parser.add_argument("--home", help=HOME_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register(sub, COMMAND_MODULES)
    for each in all_parsers(parser):
        each.formatter_class = HelpFormatter
        if each is not parser:  # `--home DIR` after the command means the same as before it
            each.add_argument("--home", default=argparse.SUPPRESS, help=HOME_HELP)
    return parser


HOME_HELP = (
    "data directory (profiles, key, config, lockout state); default: $FACEUNLOCK_HOME if "
    "set, else the platform's user data directory (`faceunlock info` prints it)"
)


def all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """`parser` and every parser of its subcommands, at any depth, each once (aliases such
    as `enrol` share their command's parser)."""
    found: list[argparse.ArgumentParser] = []
    todo = [parser]
    while todo:
        current = todo.pop()
        if any(current is seen for seen in found):
            continue
        found.append(current)
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
    return found


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help, with each option's default shown (unless its help already names
    it, or it has none) and the line breaks of descriptions and epilogs kept."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or any(action.default is none for none in (None, False, argparse.SUPPRESS))
            or not action.option_strings
        ):
            return text
        return text + " (default: %(default)s)"

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import re
        import textwrap

        lines = []
        for line in text.splitlines():
            hanging = "    " if re.match(r"\S+: ", line) else ""  # "KEY: meaning" lines
            words = " ".join(line.split())
            lines.append(
                textwrap.fill(
                    words, width, initial_indent=indent, subsequent_indent=indent + hanging
                )
            )
        return "\n".join(lines)


def show_library_logs() -> None:
    """faceunlock's library modules log (progress, notes, warnings); the CLI shows them on
    stderr as plain lines."""
    logger = logging.getLogger("faceunlock")
    if not any(isinstance(h, _StderrLines) for h in logger.handlers):
        logger.addHandler(_StderrLines())
    logger.setLevel(logging.INFO)


class _StderrLines(logging.Handler):
    """Log records as plain lines on the current sys.stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(record.getMessage() + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging must never break the command
            self.handleError(record)


def quiet_native_logs() -> None:
    """Keep OpenCV's and FFmpeg's own log lines (moov atom not found, V4L2 warnings...) off
    the terminal: faceunlock's one-line errors say what went wrong. FACEUNLOCK_DEBUG=1
    keeps them."""
    if os.environ.get("FACEUNLOCK_DEBUG"):
        return
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")  # read when cv2 is imported
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # read when a video is opened
    cv2 = sys.modules.get("cv2")
    if cv2 is not None:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def unknown_command(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """A message naming the closest command when argv's command is not one (else None)."""
    import difflib

    commands: list[str] = []
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        commands += list(action.choices)
    words = iter(argv)
    for word in words:
        if word == "--home":
            next(words, None)
            continue
        if word.startswith("-"):
            return None  # -h, --home=DIR, ...: argparse handles it
        if word in commands:
            return None
        close = difflib.get_close_matches(word, commands, n=1, cutoff=0.6)
        hint = f"; did you mean `faceunlock {close[0]}`?" if close else ""
        return f"unknown command {word!r}{hint} (commands: {', '.join(sorted(commands))})"
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (2 for any error a user can act on)."""
    from faceunlock.unlock.errors import FaceUnlockError

    quiet_native_logs()
    show_library_logs()
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    unknown = unknown_command(parser, argv)
    if unknown is not None:
        print(f"faceunlock: error: {unknown}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from faceunlock.unlock.paths import writable_by_others

    for folder in writable_by_others(args.home):
        print(
            f"faceunlock: warning: {folder} can be written by other users (mode "
            f"{folder.stat().st_mode & 0o777:o}): they could replace profiles or reset the "
            f"lockout; run `chmod 700 {folder}`",
            file=sys.stderr,
        )
    try:
        return int(args.func(args) or 0)
    except FaceUnlockError as exc:
        print(f"faceunlock: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("faceunlock: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except MemoryError:
        print("faceunlock: error: out of memory; use smaller images", file=sys.stderr)
        return 2
    except Exception as exc:  # last resort: one line, not a traceback
        if os.environ.get("FACEUNLOCK_DEBUG"):
            raise
        print(
            f"faceunlock: error: {type(exc).__name__}: {exc} "
            "(set FACEUNLOCK_DEBUG=1 for a traceback and please report it)",
            file=sys.stderr,
        )
        return 2


def run_subcommand(command: str) -> None:
    """Entry for `python -m faceunlock.enroll` / `python -m faceunlock.export`: `faceunlock
    COMMAND ARGS...`."""
    sys.exit(main([command, *sys.argv[1:]]))
