"""`faceunlock eval lfw`: LFW verification accuracy over the folds of a pairs file (the
official pairs.txt has 10)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    """Embed LFW's pair images, print accuracy and TAR; optionally JSON and a ROC plot."""
    from faceunlock.unlock.lab.lfw import pair_files, plot_roc, verification
    from faceunlock.unlock.pipeline.runtime import pipeline_from_args

    data = Path(args.data)
    pairs = Path(args.pairs) if args.pairs else None
    pair_files(data, pairs)  # a missing folder or image fails before any network loads
    pipeline = pipeline_from_args(args)
    result, scores, same = verification(
        data, pipeline, pairs, args.flip, args.margin_px, progress=not args.quiet
    )
    result["runtime"] = args.runtime
    print(
        f"LFW {result['folds']}-fold accuracy  {result['accuracy'] * 100:.2f} % +- "
        f"{result['accuracy_std'] * 100:.2f}"
    )
    print(f"TAR at FAR 1e-3       {result['tar_at_far_1e-3'] * 100:.2f} %")
    print(
        f"pairs {result['pairs']}, images {result['images']}, no face found in {result['no_face']}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.plot:
        plot_roc(args.plot, scores, same, result["accuracy"])
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `eval lfw`."""
    from faceunlock.unlock.pipeline.runtime import add_runtime_argument

    p = sub.add_parser(
        "lfw",
        help="LFW verification accuracy over the folds of pairs.txt (officially 10)",
        description="DIR: the deep-funneled LFW (images/<Name>/*.jpg and pairs.txt) from the "
        "LFW download page of the University of Massachusetts, Amherst.",
    )
    p.add_argument("--data", required=True, help="LFW folder (with images/ and pairs.txt)")
    p.add_argument("--pairs", help="pairs file (default DATA/pairs.txt)")
    p.add_argument("--json", help="write the figures as JSON here")
    p.add_argument("--plot", help="write a ROC curve PNG here")
    p.add_argument(
        "--flip",
        action="store_true",
        help="also embed the mirrored crop and add the two (the product embeds one crop)",
    )
    p.add_argument(
        "--margin-px",
        type=float,
        default=None,
        help="grow boxes by this many pixels per side instead of the product's 13 %% of "
        "the box (the original FaceNet LFW recipe is 16)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_runtime_argument(p)
    p.set_defaults(func=run)
