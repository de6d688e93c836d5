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


def load_pipeline(runtime: str = "torch", min_face_size: int = 20):
    """A face pipeline for the runtime; both expose the FacePipeline interface."""
    if runtime == "torch":
        from unlock.pipeline import FacePipeline

        return FacePipeline(min_face_size=min_face_size)
    if runtime == "onnx":
        from unlock.ort_pipeline import OrtFacePipeline

        return OrtFacePipeline(min_face_size=min_face_size)
    raise ValueError(f"unknown runtime {runtime!r}")
