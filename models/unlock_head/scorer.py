"""The unlock network's decision in numpy: p that a live face is the enrolled user.

`UnlockScorer` is the torch-free twin of `models.unlock_head.torch_head.UnlockNet` (a test asserts
they agree). It loads the shipped weights `models/weights/unlock_net.npz`.

The network never sees a raw embedding. Its input is the *relation* between the live
embedding x (L2-normalised, 512-d) and the user's enrolled embeddings E (K x 512), as
seven numbers (`relation_features`):

1. cosine of x to the enrolled template (the normalised mean of E),
2. the highest, 3. the mean and 4. the lowest cosine of x to the K enrolled embeddings,
5. the length of the mean of E (1 for one embedding, smaller when the enrolled faces vary),
6. the mean pairwise cosine inside E (1 for one embedding),
7. 1 / K.

A classifier on raw embeddings learns "not an LFW photo" instead of "not the owner" and
breaks on other domains; these features carry no trace of the domain
except through the cosines themselves. Hidden ReLU layers map them to one logit; the
output bias was calibrated after training so that p >= 0.5 holds the false-accept rate
stated in `UnlockScorer.meta["calibration"]`. The calibration depends on what was
enrolled (one photo gives a noisier template than five different photos, and twenty
frames of someone sitting still are hardly more than one photo), so the output bias has
one calibrated value per kind of enrolment (`OFFSET_BINS`: K = 1, 2, 3, 4, >= 5 varied
faces, or a *tight* set of K >= 2 near-identical frames; `k_offset`, subtracted from the
logit; `offset_index(K, pairwise cosine)` picks the entry).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from faceunlock.models.errors import FaceUnlockError

FEATURE_NAMES = (
    "cos_template",
    "cos_max",
    "cos_mean",
    "cos_min",
    "template_norm",
    "enrolled_pairwise_cos",
    "inv_k",
)
# Enrolled sets whose mean pairwise cosine is at least this are "tight": video frames of
# someone sitting still, calibrated as such (their own output bias).
TIGHT_PAIRWISE = 0.85
THRESHOLD = 0.5  # p >= THRESHOLD unlocks
# The network is trained and calibrated on LFW photos, still-video copies of them and a
# degraded copy: faces whose side imbalance (`models.crop.face_lighting`, |ln| of the
# left/right brightness ratio) stays under 0.8 (one side 2.2 times as bright as the
# other) but for a few images. The live loop and enrolment do not score a face lit more
# unevenly than that: the calibrated false-accept rate says nothing about it.
MAX_SIDE_LIGHT = 0.8
OFFSET_BINS = ("k=1", "k=2", "k=3", "k=4", "k>=5", "tight")
WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "weights" / "unlock_net.npz"


def relation_features(live: np.ndarray, enrolled: np.ndarray) -> np.ndarray:
    """The network's input (N x 7, float32) for live embeddings N x 512 and enrolled K x 512."""
    live = np.asarray(live, np.float32)
    if live.ndim == 1:
        live = live[None]
    enrolled = np.asarray(enrolled, np.float32)
    k = enrolled.shape[0]
    cos = live @ enrolled.T  # N x K
    mean = enrolled.mean(axis=0)
    norm = np.float32(np.sqrt(np.sum(mean * mean)))
    if k > 1:
        gram = enrolled @ enrolled.T
        pairwise = (gram.sum() - np.trace(gram)) / (k * (k - 1))
    else:
        pairwise = 1.0
    n = live.shape[0]
    return np.stack(
        [
            (live @ mean) / norm,
            cos.max(axis=1),
            cos.mean(axis=1),
            cos.min(axis=1),
            np.full(n, norm, np.float32),
            np.full(n, pairwise, np.float32),
            np.full(n, 1.0 / k, np.float32),
        ],
        axis=1,
    ).astype(np.float32)


def pairwise_cosine(enrolled: np.ndarray) -> float:
    """Mean cosine between different enrolled embeddings (1.0 for one)."""
    enrolled = np.asarray(enrolled, np.float32)
    k = len(enrolled)
    if k < 2:
        return 1.0
    gram = enrolled @ enrolled.T
    return float((gram.sum() - np.trace(gram)) / (k * (k - 1)))


