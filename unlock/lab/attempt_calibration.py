"""The unlock attempt's false-accept rate on held-out identities, written into the weights.

    python -m faceunlock.unlock.lab.attempt_calibration --data LFW_DIR

The live loop decides an attempt, not a frame: it unlocks when p >= 0.5 on k of the last n
frames with a face (`unlock.app.live.KOfN`, k = 3 and n = 5 by default). The output
biases are calibrated per comparison (`train_unlock_net`); this measures what that means
for an attempt.

Impostor attempts: n still-video copies (`unlock.lab.domain.still_copy`: tiny head motion,
exposure, noise, compression) of the photo of every second single-image LFW identity, an
impostor sitting still in front of the camera. Their frames are as correlated as frames
get, so one accepted frame brings its neighbours along: this is where an attempt's rate
comes closest to the frame's, the case k-of-n helps least. Those identities are never used
in gradient training nor by `eval unlock`. Enrolments: every calibration enrolment of the
training identities (the first K photos, K = 1..5, and still copies of one or two photos).
An attempt of n frames is accepted when k of them reach p >= 0.5, which is when the loop's
rule unlocks on them.

For frames of any correlation, an attempt accepted needs k accepted frames of its n, so by
Markov's inequality its rate is at most n / k times the per-frame rate; the metadata
states that bound beside the measurement.

`train_unlock_net` runs this after calibrating; run alone, it re-measures the shipped
weights and rewrites only their metadata (the arrays, and so `network_sha256`, which
profiles record, stay as they are).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from faceunlock.models.unlock_head.scorer import (
    OFFSET_BINS,
    WEIGHTS_PATH,
    UnlockScorer,
    enrolled_offset_index,
    load_weights,
)

log = logging.getLogger(__name__)


def still_attempt_files(identities: dict[str, list[Path]]) -> list[Path]:
    """The photos whose still copies make the impostor attempts: every second identity of
    the held-out calibration split (`unlock.lab.lfw.identity_split`, one image each)."""
    from faceunlock.unlock.lab.lfw import identity_split

    return [identities[name][0] for name in identity_split(identities)["calibration"][::2]]


def still_attempt_frames(files: list[Path], pipeline, n: int) -> np.ndarray:
    """A x n x 512: n still copies of each photo whose face is found in every copy (cached
    embeddings, the stores `train_unlock_net.still_copies` uses)."""
    from faceunlock.unlock.lab.train_unlock_net import embed_still_copies

    frames, ok = embed_still_copies(files[0].parent.parent, pipeline, files, n)
    return frames[ok]


def attempts_accepted(p: np.ndarray, k: int, threshold: float) -> np.ndarray:
    """Per attempt (rows of per-frame p, n frames each): whether k of its frames reach
    the threshold, i.e. whether the loop's k-of-n rule unlocks on them."""
    return np.sum(p >= threshold, axis=1) >= k


