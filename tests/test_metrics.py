"""The lab's metrics (one threshold-at-FAR rule) and the identity split."""

from __future__ import annotations

import numpy as np
import pytest

from faceunlock.unlock.lab.lfw import identity_split, is_training_identity
from faceunlock.unlock.lab.metrics import (
    frr_at_far,
    operating_figures,
    tar_at_far,
    threshold_at_far,
)


def test_threshold_accepts_at_most_far_of_the_impostors():
    rng = np.random.default_rng(0)
    impostor = rng.normal(size=100_000)
    for far in (1e-5, 1e-4, 1e-3, 0.05):
        t = threshold_at_far(impostor, far)
        assert np.mean(impostor >= t) <= far
        # and it is the lowest such threshold: the next score down would pass one too many
        below = np.sort(impostor)[::-1][int(np.floor(far * len(impostor)))]
        assert np.mean(impostor >= below) > far


def test_ties_at_the_threshold_are_all_rejected():
    impostor = np.array([0.9, 0.8, 0.8, 0.8, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0])
    t = threshold_at_far(impostor, 0.2)  # two may pass; the second-ranked 0.8 is tied
    assert 0.8 < t < 0.9 and np.mean(impostor >= t) == pytest.approx(0.1)
    assert threshold_at_far(impostor, 0.0) > 0.9  # nobody passes
    assert threshold_at_far(impostor, 1.0) == -np.inf  # everybody may pass


def test_the_rule_is_the_one_that_calibrated_the_shipped_network():
    """threshold_at_far is train_unlock_net's threshold_for_far, bit for bit."""
    from faceunlock.unlock.lab import train_unlock_net

    rng = np.random.default_rng(1)
    logits = rng.normal(size=50_000).astype(np.float32)
    ranked = np.sort(logits)[::-1]
    expected = float(np.nextafter(ranked[int(np.floor(1e-5 * len(ranked)))], np.inf))
    assert train_unlock_net.threshold_for_far(logits, 1e-5) == expected
    assert threshold_at_far(logits, 1e-5) == expected


def test_tar_frr_and_operating_figures_share_the_rule():
    rng = np.random.default_rng(2)
    genuine, impostor = rng.normal(2, 1, 5000), rng.normal(0, 1, 20000)
    scores = np.concatenate([genuine, impostor])
    same = np.r_[np.ones(5000, bool), np.zeros(20000, bool)]
    for far in (1e-3, 1e-2):
        frr, t = frr_at_far(genuine, impostor, far)
        assert t == threshold_at_far(impostor, far)
        assert frr == pytest.approx(1 - tar_at_far(scores, same, far))
        assert operating_figures(genuine, impostor, t, (far,))[f"frr_at_far_{far:g}"] == round(
            frr, 6
        )


def test_training_calibration_and_evaluation_identities_are_disjoint(lfw_fixtures):
    names = [f"Person_{i}" for i in range(400)]
    identities = {n: ["x"] * (1 + i % 20) for i, n in enumerate(names)}
    split = identity_split(identities)
    groups = [set(v) for v in split.values()]
    for i, a in enumerate(groups):
        for b in groups[i + 1 :]:
            assert not a & b
    assert set().union(*groups) == set(names)  # every identity has exactly one role
    assert all(len(identities[n]) >= 15 for n in split["users"])
    assert all(len(identities[n]) == 1 for n in split["calibration"])
    assert all(2 <= len(identities[n]) < 15 for n in split["training"])
    assert all(is_training_identity(n) for n in split["training"])
    assert not any(is_training_identity(n) and len(identities[n]) < 15 for n in split["impostors"])


def test_evaluation_never_uses_an_identity_the_network_trained_on():
    from faceunlock.models.unlock_head.scorer import UnlockScorer
    from faceunlock.unlock.lab.eval_unlock import UnlockProtocol, select_identities

    trained = set(UnlockScorer().meta["trained_identities"])
    assert all(is_training_identity(n) for n in trained)
    some = sorted(trained)[:3]
    identities = {n: [f"{n}/{i}.jpg" for i in range(3)] for n in [*some, "Other_Person"]}
    identities["A_User"] = [f"A_User/{i}.jpg" for i in range(15)]
    roles = select_identities(identities, trained, UnlockProtocol())
    assert roles.users == ["A_User"] and roles.impostors == ["Other_Person"]
    assert roles.user_impostors == ["A_User"]  # an impostor for other users (none here)
    assert not any(f.split("/")[0] in trained for f in roles.pool())


def test_the_embedding_pass_notes_each_crops_lighting(pipeline, lfw_fixtures, tmp_path):
    """`eval unlock`'s lighting gate reads what the embedding pass saw: no second detection."""
    from faceunlock.unlock.lab.embedding_store import EmbeddingStore

    files = sorted(lfw_fixtures.glob("*/*.jpg"))[:6]
    store = EmbeddingStore(lfw_fixtures, pipeline, cache=tmp_path)
    _, found = store.embeddings(files, progress=False)
    crops = []
    original = pipeline.crop_images
    pipeline.crop_images = lambda *a, **k: crops.append(1) or original(*a, **k)
    try:
        noted = store.lighting(files, progress=False)
    finally:
        del pipeline.crop_images
    assert not crops and np.isfinite(noted[found]).all()
    fresh = EmbeddingStore(lfw_fixtures, pipeline, cache=tmp_path / "other")
    np.testing.assert_allclose(fresh.lighting(files, progress=False), noted, rtol=1e-6)
    reread = EmbeddingStore(lfw_fixtures, pipeline, cache=tmp_path)  # from the file
    np.testing.assert_array_equal(reread.lighting(files, progress=False), noted)
