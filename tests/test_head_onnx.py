"""head.onnx (live + enrolled embeddings -> p) reproduces the numpy UnlockScorer."""

from __future__ import annotations

import numpy as np
import pytest

from faceunlock.models.unlock_head.scorer import (
    OFFSET_BINS,
    UnlockScorer,
    enrolled_offset_index,
)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    from faceunlock.models.sessions import ort_session
    from faceunlock.models.unlock_head.onnx_head import export_head

    path = export_head(tmp_path_factory.mktemp("head") / "head.onnx")
    return ort_session(path)


def _enrolled(rng: np.random.Generator, k: int, spread: float) -> np.ndarray:
    """K embeddings around one identity; small `spread` gives a tight set."""
    centre = rng.normal(size=512)
    return _unit(centre + spread * rng.normal(size=(k, 512)) * np.sqrt(1.0))


def _live(rng: np.random.Generator, enrolled: np.ndarray) -> np.ndarray:
    """Live faces from near-duplicates of the template to strangers (p from ~1 to ~0)."""
    template = enrolled.mean(axis=0)
    noise = rng.normal(size=(40, 512))
    weights = np.linspace(0.0, 3.0, 40)[:, None] * np.linalg.norm(template) / np.sqrt(512)
    return _unit(template + weights * noise * 8)


CASES = [(1, 1.0), (3, 0.8), (5, 0.8), (20, 0.8), (5, 0.05)]


@pytest.mark.parametrize(("k", "spread"), CASES, ids=["k1", "k3", "k5", "k20", "tight"])
def test_head_onnx_matches_the_numpy_scorer(head, k, spread):
    rng = np.random.default_rng(k)
    enrolled = _enrolled(rng, k, spread)
    live = _live(rng, enrolled)
    expected = UnlockScorer().probability(live, enrolled)
    (got,) = head.run(None, {"live": live, "enrolled": enrolled})
    assert got.shape == (len(live),)
    assert np.abs(got - expected).max() < 1e-5
    # the cases span both sides of the threshold, so a wrong bias would show
    assert (expected >= 0.5).any() and (expected < 0.5).any()


def test_cases_cover_every_kind_of_enrolment_that_decides_the_bias():
    rng = np.random.default_rng(0)
    bins = {OFFSET_BINS[enrolled_offset_index(_enrolled(rng, k, s))] for k, s in CASES}
    assert bins == {"k=1", "k=3", "k>=5", "tight"}


def test_head_onnx_bias_follows_the_enrolment_kind(head):
    """Same live face, the same enrolled face once or as a tight set of 3 near-copies: the
    two kinds have different calibrated biases, and the graph picks each one."""
    rng = np.random.default_rng(7)
    one = _enrolled(rng, 1, 1.0)
    tight = _unit(one + 0.01 * rng.normal(size=(3, 512)))
    live = _live(rng, one)
    scorer = UnlockScorer()
    for enrolled in (one, tight):
        (got,) = head.run(None, {"live": live, "enrolled": enrolled})
        assert np.abs(got - scorer.probability(live, enrolled)).max() < 1e-5
    assert enrolled_offset_index(tight) == len(OFFSET_BINS) - 1
    assert scorer.k_offset[0] != scorer.k_offset[-1]
