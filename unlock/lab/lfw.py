"""LFW and other folders of identity folders: the 10-fold protocol of pairs.txt, and the
split of identities between training, calibration and evaluation.

Data: the deep-funneled LFW with `pairs.txt` (LFW download page of the University of
Massachusetts, Amherst): `DIR/images/<Name>/<Name>_NNNN.jpg` and `DIR/pairs.txt`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceunlock.unlock.errors import FaceUnlockError
from faceunlock.unlock.images import list_images
from faceunlock.unlock.lab.metrics import roc_curve, tar_at_far, ten_fold_accuracy


@dataclass
class LfwPair:
    left: str
    right: str
    same: bool
    fold: int


def lfw_image(name: str, number: int) -> str:
    """Relative path of image `number` (1-based) of `name` in LFW's images/ folder."""
    return f"{name}/{name}_{number:04d}.jpg"


def read_pairs(path: Path) -> list[LfwPair]:
    """Parse LFW's pairs.txt (first line: folds and pairs per class per fold)."""
    try:
        lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise FaceUnlockError(f"{path}: cannot read the pairs file ({exc})") from None
    try:
        folds, per_fold = int(lines[0][0]), int(lines[0][1])
    except (IndexError, ValueError):
        raise FaceUnlockError(f"{path}: first line must be '<folds> <pairs per fold>'") from None
    pairs = []
    for i, parts in enumerate(lines[1:]):
        fold = i // (2 * per_fold)
        # "name n1 n2" (same person) or "name1 n1 name2 n2" (two people)
        sides = {3: (0, 1, 0, 2), 4: (0, 1, 2, 3)}.get(len(parts))
        try:
            if sides is None:
                raise ValueError
            a, m, b, n = (parts[k] for k in sides)
            pairs.append(LfwPair(lfw_image(a, int(m)), lfw_image(b, int(n)), len(parts) == 3, fold))
        except ValueError:
            raise FaceUnlockError(
                f"{path}: line {i + 2} is not a pair: {' '.join(parts)}"
            ) from None
    if len(pairs) != folds * per_fold * 2:
        raise FaceUnlockError(f"{path}: expected {folds * per_fold * 2} pairs, found {len(pairs)}")
    return pairs


def pair_files(data: Path, pairs_file: Path | None) -> tuple[Path, list[LfwPair], list[str]]:
    """(images folder, pairs, image files they name), checked: every image must exist."""
    images_dir = identity_root(data)
    pairs_path = pairs_file or data / "pairs.txt"
    if not pairs_path.is_file():
        raise FaceUnlockError(f"{pairs_path}: pairs file not found; pass --pairs FILE")
    pairs = read_pairs(pairs_path)
    files = sorted({p.left for p in pairs} | {p.right for p in pairs})
    missing = [f for f in files if not (images_dir / f).is_file()]
    if missing:
        raise FaceUnlockError(
            f"{len(missing)} images named in {pairs_path} are missing from {images_dir}, "
            f"e.g. {missing[0]}"
        )
    return images_dir, pairs, files


def verification(
    data: Path,
    pipeline,
    pairs_file: Path | None = None,
    flip: bool = False,
    margin_px: float | None = None,
    progress: bool = True,
) -> tuple[dict, np.ndarray, np.ndarray]:
    """LFW's 10-fold verification: (figures, pair scores, same-person flags)."""
    from faceunlock.unlock.lab.embedding_store import EmbeddingStore

    images_dir, pairs, files = pair_files(data, pairs_file)
    store = EmbeddingStore(images_dir, pipeline, policy="nearest_centre", margin_px=margin_px)
    emb, found = store.embeddings([images_dir / f for f in files], flip=flip, progress=progress)
    index = {f: i for i, f in enumerate(files)}
    left = emb[[index[p.left] for p in pairs]]
    right = emb[[index[p.right] for p in pairs]]
    scores = np.sum(left * right, axis=1)
    same = np.array([p.same for p in pairs])
    accs = ten_fold_accuracy(scores, same, np.array([p.fold for p in pairs]))
    result = {
        "folds": len(accs),
        "accuracy": round(float(accs.mean()), 5),
        "accuracy_std": round(float(accs.std()), 5),
        "tar_at_far_1e-3": round(tar_at_far(scores, same, 1e-3), 5),
        "pairs": len(pairs),
        "no_face": int((~found).sum()),
        "images": len(files),
        "flip": flip,
        "margin_px": margin_px,
        "weights_sha256": pipeline.weights_sha256,
        "precision": getattr(pipeline, "precision", "fp32"),
    }
    return result, scores, same


def plot_roc(path: str, scores: np.ndarray, same: np.ndarray, accuracy: float) -> None:
    """The ROC curve as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    far, tar = roc_curve(scores, same)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.semilogx(np.maximum(far, 1e-4), tar)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    ax.set_title(f"LFW ROC, accuracy {accuracy * 100:.2f} %")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


IDENTITY_LAYOUT = "DIR/<Name>/*.jpg, or LFW's DIR/images/<Name>/*.jpg"


def identity_root(data: str | Path) -> Path:
    """The folder of identity folders: DIR/images when it exists (LFW), else DIR itself."""
    root = Path(data)
    if (root / "images").is_dir():
        return root / "images"
    if not root.is_dir():
        raise FaceUnlockError(f"{data}: no such folder (expected {IDENTITY_LAYOUT})")
    return root


def identity_images(data: str | Path) -> dict[str, list[Path]]:
    """{identity: its images in name order} for a folder of identity folders (either
    layout of `identity_root`)."""
    root = identity_root(data)
    identities = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        images = list_images(folder)
        if images:
            identities[folder.name] = images
    if not identities:
        raise FaceUnlockError(
            f"{data}: no identity folders with images in it (expected {IDENTITY_LAYOUT})"
        )
    return identities


# -- the identity split between training, calibration and evaluation ------------------------

USER_MIN_IMAGES = 15  # identities with this many images are `eval unlock`'s users


def is_training_identity(name: str) -> bool:
    """The fixed split: about 40 % of the 2-14-image identities train the network."""
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 5 in (0, 1)


def identity_split(identities: dict[str, list], user_min_images: int = USER_MIN_IMAGES) -> dict:
    """Which identities do what, by name: `users` (>= user_min_images images, evaluation
    only), `training` (2 .. user_min_images - 1 images and `is_training_identity`),
    `calibration` (exactly one image: impostor probes after training) and `impostors`
    (the other identities with 2 or more images: evaluation only). Disjoint by design."""
    sizes = {name: len(images) for name, images in identities.items()}
    users = [n for n, k in sizes.items() if k >= user_min_images]
    training = [n for n, k in sizes.items() if 2 <= k < user_min_images and is_training_identity(n)]
    calibration = [n for n, k in sizes.items() if k == 1]
    taken = set(users) | set(training)
    impostors = [n for n, k in sizes.items() if k >= 2 and n not in taken]
    return {
        "users": users,
        "training": training,
        "calibration": calibration,
        "impostors": impostors,
    }
