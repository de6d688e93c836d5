"""Export facenet-pytorch's three MTCNN networks (P-Net, R-Net, O-Net) to ONNX.

P-Net is fully convolutional: its input height and width are dynamic, so one file runs
every level of the image pyramid. R-Net and O-Net take a dynamic batch of 24 x 24 and
48 x 48 crops. Inputs are RGB, NCHW, float, scaled (x - 127.5) / 128, as in
facenet_pytorch.models.utils.detect_face.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch


def _nets() -> dict[str, torch.nn.Module]:
    from facenet_pytorch.models.mtcnn import ONet, PNet, RNet

    return {"pnet": PNet().eval(), "rnet": RNet().eval(), "onet": ONet().eval()}


def _spec(name: str) -> tuple[torch.Tensor, list[str], dict]:
    """Example input, output names and dynamic axes of one network."""
    if name == "pnet":
        example = torch.rand(1, 3, 54, 96) * 2 - 1
        outputs = ["reg", "prob"]
        dynamic = {"image": {0: "batch", 2: "height", 3: "width"}}
        dynamic.update({o: {0: "batch", 2: "out_height", 3: "out_width"} for o in outputs})
    elif name == "rnet":
        example = torch.rand(2, 3, 24, 24) * 2 - 1
        outputs = ["reg", "prob"]
        dynamic = {"image": {0: "batch"}, **{o: {0: "batch"} for o in outputs}}
    else:
        example = torch.rand(2, 3, 48, 48) * 2 - 1
        outputs = ["reg", "landmarks", "prob"]
        dynamic = {"image": {0: "batch"}, **{o: {0: "batch"} for o in outputs}}
    return example, outputs, dynamic


def export_mtcnn(out_dir: Path, opset: int = 17) -> dict[str, Path]:
    """Write pnet.onnx, rnet.onnx and onet.onnx into `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, net in _nets().items():
        example, outputs, dynamic = _spec(name)
        path = out_dir / f"{name}.onnx"
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                net,
                (example,),
                str(path),
                input_names=["image"],
                output_names=outputs,
                dynamic_axes=dynamic,
                opset_version=opset,
                dynamo=False,
            )
        paths[name] = path
    return paths
