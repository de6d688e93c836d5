"""LFW verification benchmark: the official 10-fold protocol of pairs.txt."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unlock.errors import FaceUnlockError


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
        try:
            if len(parts) == 3:
                pairs.append(
                    LfwPair(
                        lfw_image(parts[0], int(parts[1])),
                        lfw_image(parts[0], int(parts[2])),
                        True,
                        fold,
                    )
                )
            elif len(parts) == 4:
                pairs.append(
                    LfwPair(
                        lfw_image(parts[0], int(parts[1])),
                        lfw_image(parts[2], int(parts[3])),
                        False,
                        fold,
                    )
                )
            else:
                raise ValueError
        except ValueError:
            raise FaceUnlockError(
                f"{path}: line {i + 2} is not a pair: {' '.join(parts)}"
            ) from None
    if len(pairs) != folds * per_fold * 2:
        raise FaceUnlockError(f"{path}: expected {folds * per_fold * 2} pairs, found {len(pairs)}")
    return pairs


def _best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    candidates = np.unique(scores)
    mids = np.concatenate([[candidates[0] - 1e-6], (candidates[:-1] + candidates[1:]) / 2])
    order = np.argsort(scores)
    s, y = scores[order], same[order]
    # accuracy for threshold t: positives with score >= t plus negatives with score < t
    pos_below = np.concatenate([[0], np.cumsum(y)])
    neg_below = np.concatenate([[0], np.cumsum(~y)])
    idx = np.searchsorted(s, mids, side="left")
    correct = (y.sum() - pos_below[idx]) + neg_below[idx]
    return float(mids[int(np.argmax(correct))])


def ten_fold_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Per-fold accuracy with the threshold chosen on the other folds."""
    accs = []
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        threshold = _best_threshold(scores[train], same[train])
        accs.append(float(np.mean((scores[test] >= threshold) == same[test])))
    return np.array(accs)


def tar_at_far(scores: np.ndarray, same: np.ndarray, far: float) -> float:
    """Genuine accept rate at the lowest threshold whose false-accept rate is <= far."""
    negatives = np.sort(scores[~same])[::-1]
    allowed = int(np.floor(far * len(negatives)))
    threshold = negatives[allowed] if allowed < len(negatives) else -np.inf
    return float(np.mean(scores[same] > threshold))


def roc_curve(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-accept rates, true-accept rates) over all thresholds."""
    order = np.argsort(-scores)
    y = same[order]
    tar = np.cumsum(y) / max(1, y.sum())
    far = np.cumsum(~y) / max(1, (~y).sum())
    return far, tar


def run(args: argparse.Namespace) -> int:
    """`faceunlock eval lfw`."""
    from unlock.embedding_store import EmbeddingStore
    from unlock.runtime import pipeline_from_args

    data = Path(args.data)
    images_dir = data / "images" if (data / "images").is_dir() else data
    if not images_dir.is_dir():
        raise FaceUnlockError(f"{data}: no such folder (expected LFW with images/ and pairs.txt)")
    pairs_path = Path(args.pairs) if args.pairs else data / "pairs.txt"
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
    pipeline = pipeline_from_args(args)
    store = EmbeddingStore(images_dir, pipeline, policy="nearest_centre", margin_px=args.margin_px)
    emb, found = store.embeddings(
        [images_dir / f for f in files], flip=args.flip, progress=not args.quiet
    )
    index = {f: i for i, f in enumerate(files)}
    left = emb[[index[p.left] for p in pairs]]
    right = emb[[index[p.right] for p in pairs]]
    scores = np.sum(left * right, axis=1)
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    accs = ten_fold_accuracy(scores, same, folds)
    result = {
        "accuracy": round(float(accs.mean()), 5),
        "accuracy_std": round(float(accs.std()), 5),
        "tar_at_far_1e-3": round(tar_at_far(scores, same, 1e-3), 5),
        "pairs": len(pairs),
        "no_face": int((~found).sum()),
        "images": len(files),
        "flip": args.flip,
        "margin_px": args.margin_px,
        "weights_sha256": pipeline.weights_sha256,
        "runtime": args.runtime,
        "precision": getattr(pipeline, "precision", "fp32"),
    }
    print(f"LFW 10-fold accuracy  {result['accuracy'] * 100:.2f} % +- {accs.std() * 100:.2f}")
    print(f"TAR at FAR 1e-3       {result['tar_at_far_1e-3'] * 100:.2f} %")
    print(f"pairs {result['pairs']}, images {len(files)}, no face found in {result['no_face']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        far, tar = roc_curve(scores, same)
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.semilogx(np.maximum(far, 1e-4), tar)
        ax.set_xlabel("false accept rate")
        ax.set_ylabel("true accept rate")
        ax.set_title(f"LFW ROC, accuracy {result['accuracy'] * 100:.2f} %")
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `eval lfw`."""
    from unlock.runtime import add_runtime_argument

    p = sub.add_parser("lfw", help="LFW 10-fold verification accuracy (official pairs.txt)")
    p.add_argument("--data", required=True, help="LFW folder (with images/ and pairs.txt)")
    p.add_argument("--pairs", help="pairs file (default DATA/pairs.txt)")
    p.add_argument("--json", help="write the figures as JSON here")
    p.add_argument("--plot", help="write a ROC curve PNG here")
    p.add_argument(
        "--flip",
        action="store_true",
        help="also embed the mirrored crop and add the two (the product embeds one crop)",
    )
    p.add_argument(
        "--margin-px",
        type=float,
        default=None,
        help="grow boxes by this many pixels per side instead of the product's 13 %% of "
        "the box (the original FaceNet LFW recipe is 16)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_runtime_argument(p)
    p.set_defaults(func=run)
