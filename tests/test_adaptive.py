"""Adaptive templates: what a confident unlock may add to a profile, and what it may not."""

from __future__ import annotations

import json

import numpy as np
import pytest

from faceunlock.enroll.profile import Profile, ProfileStore
from faceunlock.models.unlock_head.scorer import UnlockScorer
from faceunlock.unlock.app.adaptive import (
    ADAPT_P,
    MAX_ADAPTIVE,
    NOVELTY,
    adapt,
    adaptation_refusal,
    reset,
)
from faceunlock.unlock.cli import main
from faceunlock.unlock.errors import FaceUnlockError


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture()
def person():
    """A synthetic person: a core of 5 varied faces, and new faces of them at cosine ~0.75."""
    rng = np.random.default_rng(7)
    identity = _unit(rng.normal(size=512))
    core = _unit(identity + 0.55 * _unit(rng.normal(size=(5, 512))))
    new_looks = _unit(identity + 0.7 * _unit(rng.normal(size=(2 * MAX_ADAPTIVE, 512))))
    stranger = _unit(rng.normal(size=(3, 512)))
    profile = Profile(name="owner", embeddings=core, weights_sha256="ab" * 32)
    return profile, new_looks, stranger


def test_a_confident_new_look_joins_the_adaptive_part_and_the_core_never_changes(person):
    profile, new_looks, _ = person
    scorer = UnlockScorer()
    core = profile.embeddings.copy()
    look = new_looks[0]
    p = float(scorer.probability(look[None], profile)[0])
    assert p >= ADAPT_P, "fixture: the new look must be a confident match"
    assert adapt(profile, look, p, scorer)
    assert len(profile.adaptive) == 1
    np.testing.assert_array_equal(profile.embeddings, core)
    assert len(profile.scoring_set()) == len(core) + 1
    assert profile.extra["adaptive_log"][0]["p"] == round(p, 4)


def test_unconfident_unlocks_strangers_and_duplicates_are_refused(person):
    profile, new_looks, stranger = person
    scorer = UnlockScorer()
    look = new_looks[0]
    assert "not confident" in adaptation_refusal(profile, look, 0.55, scorer)
    # even an "unlock" at p = 1 cannot add a face that does not match the core alone
    assert "enrolled core" in adaptation_refusal(profile, stranger[0], 1.0, scorer)
    assert not adapt(profile, stranger[0], 1.0, scorer)
    assert "nothing new" in adaptation_refusal(profile, profile.embeddings[0], 1.0, scorer)
    assert max(float(np.max(profile.embeddings @ look)), 0) < NOVELTY
    assert len(profile.adaptive) == 0


def test_the_adaptive_part_is_bounded_and_can_be_reset(person):
    profile, new_looks, _ = person
    scorer = UnlockScorer()
    added = sum(adapt(profile, look, 1.0, scorer) for look in new_looks)
    assert added > MAX_ADAPTIVE
    assert len(profile.adaptive) == MAX_ADAPTIVE
    np.testing.assert_array_equal(profile.adaptive[-1], new_looks[-1])  # newest kept
    assert reset(profile) == MAX_ADAPTIVE
    assert len(profile.adaptive) == 0 and "adaptive_log" not in profile.extra


def test_adaptive_entries_are_signed_with_the_profile(home, person):
    profile, new_looks, _ = person
    store = ProfileStore()
    adapt(profile, new_looks[0], 1.0, UnlockScorer())
    path = store.save(profile)
    loaded = store.load("owner")
    np.testing.assert_array_equal(loaded.adaptive, profile.adaptive)
    body = json.loads(path.read_text())
    body["adaptive"] = body["embeddings"]  # smuggle other faces into the adaptive part
    body["adaptive_shape"] = body["embedding_shape"]
    path.write_text(json.dumps(body))
    with pytest.raises(FaceUnlockError, match="integrity"):
        store.load("owner")


def test_users_show_and_reset_adaptive_from_the_command_line(home, person, capsys):
    profile, new_looks, _ = person
    store = ProfileStore()
    adapt(profile, new_looks[0], 1.0, UnlockScorer())
    store.save(profile)
    assert main(["users", "show", "owner", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["core"]["embeddings"] == 5
    assert shown["adaptive"]["embeddings"] == 1
    assert shown["adaptive"]["limit"] == MAX_ADAPTIVE
    assert main(["enroll", "owner", "--reset-adaptive"]) == 0
    assert "removed 1 adaptive" in capsys.readouterr().out
    assert len(store.load("owner").adaptive) == 0
    assert len(store.load("owner").embeddings) == 5
