"""Enrolment and verification on real fixture faces (LFW photos, the bundled demo media)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceunlock.enroll.enrolment import enrol
from faceunlock.enroll.profile import Profile, ProfileStore
from faceunlock.enroll.quality import select_varied
from faceunlock.unlock import media
from faceunlock.unlock.cli import main
from faceunlock.unlock.errors import FaceUnlockError

DATA = media.DATA_DIR


@pytest.fixture()
def shared_pipeline(pipeline, monkeypatch):
    """Make CLI commands reuse the session pipeline instead of loading FaceNet again."""
    monkeypatch.setattr(
        "faceunlock.unlock.pipeline.runtime.load_pipeline", lambda *a, **k: pipeline
    )
    return pipeline


def _photos(lfw_fixtures: Path, person: str) -> list[Path]:
    return sorted((lfw_fixtures / person).glob("*.jpg"))


@pytest.fixture()
def powell_folder(tmp_path, lfw_fixtures) -> Path:
    folder = tmp_path / "powell"
    folder.mkdir()
    for photo in _photos(lfw_fixtures, "Colin_Powell")[:5]:
        shutil.copy(photo, folder)
    return folder


def test_enrol_folder_then_same_person_unlocks_and_another_does_not(
    shared_pipeline, home, lfw_fixtures, powell_folder, capsys
):
    profile = enrol(shared_pipeline, str(powell_folder), "colin", progress=False)
    assert profile.embeddings.shape == (5, 512)
    assert ProfileStore().names() == ["colin"]
    genuine = [str(p) for p in _photos(lfw_fixtures, "Colin_Powell")[5:]]
    impostors = [str(p) for p in _photos(lfw_fixtures, "Tony_Blair")]
    impostors += [str(p) for p in _photos(lfw_fixtures, "Gerhard_Schroeder")]
    # every image that does not unlock is a failed attempt: allow them all here
    assert main(["config", "set", "lockout_attempts", "100"]) == 0
    capsys.readouterr()
    code = main(["verify", "--user", "colin", *genuine, *impostors])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1  # some images do not unlock
    assert [r["file"] for r in rows] == genuine + impostors
    assert all(set(r) == {"file", "face", "p", "unlocked"} for r in rows)
    assert all(0.0 <= r["p"] <= 1.0 and len(r["face"]) == 4 for r in rows)
    assert all(r["unlocked"] == (r["p"] >= 0.5) for r in rows)
    assert sum(r["unlocked"] for r in rows[: len(genuine)]) >= 2
    assert not any(r["unlocked"] for r in rows[len(genuine) :])
    unlocking = [r["file"] for r in rows if r["unlocked"]]
    assert main(["verify", "--user", "colin", *unlocking]) == 0


def test_enrol_from_one_photo(shared_pipeline, home, lfw_fixtures):
    photo = DATA / "lin-manuel-miranda.png"
    profile = enrol(shared_pipeline, str(photo), "lin", progress=False)
    assert profile.embeddings.shape == (1, 512)
    assert profile.extra["appearances"][0]["kind"] == "image"
    from faceunlock.models.unlock_head.scorer import UnlockScorer

    scorer = UnlockScorer()
    same = shared_pipeline.require_face(photo).embedding[None]
    assert scorer.probability(same, profile)[0] >= 0.5
    others = [DATA / "alex-lacamoire.png", *_photos(lfw_fixtures, "Tony_Blair")[:3]]
    live = np.stack([shared_pipeline.require_face(p).embedding for p in others])
    assert (scorer.probability(live, profile) < 0.5).all()


def test_enrol_from_video_keeps_varied_frames_of_one_person(shared_pipeline, home):
    profile = enrol(
        shared_pipeline, str(DATA / "short_hamilton_clip.mp4"), "clip", frames=4, progress=False
    )
    emb = profile.embeddings
    assert len(emb) == 4
    cos = emb @ emb.T
    assert cos[~np.eye(len(emb), dtype=bool)].min() >= 0.45  # one person
    assert profile.extra["appearances"][0]["kind"] == "video"


def test_select_varied_takes_the_most_different_frames_of_a_still_sitter():
    rng = np.random.default_rng(0)
    base = rng.normal(size=512)
    still = base + rng.normal(scale=0.05, size=(60, 512)) * np.linalg.norm(base) / 22
    turned = base + rng.normal(scale=0.6, size=(2, 512)) * np.linalg.norm(base) / 22
    emb = np.concatenate([still[:30], turned[:1], still[30:], turned[1:]])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    kept = select_varied(emb, 5)
    assert len(kept) == len(set(kept)) == 5
    assert {30, 61} <= set(kept)  # the two turned frames are the most different ones
    assert select_varied(emb[:3], 5) == [0, 1, 2]


def test_a_person_sitting_still_enrols_from_a_video(shared_pipeline, home, tmp_path, caplog):
    """A video of near-identical frames enrols (it used to be refused as "near-identical")."""
    photo = cv2.imread(str(DATA / "lin-manuel-miranda.png"))
    photo = cv2.resize(photo, (480, round(photo.shape[0] * 480 / photo.shape[1])))
    path = tmp_path / "still.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, photo.shape[1::-1])
    rng = np.random.default_rng(1)
    for _ in range(24):
        noisy = np.clip(photo + rng.normal(0, 2, photo.shape), 0, 255).astype(np.uint8)
        writer.write(noisy)
    writer.release()
    caplog.set_level(logging.INFO, logger="faceunlock")
    profile = enrol(shared_pipeline, str(path), "still", frames=8, progress=True)
    assert len(profile.embeddings) == 8
    assert profile.extra["appearances"][0]["pairwise_cosine"] > 0.9
    err = caplog.text
    assert "much alike" in err and "--add" in err
    assert "hold still" not in err


def test_photo_without_face_fails_cleanly_and_writes_nothing(shared_pipeline, home, tmp_path):
    blank = tmp_path / "wall.png"
    rng = np.random.default_rng(0)
    cv2.imwrite(str(blank), (rng.random((240, 320, 3)) * 40 + 100).astype(np.uint8))
    assert main(["enroll", "nobody", "--source", str(blank), "--quiet"]) == 2
    assert ProfileStore().names() == []
    assert not (home / "profiles").exists() or not list((home / "profiles").iterdir())
    with pytest.raises(FaceUnlockError, match="no usable face"):
        enrol(shared_pipeline, str(blank), "nobody", progress=False)


def test_bad_sources_and_names_exit_2(shared_pipeline, home, tmp_path, powell_folder):
    assert main(["enroll", "x", "--source", str(tmp_path / "missing.jpg")]) == 2
    assert main(["enroll", "../evil", "--source", str(powell_folder)]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["enroll", "x", "--source", str(empty)]) == 2
    assert ProfileStore().names() == []


def test_add_appearance_and_refuse_overwrite(shared_pipeline, home, lfw_fixtures, powell_folder):
    enrol(shared_pipeline, str(powell_folder), "colin", progress=False)
    extra = _photos(lfw_fixtures, "Colin_Powell")[6]
    assert main(["enroll", "colin", "--source", str(extra), "--quiet"]) == 2  # exists
    profile = enrol(shared_pipeline, str(extra), "colin", add=True, progress=False)
    assert profile.appearances == 2 and profile.embeddings.shape == (6, 512)
    assert len(ProfileStore().load("colin").extra["appearances"]) == 2
    assert main(["enroll", "ghost", "--source", str(extra), "--add", "--quiet"]) == 2


def test_profile_round_trips(shared_pipeline, home, powell_folder):
    saved = enrol(shared_pipeline, str(powell_folder), "colin", progress=False)
    loaded = ProfileStore().load("colin")
    assert isinstance(loaded, Profile)
    np.testing.assert_array_equal(loaded.embeddings, saved.embeddings)
    assert loaded.weights_sha256 == shared_pipeline.weights_sha256
    assert loaded.source == str(powell_folder)
    assert loaded.extra["unlock_net_sha256"] == saved.extra["unlock_net_sha256"]
    assert loaded.to_json() == saved.to_json()


def test_users_list_and_remove(shared_pipeline, home, powell_folder, capsys):
    enrol(shared_pipeline, str(powell_folder), "colin", progress=False)
    capsys.readouterr()
    assert main(["users", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["name"], r["embeddings"]) for r in rows] == [("colin", 5)]
    assert main(["users", "remove", "colin", "-y"]) == 0
    assert ProfileStore().names() == []
    assert main(["users", "remove", "colin", "-y"]) == 2


def test_verify_errors(shared_pipeline, home, tmp_path, powell_folder, lfw_fixtures, capsys):
    assert main(["verify", "--user", "nobody", str(powell_folder)]) == 2  # unknown user
    enrol(shared_pipeline, str(powell_folder), "colin", progress=False)
    capsys.readouterr()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    assert main(["verify", "--user", "colin", str(broken)]) == 2
    row = json.loads(capsys.readouterr().out)
    assert row["file"] == str(broken) and row["p"] is None and "error" in row
