"""`faceunlock export`: the user's unlock network and the detector as ONNX for phones."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from faceunlock.unlock.errors import FaceUnlockError

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
        "--force", action="store_true", help="replace the contents of a non-empty --out DIR"
    )
    parser.add_argument(
        "--web",
        action="store_true",
        help="also write DIR/web: a page that unlocks in a (phone) browser with "
        "onnxruntime-web (serve it with `python -m http.server` in DIR/web)",
    )
    parser.add_argument(
        "--models-only",
        action="store_true",
        help="only the detector and embedder for `--runtime onnx` (no user needed)",
    )
    parser.set_defaults(func=run)


def checked_out_dir(out: Path, data_home: Path, force: bool) -> Path:
    """The bundle folder, or a FaceUnlockError: not inside the data dir, not a file, and
    not a non-empty folder unless `force`."""
    out = out.expanduser().resolve()
    home = data_home.expanduser().resolve()
    if out == home or home in out.parents:
        raise FaceUnlockError(f"--out {out} is inside the data directory {home}; choose another")
    if out.exists() and not out.is_dir():
        raise FaceUnlockError(f"--out {out} is a file; give a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise FaceUnlockError(
            f"--out {out} is not empty; use --force to replace its contents, or another folder"
        )
    return out


def write_bundle_atomically(out: Path, build) -> dict:
    """Build the bundle in a private temporary folder beside `out`, then move it into place.

    `build(folder)` writes the files and returns the manifest. Files end 0600 in a 0700
    folder: the bundle holds a biometric template. A failed build leaves `out` untouched.
    """
    import os
    import shutil
    import tempfile

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".faceunlock-export-", dir=out.parent))  # 0700
    try:
        manifest = build(staging)
        for path in staging.rglob("*"):
            os.chmod(path, 0o700 if path.is_dir() else 0o600)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=".faceunlock-old-", dir=out.parent))
            os.rename(out, old / "bundle")
        os.rename(staging, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def file_size(size: int) -> str:
    """A file size for people: KB below 1 MB (so a 30 KB network is not "0.0 MB")."""
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} KB"


def _models_only(args: argparse.Namespace) -> int:
    """Write the onnx runtime's networks (default: into its cache) and seal them."""
    from faceunlock.models.facenet.graph_source import weights_checksum
    from faceunlock.unlock.pipeline.runtime_models import (
        export_runtime_models,
        runtime_model_dir,
        seal_if_enrolled,
    )

    out = Path(args.out) if args.out else runtime_model_dir(weights_checksum())
    paths = export_runtime_models(out, int8=args.int8, opset=args.opset)
    seal_if_enrolled(out, args.home)
    for path in paths.values():
        print(f"{path}  {file_size(path.stat().st_size)}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Export; prints the manifest summary (or the runtime model paths)."""
    if not OPSET_RANGE[0] <= args.opset <= OPSET_RANGE[1]:
        raise FaceUnlockError(f"--opset must be {OPSET_RANGE[0]}..{OPSET_RANGE[1]}")
    if args.models_only:
        return _models_only(args)
    if not args.user or not args.out:
        raise FaceUnlockError("export needs --user NAME and --out DIR (or --models-only)")
    from faceunlock.enroll.profile import ProfileStore
    from faceunlock.export.bundle import export_bundle
    from faceunlock.unlock.config import load_config

    config = load_config(args.home)
    store = ProfileStore(args.home)
    profile = store.load(args.user)
    out = checked_out_dir(Path(args.out), store.home, args.force)
    if args.web:
        from faceunlock.export.web import ort_web_dir

        ort_web_dir()  # before the long export: is onnxruntime-web installed?

    def build(folder: Path) -> dict:
        manifest = export_bundle(profile, folder, int8=args.int8, opset=args.opset, config=config)
        if args.web:
            from faceunlock.export.web import write_web

            write_web(folder)
        return manifest

    manifest = write_bundle_atomically(out, build)
    summary = {
        "out": str(out),
        "web": str(out / "web") if args.web else None,
        "files": {name: file_size(info["bytes"]) for name, info in manifest["files"].items()},
        "parity": manifest["parity"],
    }
    json.dump(summary, sys.stdout, indent=1)
    print()
    return 0
