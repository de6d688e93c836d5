"""The LFW 10-fold protocol: parsing pairs.txt and scoring folds."""

from __future__ import annotations

import numpy as np
import pytest

from faceunlock.unlock.errors import FaceUnlockError
from faceunlock.unlock.lab.lfw import read_pairs, tar_at_far, ten_fold_accuracy


def test_read_pairs(tmp_path):
    text = "2 1\nA 1 2\nA 1 B 3\nC 2 4\nC 1 D 1\n"
    (tmp_path / "pairs.txt").write_text(text)
    pairs = read_pairs(tmp_path / "pairs.txt")
    assert [p.same for p in pairs] == [True, False, True, False]
    assert [p.fold for p in pairs] == [0, 0, 1, 1]
    assert pairs[1].right == "B/B_0003.jpg"


def test_read_pairs_rejects_bad_lines(tmp_path):
    (tmp_path / "pairs.txt").write_text("1 1\nA x 2\nA 1 B 2\n")
    with pytest.raises(FaceUnlockError, match="line 2"):
        read_pairs(tmp_path / "pairs.txt")


def test_ten_fold_accuracy_uses_other_folds_threshold():
    rng = np.random.default_rng(0)
    same = np.tile(np.r_[np.ones(50, bool), np.zeros(50, bool)], 10)
    folds = np.repeat(np.arange(10), 100)
    scores = np.where(same, rng.normal(0.7, 0.1, same.size), rng.normal(0.1, 0.1, same.size))
    accs = ten_fold_accuracy(scores, same, folds)
    assert accs.shape == (10,) and 0.98 < accs.mean() <= 1.0
    # a useless score gives chance accuracy
    chance = ten_fold_accuracy(rng.normal(size=same.size), same, folds)
    assert chance.mean() < 0.65


def test_tar_at_far():
    scores = np.r_[np.linspace(0.5, 1, 100), np.linspace(0, 0.6, 1000)]
    same = np.r_[np.ones(100, bool), np.zeros(1000, bool)]
    tar = tar_at_far(scores, same, 1e-3)
    assert 0.75 < tar < 0.85
