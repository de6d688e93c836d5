"""The unlock network: numpy scorer and torch module agree, features are relational."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.unlock_net import UnlockNet, load_unlock_net
from models.unlock_net import relation_features as torch_features
from unlock.scoring import FEATURE_NAMES, UnlockScorer, relation_features


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
