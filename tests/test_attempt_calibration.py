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


def test_kofn_attempt_score_is_the_loops_rule_at_every_threshold():
    from faceunlock.unlock.lab.eval_unlock import kofn_attempt_scores

    rng = np.random.default_rng(2)
    for m in (2, 5, 9):
        logits = rng.normal(size=(300, m))
        logits[rng.random(logits.shape) < 0.1] = -np.inf  # frames without a usable face
        scores = kofn_attempt_scores(logits, 3, 5)
        for threshold in (-0.5, 0.0, 0.7):
            loop = [attempt_unlocks(row, 3, 5, threshold) is not None for row in logits]
            assert np.array_equal(scores >= threshold, np.array(loop)), (m, threshold)


def test_a_pooled_attempt_needs_k_usable_frames():
    from faceunlock.unlock.lab.eval_unlock import pooled_embedding

    rng = np.random.default_rng(3)
    frames = _unit(rng, 3)
    assert pooled_embedding(frames[:2], 3) is None
    pooled = pooled_embedding(frames, 3)
    assert np.isclose(np.linalg.norm(pooled), 1.0)
    assert np.allclose(pooled, frames.mean(0) / np.linalg.norm(frames.mean(0)))


def test_attempt_figures_without_impostor_attempts():
    from faceunlock.unlock.lab.eval_unlock import Scores, attempt_figures

    rng = np.random.default_rng(4)
    emb = _unit(rng, 10)
    scorer = UnlockScorer()
    scores = Scores(live_emb=emb, scorer=scorer, names=["a"], enrolled=[emb[:2]])
    scores.gen_rows = [[2, 3, 4, 5, 6, 7]]
    scores.net_gen = [scorer.logit(emb[2:8], emb[:2])]
    scores.imp_pool = [np.zeros(0)]
    figures = attempt_figures(scores, np.zeros((0, 512), np.float32), [], 3, 3, 5)
    assert figures["genuine_attempts"] == 2 and figures["impostor_attempts"] == 0
    assert figures["far"] is None and figures["pooled"]["far"] is None
    assert figures["frr"] == 1.0  # random faces are not the enrolled person
