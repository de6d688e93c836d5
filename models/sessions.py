"""How the inference runtimes are set up: onnxruntime sessions and torch's thread count.

Every thread setting of faceunlock goes through this module.
"""

from __future__ import annotations

import os


def set_torch_threads(threads: int | None) -> None:
    """Cap torch's intra-op threads (None: leave torch's default)."""
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def ort_session(path: str | os.PathLike, threads: int | None = None):
    """An onnxruntime CPU session; `threads` caps intra-op threads (None: onnxruntime's choice).

    Worker threads do not spin-wait after a run: the pipeline alternates between four
    sessions (P-, R-, O-Net, FaceNet), each with its own thread pool, and spinning pools
    steal the cores from the session that is running.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = int(threads)
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
