"""Verification metrics: one threshold-at-FAR rule, and what is built on it.

Scores are "higher means more alike"; a comparison is accepted when score >= threshold.
"""

from __future__ import annotations

import numpy as np


def threshold_at_far(impostor: np.ndarray, far: float) -> float:
    """The lowest threshold t with mean(impostor >= t) <= far.

    Tie rule: t lies just above the impostor score ranked floor(far * n) from the top, so
    every impostor with that score (ties included) is rejected and at most floor(far * n)
    impostors are accepted. -inf when `far` allows every impostor. This is the rule that
    calibrated the shipped unlock network.
    """
    ranked = np.sort(np.asarray(impostor))[::-1]
    allowed = int(np.floor(far * len(ranked)))
    if allowed >= len(ranked):
        return -np.inf
    return float(np.nextafter(ranked[allowed], np.inf))


def tar_at_far(scores: np.ndarray, same: np.ndarray, far: float) -> float:
    """Genuine accept rate at `threshold_at_far` of the impostor (not `same`) scores."""
    threshold = threshold_at_far(scores[~same], far)
    return float(np.mean(scores[same] >= threshold))


def frr_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> tuple[float, float]:
    """(FRR, threshold) at `threshold_at_far` of the impostor scores."""
    threshold = threshold_at_far(impostor, far)
    return float(np.mean(genuine < threshold)), threshold


def operating_figures(
    genuine: np.ndarray, impostor: np.ndarray, threshold: float, far_points=(1e-3, 1e-4, 2e-5)
) -> dict:
    """FRR and FAR at `threshold` (score >= threshold accepts) and FRR at fixed FARs."""
    result = {
        "frr": round(float(np.mean(genuine < threshold)), 6),
        "far": float(np.mean(impostor >= threshold)),
        "false_accepts": int(np.sum(impostor >= threshold)),
    }
    for far in far_points:
        frr, _ = frr_at_far(genuine, impostor, far)
        result[f"frr_at_far_{far:g}"] = round(frr, 6)
    return result


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


def roc_curve(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-accept rates, true-accept rates) over all thresholds."""
    order = np.argsort(-scores)
    y = same[order]
    tar = np.cumsum(y) / max(1, y.sum())
    far = np.cumsum(~y) / max(1, (~y).sum())
    return far, tar


def det_points(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FAR, FRR) over all thresholds, for a DET curve."""
    thresholds = np.unique(np.concatenate([genuine, impostor]))[::-1]
    imp = np.sort(impostor)
    gen = np.sort(genuine)
    far = 1.0 - np.searchsorted(imp, thresholds, side="left") / max(len(imp), 1)
    frr = np.searchsorted(gen, thresholds, side="left") / max(len(gen), 1)
    return far, frr
