"""The unlock network: `scorer` (numpy, every decision) and `torch_head` (training, ONNX
export). p >= THRESHOLD unlocks."""

from faceunlock.models.unlock_head.scorer import THRESHOLD

__all__ = ["THRESHOLD"]
