"""The unlock network: numpy scorer and torch module agree, features are relational."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from faceunlock.models.unlock_head.scorer import (
    FEATURE_NAMES,
    OFFSET_BINS,
    UnlockScorer,
    enrolled_offset_index,
    relation_features,
)
from faceunlock.models.unlock_head.torch_head import UnlockNet, load_unlock_net
from faceunlock.models.unlock_head.torch_head import relation_features as torch_features
from faceunlock.unlock.images import load_image
from faceunlock.unlock.lab.domain import still_frame
from faceunlock.unlock.lab.train_unlock_net import merge_ensemble


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.normal(size=(n, 512)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def faces(pipeline, lfw_fixtures):
    """Embeddings of the fixture photos: {person: N x 512}."""
    out = {}
    for person in ("Colin_Powell", "Tony_Blair", "Jennifer_Aniston"):
        photos = sorted((lfw_fixtures / person).glob("*.jpg"))
        out[person] = np.stack(
            [pipeline.require_face(p, "nearest_centre").embedding for p in photos]
        )
    return out


def test_shipped_weights_are_calibrated():
    scorer = UnlockScorer()
    assert scorer.threshold == 0.5
    assert scorer.far <= 2e-5
    assert scorer.calibration_comparisons >= 250_000
    assert scorer.meta["features"] == list(FEATURE_NAMES)
    assert len(scorer.meta["trained_identities"]) > 100


@pytest.mark.parametrize("k", [1, 2, 5, 20])
def test_numpy_and_torch_agree(k):
    rng = np.random.default_rng(k)
    live, enrolled = _unit(rng, 50), _unit(rng, k)
    live[:5] = enrolled[0]  # some exact matches
    np.testing.assert_allclose(
        relation_features(live, enrolled),
        torch_features(torch.from_numpy(live), torch.from_numpy(enrolled)).numpy(),
        rtol=1e-5,
        atol=1e-6,
    )
    net = load_unlock_net()
    with torch.no_grad():
        p_torch = net(torch.from_numpy(live), torch.from_numpy(enrolled))[:, 0].numpy()
        p_user = net.for_user(enrolled)(torch.from_numpy(live))[:, 0].numpy()
    p_numpy = UnlockScorer().probability(live, enrolled)
    np.testing.assert_allclose(p_numpy, p_torch, atol=1e-5)
    np.testing.assert_array_equal(p_torch, p_user)
    assert ((p_numpy >= 0) & (p_numpy <= 1)).all()


def test_features_are_relational():
    """The features do not change when every embedding is rotated the same way."""
    rng = np.random.default_rng(0)
    live, enrolled = _unit(rng, 10), _unit(rng, 5)
    rotation, _ = np.linalg.qr(rng.normal(size=(512, 512)))
    rotation = rotation.astype(np.float32)
    np.testing.assert_allclose(
        relation_features(live, enrolled),
        relation_features(live @ rotation, enrolled @ rotation),
        atol=1e-5,
    )
    single = relation_features(live, enrolled[:1])
    assert np.allclose(single[:, 4:], [1.0, 1.0, 1.0])


def test_real_faces_same_person_scores_higher(faces):
    scorer = UnlockScorer()
    enrolled = faces["Colin_Powell"][:5]
    genuine = scorer.probability(faces["Colin_Powell"][5:], enrolled)
    impostor = scorer.probability(
        np.concatenate([faces["Tony_Blair"], faces["Jennifer_Aniston"]]), enrolled
    )
    assert genuine.min() > impostor.max()
    assert (impostor < 0.5).all()


def test_network_is_trainable_module():
    net = UnlockNet()
    live, enrolled = torch.randn(3, 512), torch.randn(4, 512)
    out = net(torch.nn.functional.normalize(live), torch.nn.functional.normalize(enrolled))
    assert out.shape == (3, 1)
    out.sum().backward()
    assert net.head.linears[0].weight.grad is not None


def test_near_identical_frames_have_their_own_calibrated_bias():
    rng = np.random.default_rng(3)
    base = _unit(rng, 1)
    tight = base + 0.02 * _unit(rng, 20)
    tight /= np.linalg.norm(tight, axis=1, keepdims=True)
    varied = _unit(rng, 20)
    scorer = UnlockScorer()
    assert len(scorer.k_offset) == len(OFFSET_BINS)
    assert enrolled_offset_index(tight) == OFFSET_BINS.index("tight")
    assert enrolled_offset_index(varied) == OFFSET_BINS.index("k>=5")
    assert enrolled_offset_index(tight[:1]) == OFFSET_BINS.index("k=1")
    assert set(scorer.meta["calibration"]["per_bin"]) == set(OFFSET_BINS)
    live = np.concatenate([tight[:3], varied[:3]])
    net = load_unlock_net()
    with torch.no_grad():
        p_torch = net.for_user(tight)(torch.from_numpy(live))[:, 0].numpy()
    np.testing.assert_allclose(scorer.probability(live, tight), p_torch, atol=1e-5)


def test_a_still_sitter_profile_accepts_the_person_and_no_one_else(pipeline, lfw_fixtures):
    """Enrolled from near-identical video-like frames of one photo (someone sitting still),
    the person's other photos unlock and nobody else's do. The network trained only on
    varied photo enrolments refused such profiles almost always."""
    photos = sorted((lfw_fixtures / "Colin_Powell").glob("*.jpg"))
    image = load_image(photos[0])
    frames = [still_frame(image, f"test#{c}") for c in range(8)]
    enrolled, _, found = pipeline.embed_images(frames, "nearest_centre")
    assert found.all()
    assert enrolled_offset_index(enrolled) == OFFSET_BINS.index("tight")
    others = [pipeline.require_face(p, "nearest_centre").embedding for p in photos[1:]]
    strangers = [
        pipeline.require_face(p, "nearest_centre").embedding
        for person in ("Tony_Blair", "Jennifer_Aniston", "Gerhard_Schroeder")
        for p in sorted((lfw_fixtures / person).glob("*.jpg"))
    ]
    scorer = UnlockScorer()
    assert (scorer.probability(np.stack(others), enrolled) >= 0.5).sum() >= 5  # of 7
    assert (scorer.probability(np.stack(strangers), enrolled) < 0.5).all()


def test_an_ensemble_merges_into_one_network_with_the_mean_logit():
    torch.manual_seed(0)
    members = [UnlockNet((8, 4)) for _ in range(3)]
    for member in members:
        for linear in member.head.linears:
            torch.nn.init.normal_(linear.weight)
            torch.nn.init.normal_(linear.bias)
    merged = merge_ensemble(members)
    assert [lin.out_features for lin in merged.head.linears] == [24, 12, 1]
    x = torch.randn(10, len(FEATURE_NAMES))
    with torch.no_grad():
        expected = sum(m.head(x) for m in members) / 3
        torch.testing.assert_close(merged.head(x), expected, atol=1e-5, rtol=1e-5)


def test_training_families_are_seeded_webcam_conditions(lfw_fixtures):
    from faceunlock.unlock.lab.domain import TRAINING_FAMILIES

    image = load_image(lfw_fixtures / "Colin_Powell/Colin_Powell_0001.jpg")
    for name, family in TRAINING_FAMILIES.items():
        once, again = family(image, "a.jpg"), family(image, "a.jpg")
        assert once.shape == image.shape and once.dtype == np.uint8, name
        assert np.array_equal(once, again), name  # the embedding cache stays valid
        assert not np.array_equal(once, family(image, "b.jpg")), name
        assert not np.array_equal(once[..., 0], once[..., 1]), name  # colour, unlike degrade


def test_family_pairs_probe_with_degraded_copies():
    from faceunlock.unlock.lab.train_unlock_net import family_training_pairs

    rng = np.random.default_rng(0)

    def unit(x):
        return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)

    centres = unit(rng.normal(size=(6, 512)))
    groups = [unit(c + 0.6 * unit(rng.normal(size=(4, 512)))) for c in centres]
    degraded = [unit(g + 0.3 * unit(rng.normal(size=g.shape))) for g in groups]
    degraded[0][1] = np.nan  # a copy whose face was not found is never used
    feats, labels = family_training_pairs(groups, degraded, rng)
    assert feats.shape[1] == 7 and not np.isnan(feats).any()
    assert 0 < labels.sum() < len(labels)
    genuine, impostor = feats[labels == 1, 0], feats[labels == 0, 0]
    assert genuine.mean() > impostor.mean() + 0.2
