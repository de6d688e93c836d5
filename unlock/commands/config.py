"""`faceunlock config`: show, set and reset the unlock loop's options (a TOML file)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict


def _show(home, as_json: bool) -> int:
    from faceunlock.unlock.config import OPTION_HELP, config_path, load_config, read_values

    path = config_path(home)
    cfg = asdict(load_config(home))
    set_here = read_values(home)
    if as_json:
        print(json.dumps({"path": str(path), "exists": path.is_file(), "config": cfg}, indent=2))
        return 0
    state = "" if path.is_file() else " (not created yet: all defaults)"
    print(f"config file  {path}{state}")
    for key, value in cfg.items():
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        origin = "[set]" if key in set_here else "[default]"
        print(f"  {key:17s} {shown:7s} {origin:9s}  {OPTION_HELP[key]}")
    return 0


def _write(home, values: dict) -> None:
    from faceunlock.models.files import write_private_file
    from faceunlock.unlock.config import config_path, to_toml

    path = config_path(home)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private_file(path, to_toml(values).encode())


def run(args: argparse.Namespace) -> int:
    """Show the effective config, or set / reset options."""
    from faceunlock.unlock.config import config_path, parse_value, read_values, validate
    from faceunlock.unlock.errors import FaceUnlockError

    home = args.home
    action = args.action or "show"
    if action == "show":
        return _show(home, args.json)
    if action == "path":
        print(config_path(home))
        return 0
    if action == "set":
        values = dict(read_values(home))
        value = parse_value(args.key, args.value)
        values[args.key] = value
        try:
            validate(values)
        except FaceUnlockError as exc:
            raise FaceUnlockError(f"not set: {exc}") from None
        _write(home, values)
        shown = str(value).lower() if isinstance(value, bool) else value
        print(f"{args.key} = {shown} (in {config_path(home)})")
        return 0
    # reset
    path = config_path(home)
    if not args.keys:
        if path.is_file():
            path.unlink()
        print(f"config reset to defaults ({path} removed)")
        return 0
    values = dict(read_values(home))
    for key in args.keys:
        parse_value(key, "0")  # unknown options are errors
        values.pop(key, None)
    validate(values)
    _write(home, values)
    print(f"reset to default: {', '.join(args.keys)}")
    return 0


def keys_text() -> str:
    """The options, one a line: KEY: meaning (default value)."""
    from faceunlock.unlock.config import OPTION_HELP, Config

    defaults = asdict(Config())
    lines = ["KEY is one of:"]
    for key, meaning in OPTION_HELP.items():
        value = str(defaults[key]).lower() if isinstance(defaults[key], bool) else defaults[key]
        lines.append(f"{key}: {meaning} (default {value})")
    return "\n".join(lines)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `config` with its actions show, path, set, reset."""
    p = sub.add_parser(
        "config",
        help="show or change settings (k-of-n, timeouts, lockout, face size, liveness)",
        description="Settings live in config.toml in the data directory.",
    )
    p.add_argument("--json", action="store_true", help="show as JSON")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser("show", help="the effective settings and the file they come from")
    show.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="as JSON")
    actions.add_parser("path", help="print the config file's path")
    s = actions.add_parser(
        "set",
        help="set one option: config set KEY VALUE",
        description="Set one option in config.toml; `faceunlock config reset KEY` undoes it.",
        epilog=keys_text(),
    )
    s.add_argument("key", metavar="KEY")
    s.add_argument("value", metavar="VALUE")
    r = actions.add_parser("reset", help="back to defaults (all options, or the KEYs given)")
    r.add_argument("keys", nargs="*", metavar="KEY")
    p.set_defaults(func=run)
