"""The attempt's false-accept rate: measured as the loop decides, and stated in the weights."""

from __future__ import annotations

import numpy as np

from faceunlock.models.unlock_head.scorer import OFFSET_BINS, UnlockScorer, load_weights
from faceunlock.unlock.app.live import attempt_unlocks
from faceunlock.unlock.config import Config
from faceunlock.unlock.lab.attempt_calibration import (
    attempts_accepted,
    measure_attempt_far,
    rewrite_metadata,
)


def test_an_attempt_is_accepted_exactly_when_the_loops_rule_unlocks():
    rng = np.random.default_rng(0)
    config = Config()
    p = rng.uniform(0.3, 0.7, size=(500, config.n))
    fast = attempts_accepted(p, config.k, 0.5)
    loop = np.array([attempt_unlocks(row, config.k, config.n) is not None for row in p])
    assert fast.any() and not fast.all()
    assert np.array_equal(fast, loop)


def _unit(rng, n):
    x = rng.normal(size=(n, 512)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_measure_counts_attempts_per_kind_of_enrolment():
    rng = np.random.default_rng(1)
    scorer = UnlockScorer()
    owner = _unit(rng, 3)
    near = owner[0] + 0.15 * _unit(rng, 5)  # five frames of the owner
    frames = np.stack([_unit(rng, 5), near / np.linalg.norm(near, axis=1, keepdims=True)])
    report = measure_attempt_far(scorer, [("photos k=3", owner)], frames, 3, 1e-5)
    bin3 = report["per_bin"]["k=3"]
    assert bin3["impostor_attempts"] == 2
    assert bin3["false_accepts"] == 1  # the owner's frames get in, random faces do not
    assert report["far"] == 0.5 and report["far_pooled"] == 0.5
    assert report["bound_any_correlation"] == 5 / 3 * 1e-5
    assert all(report["per_bin"][k]["impostor_attempts"] == 0 for k in OFFSET_BINS if k != "k=3")


def test_shipped_weights_state_the_attempt_rate(tmp_path):
    meta = UnlockScorer().meta
    attempt = meta["attempt_calibration"]
    config = Config()
    assert attempt["rule"] == {"k": config.k, "n": config.n, "threshold": 0.5}
    assert attempt["far"] <= 1e-5 and attempt["bound_any_correlation"] <= 1e-5
    assert attempt["impostor_attempts"] >= 1_000_000
    assert attempt["far"] == max(v["far"] for v in attempt["per_bin"].values())
    # Writing a measurement leaves the arrays, and so the hash profiles record, as they are.
    copy = tmp_path / "net.npz"
    arrays, _ = load_weights()
    np.savez(copy, meta=np.array("{}"), **arrays)
    rewrite_metadata(copy, "attempt_calibration", {"far": 0.0})
    assert load_weights(copy)[1] == {"attempt_calibration": {"far": 0.0}}
    assert UnlockScorer(copy).network_sha256 == UnlockScorer().network_sha256
