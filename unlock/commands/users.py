"""`faceunlock users list`, `faceunlock users show NAME` and `faceunlock users remove NAME`."""

from __future__ import annotations

import argparse
import json

import numpy as np


def run_list(args: argparse.Namespace) -> int:
    """Print the enrolled users (one JSON line each with --json)."""
    from faceunlock.enroll.profile import ProfileStore
    from faceunlock.unlock.errors import FaceUnlockError

    store = ProfileStore(args.home)
    names = store.names()
    if not names and not args.json:
        print(f"no users enrolled (data directory {store.home})")
        return 0
    for name in names:
        try:
            profile = store.load(name)
        except (FaceUnlockError, OSError) as exc:
            print(
                json.dumps({"name": name, "error": str(exc)})
                if args.json
                else f"{name:24} unreadable: {exc}"
            )
            continue
        row = {
            "name": profile.name,
            "embeddings": int(len(profile.embeddings)),
            "adaptive": int(len(profile.adaptive)),
            "appearances": profile.appearances,
            "created": profile.created,
            "updated": profile.updated or profile.created,
            "source": profile.source,
        }
        if args.json:
            print(json.dumps(row))
        else:
            print(
                f"{row['name']:24} {row['embeddings']:4d} embeddings "
                f"(+{row['adaptive']} adaptive)  {row['appearances']} appearance(s)  "
                f"enrolled {row['created'][:19]}"
            )
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print one user's profile: the enrolled core (per appearance) and the adaptive part."""
    from faceunlock.enroll.profile import ProfileStore
    from faceunlock.models.unlock_head.scorer import pairwise_cosine
    from faceunlock.unlock.app.adaptive import MAX_ADAPTIVE

    profile = ProfileStore(args.home).load(args.name)
    appearances = profile.extra.get("appearances", [])
    adaptive_log = profile.extra.get("adaptive_log", [])
    report = {
        "name": profile.name,
        "core": {
            "embeddings": int(len(profile.embeddings)),
            "pairwise_cosine": round(pairwise_cosine(profile.embeddings), 4),
            "appearances": [
                {k: a.get(k) for k in ("date", "source", "kind", "frames")} for a in appearances
            ],
        },
        "adaptive": {
            "embeddings": int(len(profile.adaptive)),
            "limit": MAX_ADAPTIVE,
            "added": adaptive_log,
            "cosine_to_core": [
                round(float(np.max(profile.embeddings @ e)), 4) for e in profile.adaptive
            ],
        },
    }
    if args.json:
        print(json.dumps(report))
        return 0
    core = report["core"]
    print(f"{profile.name}")
    print(
        f"  core      {core['embeddings']} embeddings (mean pairwise cosine "
        f"{core['pairwise_cosine']:.2f}); never changes after enrolment"
    )
    for a in core["appearances"]:
        print(
            f"            {str(a['date'])[:19]}  {a['frames']} frame(s) from "
            f"{a['kind']} {a['source']}"
        )
    ada = report["adaptive"]
    print(f"  adaptive  {ada['embeddings']} of at most {ada['limit']} (confident unlocks)")
    for entry, cos in zip(adaptive_log[-len(profile.adaptive) :], ada["cosine_to_core"]):
        print(f"            {entry['date'][:19]}  p {entry['p']:.2f}, cosine to core {cos:.2f}")
    return 0


def confirmed(question: str) -> bool:
    """Ask `question [y/N]` on the terminal; True only for y or yes. Without a terminal
    (stdin not a tty) a FaceUnlockError says to pass -y."""
    import sys

    from faceunlock.unlock.errors import FaceUnlockError

    if not sys.stdin or not sys.stdin.isatty():
        raise FaceUnlockError(f"{question[:-1]}: no terminal to ask; pass -y to confirm")
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def run_remove(args: argparse.Namespace) -> int:
    """Delete a user's profile and the face snapshots saved at enrolment, after asking."""
    from faceunlock.enroll.profile import ProfileStore
    from faceunlock.unlock.errors import FaceUnlockError

    store = ProfileStore(args.home)
    if not store.exists(args.name):
        raise FaceUnlockError(
            f"unknown user {args.name!r}; `faceunlock users list` shows who is enrolled"
        )
    if not args.yes and not confirmed(f"Remove {args.name}?"):
        print(f"not removed: {args.name}")
        return 1
    store.remove(args.name)
    print(f"removed {args.name}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `users list|remove`."""
    p = sub.add_parser("users", help="list, show or remove enrolled users")
    users = p.add_subparsers(dest="users_command", metavar="ACTION")
    p.set_defaults(func=run_list, json=False)  # a bare `faceunlock users` lists them
    lst = users.add_parser("list", help="list enrolled users")
    lst.add_argument("--json", action="store_true", help="one JSON line per user")
    lst.set_defaults(func=run_list)
    show = users.add_parser("show", help="one user's enrolled core and adaptive entries")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="one JSON object")
    show.set_defaults(func=run_show)
    rm = users.add_parser("remove", help="remove a user's profile and saved face snapshots")
    rm.add_argument("name")
    rm.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    rm.set_defaults(func=run_remove)
