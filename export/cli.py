"""`faceunlock export`: the user's unlock network and the detector as ONNX for phones."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from unlock.errors import FaceUnlockError

OPSET_RANGE = (13, 20)


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "export",
        help="export the unlock network and detector to ONNX (and .ort) for phones",
        description=(
            "Write unlock.onnx (face crop -> p, the user's enrolled faces baked in), "
            "embedder.onnx, the MTCNN detector's pnet/rnet/onet.onnx, their .ort copies "
            "and manifest.json into DIR. With --models-only, write just the networks the "
            "onnx runtime needs (default: into its cache)."
        ),
    )
    parser.add_argument("--user", help="enrolled user whose unlock network to export")
    parser.add_argument("--out", help="output directory")
    parser.add_argument(
        "--int8",
        action="store_true",
        help="static int8 (QDQ, per-channel) unlock and embedder networks",
    )
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (13-20, default 17)")
    parser.add_argument(
        "--models-only",
        action="store_true",
        help="only the detector and embedder for `--runtime onnx` (no user needed)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export; prints the manifest summary (or the runtime model paths)."""
    if not OPSET_RANGE[0] <= args.opset <= OPSET_RANGE[1]:
        raise FaceUnlockError(f"--opset must be {OPSET_RANGE[0]}..{OPSET_RANGE[1]}")
    if args.models_only:
        from export.onnx_export import export_runtime_models
        from unlock.ort_pipeline import runtime_model_dir, weights_checksum

        out = Path(args.out) if args.out else runtime_model_dir(weights_checksum())
        paths = export_runtime_models(out, int8=args.int8, opset=args.opset)
        for path in paths.values():
            print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")
        return 0
    if not args.user or not args.out:
        raise FaceUnlockError("export needs --user NAME and --out DIR (or --models-only)")
    from enroll.profile import ProfileStore
    from export.bundle import export_bundle

    profile = ProfileStore().load(args.user)
    manifest = export_bundle(profile, Path(args.out), int8=args.int8, opset=args.opset)
    summary = {
        "out": str(Path(args.out).resolve()),
        "files": {
            name: f"{info['bytes'] / 1e6:.1f} MB" for name, info in manifest["files"].items()
        },
        "parity": manifest["parity"],
    }
    json.dump(summary, sys.stdout, indent=1)
    print()
    return 0
