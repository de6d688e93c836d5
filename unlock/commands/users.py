"""`faceunlock users list` and `faceunlock users remove NAME`."""

from __future__ import annotations

import argparse
import json


def run_list(args: argparse.Namespace) -> int:
    """Print the enrolled users (one JSON line each with --json)."""
    from enroll.profile import ProfileStore

    store = ProfileStore()
    names = store.names()
    if not names and not args.json:
        print(f"no users enrolled (data directory {store.home})")
        return 0
    for name in names:
        profile = store.load(name)
        row = {
            "name": profile.name,
            "embeddings": int(len(profile.embeddings)),
            "appearances": profile.appearances,
            "created": profile.created,
            "updated": profile.updated or profile.created,
            "source": profile.source,
        }
        if args.json:
            print(json.dumps(row))
        else:
            print(
                f"{row['name']:24} {row['embeddings']:4d} embeddings  "
                f"{row['appearances']} appearance(s)  enrolled {row['created'][:19]}"
            )
    return 0


def run_remove(args: argparse.Namespace) -> int:
    """Delete a user's profile and the face snapshots saved at enrolment."""
    from enroll.profile import ProfileStore

    ProfileStore().remove(args.name)
    print(f"removed {args.name}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `users list|remove`."""
    p = sub.add_parser("users", help="list or remove enrolled users")
    users = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    lst = users.add_parser("list", help="list enrolled users")
    lst.add_argument("--json", action="store_true", help="one JSON line per user")
    lst.set_defaults(func=run_list)
    rm = users.add_parser("remove", help="remove a user's profile and saved face snapshots")
    rm.add_argument("name")
    rm.set_defaults(func=run_remove)
