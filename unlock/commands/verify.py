"""`faceunlock verify --user NAME IMAGE...`: one JSON line per image.

Each line: `file`, `face` (box [x1, y1, x2, y2] of the largest face, or null), `p` (the
unlock network's probability to 2 decimals, or null without a face) and `unlocked`
(p >= THRESHOLD, 0.5). Exit code 0 when every image unlocks, 1 when any does not, 2 on an error
(unknown user, unreadable image: that image's line carries an `error` field).

`verify` is an unlock attempt like any other: each image with a face counts toward the
lockout until it unlocks, and nothing is scored while face unlock is locked out. p is
rounded down to 2 decimals so that the command is not an exact oracle for an attacker who
edits a photo step by step until it passes.
"""

from __future__ import annotations

import argparse
import json
import math

P_DECIMALS = 2


def verify_image(pipeline, scorer, profile, path: str, lockout=None) -> dict:
    """The verdict for one image file as a dict (the JSON line).

    With a `lockout`, an image with a face is a failed attempt unless it unlocks.
    """
    from faceunlock.unlock.errors import FaceUnlockError

    row: dict = {"file": path, "face": None, "p": None, "unlocked": False}
    if lockout is not None:
        lockout.refuse_if_locked_out()
    try:
        sample = pipeline.process(path, policy="largest")
    except FaceUnlockError as exc:
        row["error"] = str(exc)
        return row
    if sample is not None:
        if lockout is not None:
            lockout.record_failure()  # until it unlocks, as in the live loop
        p = float(scorer.probability(sample.embedding[None], profile)[0])
        row["face"] = [round(float(v), 1) for v in sample.face.box]
        # rounded down: the printed p is >= 0.5 exactly when the image unlocks
        row["p"] = math.floor(p * 10**P_DECIMALS) / 10**P_DECIMALS
        row["unlocked"] = bool(p >= scorer.threshold)
        if row["unlocked"] and lockout is not None:
            lockout.record_success()
    return row


def run(args: argparse.Namespace) -> int:
    """Print one JSON line per image; 0 if all unlock, 1 if any does not, 2 on error."""
    from faceunlock.enroll.profile import ProfileStore, require_compatible
    from faceunlock.models.unlock_head.scorer import UnlockScorer
    from faceunlock.unlock.app.lockout import Lockout
    from faceunlock.unlock.config import load_config
    from faceunlock.unlock.pipeline.runtime import pipeline_from_args

    profile = ProfileStore(args.home).load(args.user)
    config = load_config(args.home)
    lockout = Lockout(args.home, config.lockout_attempts, config.lockout_s)
    lockout.refuse_if_locked_out()  # before loading any network
    scorer = UnlockScorer()
    pipeline = pipeline_from_args(args)
    require_compatible(profile, pipeline.weights_sha256, scorer.network_sha256)
    rows = []
    for path in args.images:
        rows.append(verify_image(pipeline, scorer, profile, path, lockout))
        print(json.dumps(rows[-1]), flush=True)
    if any("error" in row for row in rows):
        return 2
    return 0 if all(row["unlocked"] for row in rows) else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `verify`."""
    from faceunlock.unlock.pipeline.runtime import add_runtime_argument

    p = sub.add_parser("verify", help="check photos against an enrolled user (JSON lines)")
    p.add_argument("--user", required=True, help="enrolled user name")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files to check")
    add_runtime_argument(p)
    p.set_defaults(func=run)
