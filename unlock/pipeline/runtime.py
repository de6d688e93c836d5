"""Choosing the inference runtime: onnxruntime (default, no torch imported) or torch.

`--runtime` on the command line wins; without it, the config option `runtime` (default
onnx) decides. fp32 onnx and torch give the same embeddings (cosine >= 0.9999), so a
profile enrolled under one works under the other; the int8 embedder differs slightly.
"""

from __future__ import annotations

import argparse

from faceunlock.models.mtcnn.params import DEFAULT_MIN_FACE
from faceunlock.models.sessions import set_torch_threads
from faceunlock.unlock.config import RUNTIMES
from faceunlock.unlock.errors import FaceUnlockError


def add_runtime_argument(
    parser: argparse.ArgumentParser,
    default: str = "the config option `runtime` (onnx unless set)",
) -> None:
    """Add `--runtime {torch,onnx}`, `--int8` and `--threads N` to a subcommand; `default`
    says in the help what runs without --runtime."""
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default=None,
        help="inference runtime: onnx (onnxruntime + numpy + OpenCV, no torch) or torch "
        f"(the reference); default: {default}",
    )
    parser.add_argument(
        "--int8",
        action="store_true",
        help="with --runtime onnx: the static int8 FaceNet (faster; accuracy in docs/onnx.md)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="inference threads (default: all cores; 1 stands in for one phone core)",
    )


def pipeline_from_args(args: argparse.Namespace, min_face_size: int = DEFAULT_MIN_FACE):
    """The pipeline chosen by `add_runtime_argument`'s options (and the config's runtime).

    `args.home` (the CLI's --home, may be None) is the data directory.
    """
    home = getattr(args, "home", None)
    if args.runtime is None:
        from faceunlock.unlock.config import load_config

        args.runtime = load_config(home).runtime
    int8, threads = args.int8, args.threads
    if int8 and args.runtime != "onnx":
        raise FaceUnlockError("--int8 needs --runtime onnx (the int8 network is an ONNX file)")
    if threads is not None and not 1 <= threads <= 256:
        raise FaceUnlockError(f"--threads must be 1 to 256, got {threads}")
    precision = "int8" if int8 else "fp32"
    return load_pipeline(args.runtime, min_face_size, threads, precision, home=home)


def load_pipeline(
    runtime: str = "onnx",
    min_face_size: int = DEFAULT_MIN_FACE,
    threads: int | None = None,
    precision: str = "fp32",
    home=None,
):
    """A face pipeline for the runtime; both expose the FacePipeline interface.

    `threads` caps the inference threads (None: the runtime's default; 1 stands in for one
    phone core): onnxruntime's intra-op threads, or torch.set_num_threads for torch.
    `precision` "int8" (onnx only) uses the static int8 FaceNet. `home`: the data directory
    whose key seals the onnx runtime's cached networks.
    """
    if runtime == "torch":
        from faceunlock.unlock.pipeline.torch_pipeline import FacePipeline

        set_torch_threads(threads)
        if precision != "fp32":
            raise ValueError("the torch runtime is fp32 only")
        return FacePipeline(min_face_size=min_face_size)
    if runtime == "onnx":
        from faceunlock.unlock.pipeline.ort_pipeline import OrtFacePipeline

        return OrtFacePipeline(
            min_face_size=min_face_size, threads=threads, precision=precision, home=home
        )
    raise ValueError(f"unknown runtime {runtime!r}")
