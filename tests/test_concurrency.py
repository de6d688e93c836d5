"""Enrolment, removal and adaptive updates of one user do not race (per-user lock)."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from faceunlock.enroll.enrolment import enrol
from faceunlock.enroll.profile import Profile, ProfileStore
from faceunlock.unlock import media
from faceunlock.unlock.errors import FaceUnlockError

DATA = media.DATA_DIR
PHOTO = str(DATA / "lin-manuel-miranda.png")


def _once(action):
    """A guide callback that runs `action` on the first frame of an enrolment, while the
    enrolment is still reading its source (what a second process would do meanwhile)."""
    done = []

    def guide(*_args):
        if not done:
            done.append(True)
            action()

    return guide


def test_a_second_enrolment_of_the_same_name_does_not_overwrite(pipeline, home):
    store = ProfileStore()
    first = lambda: enrol(pipeline, PHOTO, "v", store=store, progress=False)  # noqa: E731
    with pytest.raises(FaceUnlockError, match="enrolled by another enrolment meanwhile"):
        enrol(pipeline, PHOTO, "v", store=store, progress=False, guide=_once(first))
    assert store.load("v").appearances == 1


def test_two_added_appearances_at_once_are_both_kept(pipeline, home):
    store = ProfileStore()
    enrol(pipeline, PHOTO, "v", store=store, progress=False)
    other = lambda: enrol(pipeline, PHOTO, "v", add=True, store=store, progress=False)  # noqa: E731
    enrol(pipeline, PHOTO, "v", add=True, store=store, progress=False, guide=_once(other))
    profile = store.load("v")
    assert profile.appearances == 3 and len(profile.embeddings) == 3


def test_a_removal_during_an_added_appearance_sticks(pipeline, home):
    store = ProfileStore()
    enrol(pipeline, PHOTO, "v", store=store, progress=False)
    remove = lambda: store.remove("v")  # noqa: E731
    with pytest.raises(FaceUnlockError, match="removed while this enrolment ran"):
        enrol(pipeline, PHOTO, "v", add=True, store=store, progress=False, guide=_once(remove))
    assert not store.exists("v")


def _bump(home: str, rounds: int) -> None:
    store = ProfileStore(home)

    def add_one(current):
        current.extra["count"] = current.extra.get("count", 0) + 1
        return current

    for _ in range(rounds):
        store.update("v", add_one)


def test_updates_from_many_processes_are_all_kept(home):
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(2, 512)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    ProfileStore().save(Profile(name="v", embeddings=emb, weights_sha256="ab" * 32))
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_bump, args=(str(home), 15)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert ProfileStore().load("v").extra["count"] == 60


def test_only_camera_formats_are_decoded_and_the_pixel_cap_holds_for_each(tmp_path):
    import zlib

    import cv2

    from faceunlock.unlock.images import MAX_PIXELS, decode_image, image_format, load_image

    hdr = tmp_path / "big.jpg"  # a Radiance HDR of 8000 x 8000 under a JPEG name
    hdr.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 8000 +X 8000\n" + b"\x02" * 4096)
    with pytest.raises(FaceUnlockError, match="faceunlock reads JPEG, PNG, WebP"):
        load_image(hdr)
    small = np.full((8, 8, 3), 200, np.uint8)
    for ext, fmt in ((".jpg", "JPEG"), (".png", "PNG"), (".bmp", "BMP"), (".webp", "WebP")):
        data = cv2.imencode(ext, small)[1].tobytes()
        assert image_format(data) == fmt
        assert decode_image(data).shape == (8, 8, 3)
    # a PNG whose header claims more pixels than the cap is refused before decoding
    png = bytearray(cv2.imencode(".png", small)[1].tobytes())
    side = int(MAX_PIXELS**0.5) + 10
    png[16:24] = side.to_bytes(4, "big") + side.to_bytes(4, "big")
    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")  # IHDR's checksum
    with pytest.raises(FaceUnlockError, match="megapixels"):
        decode_image(bytes(png))
    with pytest.raises(FaceUnlockError, match="header is damaged"):
        decode_image(b"\xff\xd8\xff" + b"\x00" * 64)


def test_a_data_dir_others_can_write_to_is_warned_about(home, capsys):
    from faceunlock.unlock.cli import main

    main(["config"])
    assert "warning" not in capsys.readouterr().err
    home.chmod(0o777)
    try:
        main(["config"])
        err = capsys.readouterr().err
        assert "can be written by other users (mode 777)" in err and "chmod 700" in err
    finally:
        home.chmod(0o700)