def offset_index(k: int, pairwise: float) -> int:
    """Which calibrated output bias (`OFFSET_BINS`) applies to an enrolled set.

    K enrolled embeddings with mean pairwise cosine `pairwise`: a tight set (K >= 2,
    pairwise >= TIGHT_PAIRWISE) has its own bias; otherwise K = 1, 2, 3, 4 or >= 5.
    """
    if k >= 2 and pairwise >= TIGHT_PAIRWISE:
        return len(OFFSET_BINS) - 1
    return min(max(k, 1), 5) - 1


def enrolled_offset_index(enrolled: np.ndarray) -> int:
    """`offset_index` of an enrolled set (K x 512)."""
    return offset_index(len(enrolled), pairwise_cosine(enrolled))


def network_sha256(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of the network's arrays (name, dtype, shape and bytes of each): the decision
    it computes, not its file. Profiles record it; a metadata edit (a new measurement
    written beside the arrays) leaves it unchanged, so it needs no new enrolment."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


# Profiles enrolled before profiles recorded `network_sha256` hold the SHA-256 of the
# weights *file*. Each entry maps such a file hash to the arrays that file held; a profile
# recording it is scored by the same network as long as those arrays are shipped.
FILE_SHA256_OF_NETWORK = {
    "5bc2858c38c85163760099e3124d27ff92eedcaada432e1254658bdce39ae763": (
        "ac506aa77247a664a1dc209a6b8ff5a5b349a559af37f6b70bafc983b41b426e"
    ),
}


def same_network(recorded: str, shipped_network_sha256: str) -> bool:
    """Whether a profile's recorded unlock-network hash names the shipped network (its
    `network_sha256`, or a file hash of the same arrays from before the switch)."""
    return shipped_network_sha256 in (recorded, FILE_SHA256_OF_NETWORK.get(recorded))


def load_weights(path: str | os.PathLike | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """The shipped unlock-network weights (layer arrays) and their metadata."""
    path = Path(path) if path is not None else WEIGHTS_PATH
    if not path.is_file():
        raise FaceUnlockError(
            f"unlock network weights not found at {path}; reinstall faceunlock or rebuild them "
            "with `python -m faceunlock.unlock.lab.train_unlock_net`"
        )
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: np.asarray(data[k]) for k in data.files if k != "meta"}
        meta = json.loads(str(data["meta"]))
    return arrays, meta


class UnlockScorer:
    """p = sigmoid(MLP(relation_features(live, enrolled))); p >= `threshold` unlocks."""

    threshold = THRESHOLD

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        arrays, self.meta = load_weights(path)
        self.layers = []
        i = 0
        while f"w{i}" in arrays:
            self.layers.append(
                (arrays[f"w{i}"].astype(np.float32), arrays[f"b{i}"].astype(np.float32))
            )
            i += 1
        self.feature_mean = arrays["feature_mean"].astype(np.float32)
        self.feature_std = arrays["feature_std"].astype(np.float32)
        self.k_offset = arrays["k_offset"].astype(np.float32)
        calibration = self.meta.get("calibration", {})
        self.far: float = float(calibration.get("far", float("nan")))
        self.calibration_comparisons: int = int(calibration.get("impostor_comparisons", 0))
        self.network_sha256 = network_sha256(arrays)

    def logit(self, live: np.ndarray, enrolled: np.ndarray) -> np.ndarray:
        """The network's output before the sigmoid (N,)."""
        enrolled = np.asarray(enrolled, np.float32)
        h = (relation_features(live, enrolled) - self.feature_mean) / self.feature_std
        for j, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if j < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return h[:, 0] - self.k_offset[enrolled_offset_index(enrolled)]

    def probability(self, live: np.ndarray, profile) -> np.ndarray:
        """p in [0, 1] for each live embedding (N x 512) against a Profile (its core and
        adaptive embeddings) or an enrolled array (K x 512)."""
        enrolled = profile.scoring_set() if hasattr(profile, "scoring_set") else profile
        z = self.logit(live, enrolled).astype(np.float64)
        return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float32)

    def unlocks(self, live: np.ndarray, profile) -> np.ndarray:
        """Boolean decision per live embedding: p >= THRESHOLD."""
        return self.probability(live, profile) >= self.threshold
