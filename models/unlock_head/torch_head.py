"""The unlock network in torch: live embedding + enrolled embeddings -> sigmoid p.

Mirrors `models.unlock_head.scorer.UnlockScorer` exactly (same features, same layers, same
shipped weights `models/weights/unlock_net.npz`; a test asserts parity). The per-user data the
network needs is only the enrolled embeddings (K x 512); nothing else is stored per user.

For ONNX export, `UnlockNet.for_user(enrolled)` returns a module whose `forward(live)`
has the enrolled embeddings baked in as a constant buffer:
`torch.onnx.export(net.for_user(profile.embeddings), live_example, ...)`.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from faceunlock.models.unlock_head.scorer import (
    FEATURE_NAMES,
    OFFSET_BINS,
    enrolled_offset_index,
    load_weights,
)

HIDDEN = (32, 16)


def relation_features(live: torch.Tensor, enrolled: torch.Tensor) -> torch.Tensor:
    """Torch twin of `models.unlock_head.scorer.relation_features` (N x 7)."""
    k = enrolled.shape[0]
    cos = live @ enrolled.T
    mean = enrolled.mean(dim=0)
    norm = torch.sqrt(torch.sum(mean * mean))
    if k > 1:
        gram = enrolled @ enrolled.T
        pairwise = (gram.sum() - torch.diagonal(gram).sum()) / (k * (k - 1))  # ONNX: no aten::trace
    else:
        pairwise = torch.ones((), dtype=live.dtype)
    ones = torch.ones_like(cos[:, 0])
    return torch.stack(
        [
            (live @ mean) / norm,
            cos.max(dim=1).values,
            cos.mean(dim=1),
            cos.min(dim=1).values,
            ones * norm,
            ones * pairwise,
            ones * (1.0 / k),
        ],
        dim=1,
    )


class UnlockHead(nn.Module):
    """Standardised relation features -> hidden ReLU layers -> one logit."""

    def __init__(self, hidden: tuple[int, ...] = HIDDEN) -> None:
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(len(FEATURE_NAMES)))
        self.register_buffer("feature_std", torch.ones(len(FEATURE_NAMES)))
        sizes = (len(FEATURE_NAMES), *hidden, 1)
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = (features - self.feature_mean) / self.feature_std
        for j, linear in enumerate(self.linears):
            h = linear(h)
            if j < len(self.linears) - 1:
                h = torch.relu(h)
        return h


class UnlockNet(nn.Module):
    """forward(live N x 512, enrolled K x 512) -> p (N x 1), sigmoid of the calibrated logit."""

    def __init__(self, hidden: tuple[int, ...] = HIDDEN) -> None:
        super().__init__()
        self.head = UnlockHead(hidden)
        # calibrated output bias per kind of enrolment (OFFSET_BINS; subtracted)
        self.register_buffer("k_offset", torch.zeros(len(OFFSET_BINS)))
        self.meta: dict = {}

    def logit(
        self, live: torch.Tensor, enrolled: torch.Tensor, bin_index: int | None = None
    ) -> torch.Tensor:
        """The calibrated logit; `bin_index` (default: from `enrolled`) picks the bias."""
        if bin_index is None:
            bin_index = enrolled_offset_index(enrolled.detach().cpu().numpy())
        return self.head(relation_features(live, enrolled)) - self.k_offset[bin_index]

    def forward(
        self, live: torch.Tensor, enrolled: torch.Tensor, bin_index: int | None = None
    ) -> torch.Tensor:
        return torch.sigmoid(self.logit(live, enrolled, bin_index))

    def for_user(self, enrolled: np.ndarray | torch.Tensor) -> UserUnlockNet:
        """A module `forward(live) -> p` with this user's enrolled embeddings baked in."""
        return UserUnlockNet(self, torch.as_tensor(np.asarray(enrolled, np.float32)))

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The weights as the arrays `unlock_net.npz` stores (w0, b0, ..., feature_mean/std)."""
        arrays = {
            "feature_mean": self.head.feature_mean.detach().numpy().astype(np.float32),
            "feature_std": self.head.feature_std.detach().numpy().astype(np.float32),
            "k_offset": self.k_offset.detach().numpy().astype(np.float32),
        }
        for j, linear in enumerate(self.head.linears):
            arrays[f"w{j}"] = linear.weight.detach().numpy().astype(np.float32)
            arrays[f"b{j}"] = linear.bias.detach().numpy().astype(np.float32)
        return arrays


class UserUnlockNet(nn.Module):
    """UnlockNet with one user's enrolled embeddings as a constant: forward(live) -> p."""

    def __init__(self, net: UnlockNet, enrolled: torch.Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("enrolled", enrolled)
        self.bin_index = enrolled_offset_index(enrolled.numpy())

    def forward(self, live: torch.Tensor) -> torch.Tensor:
        return self.net(live, self.enrolled, self.bin_index)


def load_unlock_net(path: str | os.PathLike | None = None) -> UnlockNet:
    """The shipped, calibrated unlock network (eval mode)."""
    arrays, meta = load_weights(path)
    layers = sum(1 for k in arrays if k.startswith("w"))
    hidden = tuple(int(arrays[f"w{j}"].shape[0]) for j in range(layers - 1))
    net = UnlockNet(hidden)
    with torch.no_grad():
        net.head.feature_mean.copy_(torch.from_numpy(arrays["feature_mean"]))
        net.head.feature_std.copy_(torch.from_numpy(arrays["feature_std"]))
        net.k_offset.copy_(torch.from_numpy(arrays["k_offset"]))
        for j, linear in enumerate(net.head.linears):
            linear.weight.copy_(torch.from_numpy(arrays[f"w{j}"]))
            linear.bias.copy_(torch.from_numpy(arrays[f"b{j}"]))
    net.meta = meta
    return net.eval()