def measure_attempt_far(
    scorer: UnlockScorer,
    enrolments: list[tuple[str, np.ndarray]],
    frames: np.ndarray,
    k: int,
    frame_far: float,
) -> dict:
    """The attempt calibration report: impostor attempts `frames` (A x n x 512) against
    every enrolment, per kind of enrolment (`OFFSET_BINS`) and over all."""
    attempts, n, dim = frames.shape
    flat = frames.reshape(-1, dim)
    accepted = {key: 0 for key in OFFSET_BINS}
    counted = {key: 0 for key in OFFSET_BINS}
    frames_accepted = 0
    for _, enrolled in enrolments:
        key = OFFSET_BINS[enrolled_offset_index(enrolled)]
        p = scorer.probability(flat, enrolled).reshape(attempts, n)
        accepted[key] += int(attempts_accepted(p, k, scorer.threshold).sum())
        counted[key] += attempts
        frames_accepted += int(np.sum(p >= scorer.threshold))
    total, hits = sum(counted.values()), sum(accepted.values())
    per_bin = {
        key: {
            "impostor_attempts": counted[key],
            "false_accepts": accepted[key],
            "far": accepted[key] / counted[key] if counted[key] else None,
        }
        for key in OFFSET_BINS
    }
    return {
        "rule": {"k": k, "n": n, "threshold": scorer.threshold},
        "far": max(v["far"] for v in per_bin.values() if v["far"] is not None),
        "far_pooled": hits / total,
        "false_accepts": hits,
        "impostor_attempts": total,
        "frame_far_same_frames": frames_accepted / (total * n),
        "bound_any_correlation": n / k * frame_far,
        "per_bin": per_bin,
        "impostors": int(attempts),
        "enrolments": len(enrolments),
        "description": (
            f"{attempts} held-out impostors (single-image LFW identities, every second one, "
            f"never trained on nor evaluated) sitting still: {n} still-video copies of "
            "their photo per attempt, accepted when k of them reach p >= threshold; "
            "against every calibration enrolment of the training identities. far is the worst "
            "kind of enrolment (OFFSET_BINS), far_pooled all of them together. "
            "bound_any_correlation is n / k times the calibrated per-frame far (Markov's "
            "inequality: an accepted attempt needs k accepted frames of n)"
        ),
    }


def rewrite_metadata(path: Path, key: str, value: dict) -> None:
    """Set one metadata entry of a weights file, its arrays untouched."""
    from faceunlock.models.files import atomic_path

    arrays, meta = load_weights(path)
    meta[key] = value
    with atomic_path(path, 0o644) as tmp, open(tmp, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(meta)), **arrays)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The script's options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="LFW folder (with images/)")
    parser.add_argument("--weights", default=str(WEIGHTS_PATH), help="weights to measure")
    parser.add_argument(
        "--runtime", choices=("onnx", "torch"), default="onnx", help="runtime that embeds"
    )
    return parser.parse_args(argv)


def write_attempt_calibration(weights: Path, data, stills, pipeline) -> dict:
    """Measure the network in `weights` on held-out still attempts (`data`, `stills`: the
    training script's `TrainingData` and still copies) and write the report into its
    metadata as `attempt_calibration`."""
    from faceunlock.unlock.config import Config
    from faceunlock.unlock.lab.train_unlock_net import calibration_enrolments

    scorer = UnlockScorer(weights)
    config = Config()
    frames = still_attempt_frames(still_attempt_files(data.identities), pipeline, config.n)
    report = measure_attempt_far(
        scorer, calibration_enrolments(data.groups, stills), frames, config.k, scorer.far
    )
    rewrite_metadata(weights, "attempt_calibration", report)
    log.info(
        "attempts of %d still frames, k = %d: FAR %.2e (worst kind), %.2e (%d of %d) "
        "pooled; per frame %.2e; "
        "bound for any correlation %.2e; wrote %s",
        config.n,
        config.k,
        report["far"],
        report["far_pooled"],
        report["false_accepts"],
        report["impostor_attempts"],
        report["frame_far_same_frames"],
        report["bound_any_correlation"],
        weights,
    )
    return report


def main(argv: list[str] | None = None) -> int:
    """Measure the shipped network's attempt false-accept rate and write it beside it."""
    from faceunlock.models.sessions import set_torch_threads
    from faceunlock.unlock.lab.lfw import identity_root
    from faceunlock.unlock.lab.train_unlock_net import load_training_data, still_copies
    from faceunlock.unlock.pipeline.runtime import load_pipeline

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_arguments(argv)
    identity_root(args.data)
    set_torch_threads(1)
    pipeline = load_pipeline(args.runtime)
    data = load_training_data(args.data, pipeline)
    stills = still_copies(data.root, pipeline, data.identities, data.train_ids, data.found_rows)
    write_attempt_calibration(Path(args.weights), data, stills, pipeline)
    return 0


if __name__ == "__main__":
    from faceunlock.unlock.errors import run_script

    run_script(main, "attempt_calibration")
