"""Choosing the inference runtime: torch (default) or onnxruntime (no torch imported)."""

from __future__ import annotations

import argparse

RUNTIMES = ("torch", "onnx")


def add_runtime_argument(parser: argparse.ArgumentParser) -> None:
    """Add `--runtime {torch,onnx}` to a subcommand."""
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="torch",
        help="inference runtime: torch, or onnx (onnxruntime + numpy + OpenCV, no torch)",
    )


def load_pipeline(runtime: str = "torch", min_face_size: int = 20, threads: int | None = None):
    """A face pipeline for the runtime; both expose the FacePipeline interface.

    `threads` caps the inference threads (None: the runtime's default; 1 stands in for one
    phone core): onnxruntime's intra-op threads, or torch.set_num_threads for torch.
    """
    if runtime == "torch":
        from unlock.pipeline import FacePipeline

        if threads:
            import torch

            torch.set_num_threads(int(threads))
        return FacePipeline(min_face_size=min_face_size)
    if runtime == "onnx":
        from unlock.ort_pipeline import OrtFacePipeline

        return OrtFacePipeline(min_face_size=min_face_size, threads=threads)
    raise ValueError(f"unknown runtime {runtime!r}")
