"""Fuzz the CLI with malformed input: exit 2 with one line, never a traceback, no write.

Hundreds of generated bad inputs (truncated, empty, corrupt, mislabelled and
oversized images; odd pixel formats; no, many and tiny faces; broken videos; missing
cameras; unknown users; corrupt and tampered profiles; bad config values) go through
`unlock.cli.main` in-process, one test per input. Every existing profile and the secret
key must stay byte-identical. The pipeline loader is patched to return the session's
pipeline, so each case costs milliseconds instead of building a pipeline.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from faceunlock.enroll.profile import Profile, ProfileStore
from faceunlock.unlock import media
from faceunlock.unlock.cli import main

POWELL = "Colin_Powell/Colin_Powell_{:04d}.jpg"
BLAIR = "Tony_Blair/Tony_Blair_{:04d}.jpg"
CLIP = media.CLIP

FFMPEG_LOG = re.compile(r"^\[[\w,]+ @ 0x[0-9a-f]+\] ")
BAD = {2}  # malformed input: an error a user can act on
ODD = {0, 1}  # valid but odd images: a legitimate verdict (1 = not unlocked)
ANY_VERDICT = {0, 1, 2}  # partially readable files: a verdict or a clean error


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]  # "{in}" is the inputs folder
    codes: frozenset[int]
    usage_error: bool = False  # argparse's own two-line usage error


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (no real pixel data)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_claiming(jpeg: bytes, width: int, height: int) -> bytes:
    """A real JPEG with its frame header (SOF0/SOF2) edited to claim width x height."""
    data = bytearray(jpeg)
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at >= 0:
            data[at + 5 : at + 9] = struct.pack(">HH", height, width)
            return bytes(data)
    raise AssertionError("no SOF marker")


def pil_bytes(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def make_inputs(folder: Path, lfw: Path) -> tuple[dict[str, set[int]], list[str]]:
    """Write the generated files; returns {file name: allowed exit codes for verify}
    and the names that are malformed (used for enroll too)."""
    rng = random.Random(6)
    jpeg = (lfw / POWELL.format(5)).read_bytes()
    face = cv2.imread(str(lfw / POWELL.format(5)))
    png = cv2.imencode(".png", face)[1].tobytes()
    pil = Image.open(io.BytesIO(jpeg)).convert("RGB")
    verdicts: dict[str, set[int]] = {}

    malformed: list[str] = []

    def put(name: str, data: bytes, codes: set[int]) -> None:
        (folder / name).write_bytes(data)
        verdicts[name] = codes
        if codes is BAD:
            malformed.append(name)

    # empty, truncated, corrupt, not images
    put("empty.jpg", b"", BAD)
    put("empty.png", b"", BAD)
    for frac in (0.002, 0.01, 0.03, 0.1, 0.3):
        put(f"trunc_{frac}.jpg", jpeg[: int(len(jpeg) * frac)], BAD)
        put(f"trunc_{frac}.png", png[: int(len(png) * frac)], BAD)
    for frac in (0.5, 0.8, 0.95):  # decoders may return the readable part
        put(f"trunc_{frac}.jpg", jpeg[: int(len(jpeg) * frac)], ANY_VERDICT)
        put(f"trunc_{frac}.png", png[: int(len(png) * frac)], ANY_VERDICT)
    for seed in range(14):
        data = bytearray(jpeg if seed % 2 == 0 else png)
        local = random.Random(seed)
        hits = local.choice([1, 4, 32])
        region = local.choice([64, len(data)])  # header only, or anywhere
        for _ in range(hits):
            data[local.randrange(min(region, len(data)))] = local.randrange(256)
        put(f"flip_{seed}.{'jpg' if seed % 2 == 0 else 'png'}", bytes(data), ANY_VERDICT)
    for seed, ext in enumerate(["jpg", "png", "bmp", "webp", "tif"]):
        put(f"random.{ext}", random.Random(seed).randbytes(5000), BAD)
    put("text.jpg", b"this is not an image\n" * 20, BAD)
    (folder / "notes.txt").write_text("not an image or a video\n")
    put("html.png", b"<html><body>not a png</body></html>", BAD)
    put("json.jpg", json.dumps({"a": 1}).encode(), BAD)
    put("zip.jpg", b"PK\x03\x04" + bytes(200), BAD)
    put("png_as.jpg", png, ODD)  # a real image with the wrong suffix is still an image
    put("header_only.jpg", jpeg[:2] + b"\xff\xd9", BAD)
    put("png_20000x20000.png", png_claiming(20000, 20000), BAD)
    put("png_100000x100000.png", png_claiming(100000, 100000), BAD)
    put("png_65535x700.png", png_claiming(65535, 700), BAD)
    put("png_0x0.png", png_claiming(0, 0), BAD)
    put("jpeg_65000x65000.jpg", jpeg_claiming(jpeg, 65000, 65000), BAD)
    put("jpeg_9000x9000.jpg", jpeg_claiming(jpeg, 9000, 9000), BAD)

    # valid but odd pixel formats of a real face: a verdict, not an error
    put("16bit.png", cv2.imencode(".png", face.astype(np.uint16) * 257)[1].tobytes(), ODD)
    rgba = np.dstack([face, np.full(face.shape[:2], 200, np.uint8)])
    put("rgba.png", cv2.imencode(".png", rgba)[1].tobytes(), ODD)
    put("grey.jpg", pil_bytes(pil.convert("L"), "JPEG"), ODD)
    put("grey.png", pil_bytes(pil.convert("L"), "PNG"), ODD)
    put("grey_alpha.png", pil_bytes(pil.convert("LA"), "PNG"), ODD)
    put("palette.png", pil_bytes(pil.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"), ODD)
    put("bilevel.png", pil_bytes(pil.convert("1"), "PNG"), ODD)
    put("cmyk.jpg", pil_bytes(pil.convert("CMYK"), "JPEG"), ODD)
    put("progressive.jpg", pil_bytes(pil, "JPEG", progressive=True, quality=60), ODD)
    put("face.bmp", pil_bytes(pil, "BMP"), ODD)
    put("face.webp", pil_bytes(pil, "WEBP"), ODD)
    put("face.tif", pil_bytes(pil, "TIFF"), ODD)
    put("face.ppm", pil_bytes(pil, "PPM"), ODD)
    put("float.tif", pil_bytes(pil.convert("F"), "TIFF"), ANY_VERDICT)  # OpenCV may refuse

    # faces: none, many, tiny
    put("grey_field.png", cv2.imencode(".png", np.full((240, 320, 3), 128, np.uint8))[1], ODD)
    noise = np.random.default_rng(1).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    put("noise.png", cv2.imencode(".png", noise)[1].tobytes(), ODD)
    put("black.jpg", cv2.imencode(".jpg", np.zeros((100, 100, 3), np.uint8))[1].tobytes(), ODD)
    put("one_pixel.png", cv2.imencode(".png", face[:1, :1])[1].tobytes(), ODD)
    put("strip.png", cv2.imencode(".png", cv2.resize(face, (2000, 3)))[1].tobytes(), ODD)
    tiles = [cv2.imread(str(p)) for p in sorted(lfw.glob("*/*.jpg"))[:16]]
    tiles = [cv2.resize(t, (160, 160)) for t in tiles]
    many = np.vstack([np.hstack(tiles[r * 4 : r * 4 + 4]) for r in range(4)])
    put("many_faces.jpg", cv2.imencode(".jpg", many)[1].tobytes(), ODD)
    for size in (12, 24, 40):
        put(f"tiny_{size}.png", cv2.imencode(".png", cv2.resize(face, (size, size)))[1], ODD)

    # not files
    (folder / "folder.jpg").mkdir()
    os.mkfifo(folder / "fifo.jpg")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    (folder / "dangling.jpg").symlink_to(folder / "nowhere.jpg")
    for name in ("folder.jpg", "fifo.jpg", "zero.jpg", "dangling.jpg", "missing.jpg"):
        verdicts[name] = BAD
        malformed.append(name)
    rng.shuffle(malformed)
    return verdicts, malformed


def make_videos(folder: Path) -> list[str]:
    """Broken or faceless videos, all of which must fail enrolment."""
    clip = CLIP.read_bytes()
    names = []

    def put(name: str, data: bytes) -> None:
        (folder / name).write_bytes(data)
        names.append(name)

    put("empty.mp4", b"")
    for frac in (0.001, 0.02):
        put(f"trunc_{frac}.mp4", clip[: int(len(clip) * frac)])
    put("random.mp4", random.Random(1).randbytes(20000))
    put("random.avi", random.Random(2).randbytes(20000))
    put("text.mp4", b"not a video\n" * 100)
    put("jpeg_as.mp4", media.photo_path("lin-manuel-miranda").read_bytes()[:5000])
    header_only = bytearray(clip[:4096]) + random.Random(3).randbytes(4096)
    put("mangled.mp4", bytes(header_only))
    writer = cv2.VideoWriter(
        str(folder / "faceless.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120)
    )
    for i in range(12):
        writer.write(np.full((120, 160, 3), 20 * i, np.uint8))
    writer.release()
    names.append("faceless.avi")
    return names


CORRUPT_PROFILES = ["truncated", "tampered", "swapped", "nomac", "garbage", "empty", "oldformat"]


def make_profiles(store: ProfileStore, pipeline, lfw: Path) -> None:
    """Two real users (alice: Powell, bob: Blair) and one file for each kind of corruption."""
    for name, pattern in (("alice", POWELL), ("bob", BLAIR)):
        emb = np.stack(
            [pipeline.require_face(lfw / pattern.format(i)).embedding for i in (1, 2, 3)]
        )
        store.save(Profile(name, emb, pipeline.weights_sha256, source="fixtures"))
    good = store.path("alice").read_bytes()
    store.save(Profile("tampered", np.ones((1, 512), np.float32) / 512**0.5, "x"))
    data = json.loads(store.path("tampered").read_text())
    data["embeddings"] = json.loads(good)["embeddings"]
    data["embedding_shape"] = json.loads(good)["embedding_shape"]
    store.path("tampered").write_text(json.dumps(data))
    store.path("truncated").write_bytes(good[: len(good) // 2])
    store.path("swapped").write_bytes(store.path("bob").read_bytes())
    nomac = json.loads(good)
    del nomac["mac"]
    nomac["name"] = "nomac"
    store.path("nomac").write_text(json.dumps(nomac))
    store.path("garbage").write_bytes(random.Random(4).randbytes(3000))
    store.path("empty").write_bytes(b"")
    old = json.loads(good)
    old.update(version=1, name="oldformat")
    del old["mac"]
    store.path("oldformat").write_text(json.dumps(old))


def _input_cases(add, verdicts: dict[str, set[int]], malformed: list[str], videos: list[str]):
    """verify and enroll on every generated file and video."""
    for name, codes in verdicts.items():
        add(f"verify-{name}", ["verify", "--user", "alice", f"{{in}}/{name}"], codes)
    for i, name in enumerate(malformed):
        user = f"new{i}"
        add(f"enroll-{name}", ["enroll", user, "--source", f"{{in}}/{name}", "--quiet"])
        add(f"enroll-add-{name}", ["enroll", "bob", "--add", "--source", f"{{in}}/{name}"])
    # several files at once: one bad file makes the whole call exit 2
    add("verify-mixed", ["verify", "--user", "bob", "{in}/grey.jpg", "{in}/empty.jpg"])
    add("verify-all-bad", ["verify", "--user", "bob", *[f"{{in}}/{n}" for n in malformed[:8]]])
    for name in videos:
        add(f"enroll-video-{name}", ["enroll", "vid", "--source", f"{{in}}/{name}", "--quiet"])
        add(
            f"enroll-video-frames-{name}",
            ["enroll", "vid", "--source", f"{{in}}/{name}", "--frames", "2"],
        )


def _enrol_and_user_cases(add):
    """Bad enrolment options, bad and unknown user names, corrupt profiles."""
    for index in ("7", "42", "999"):
        add(f"enroll-camera-{index}", ["enroll", "cam", "--source", index, "--quiet"])
    add("enroll-empty-folder", ["enroll", "fold", "--source", "{in}/folder.jpg", "--quiet"])
    add("enroll-bad-frames", ["enroll", "cam", "--source", "{in}/grey.jpg", "--frames", "0"])
    add("enroll-neg-frames", ["enroll", "cam", "--source", "{in}/grey.jpg", "--frames", "-5"])
    add("enroll-existing", ["enroll", "alice", "--source", "{in}/grey.jpg", "--quiet"])
    add("enroll-add-unknown", ["enroll", "nobody", "--add", "--source", "{in}/grey.jpg"])
    add("enroll-stream", ["enroll", "web", "--source", "rtsp://127.0.0.1:9/none", "--quiet"])
    add("enroll-unknown-type", ["enroll", "x", "--source", "{in}/notes.txt", "--quiet"])
    for bad in ("../alice", "", "-", ".hidden", "a/b", "x" * 70, "sp ace", "é"):
        add(f"enroll-name-{bad[:8]!r}", ["enroll", bad, "--source", "{in}/grey.jpg"])
        add(f"verify-name-{bad[:8]!r}", ["verify", "--user", bad, "{in}/grey.jpg"])
        add(f"remove-name-{bad[:8]!r}", ["users", "remove", bad])
    for user in ("nobody", "Alice", "alice.json"):
        add(f"verify-unknown-{user}", ["verify", "--user", user, "{in}/grey.jpg"])
        add(f"remove-unknown-{user}", ["users", "remove", user])
    for user in CORRUPT_PROFILES:
        add(f"verify-corrupt-{user}", ["verify", "--user", user, "{in}/grey.jpg"])
        add(f"enroll-add-corrupt-{user}", ["enroll", user, "--add", "--source", "{in}/grey.jpg"])
        add(f"verify-corrupt-onnx-{user}", ["verify", "--user", user, "--runtime", "onnx", "x.jpg"])
    add("users-list", ["users", "list"], {0, 2})


def _loop_cases(add, videos: list[str]):
    """The live loop, headless, on sources that cannot work."""
    loop = ["unlock", "--no-window", "--json"]
    for name in videos[:6]:
        add(f"unlock-video-{name}", [*loop, "--user", "alice", "--source", f"{{in}}/{name}"])
    for name in ("missing.jpg", "folder.jpg", "notes.txt", "fifo.jpg"):
        add(f"unlock-source-{name}", [*loop, "--user", "alice", "--source", f"{{in}}/{name}"])
    for index in ("7", "63"):
        add(f"unlock-camera-{index}", [*loop, "--user", "alice", "--source", index])
    for user in ("nobody", "../x", *CORRUPT_PROFILES[:4]):
        add(f"unlock-user-{user}", [*loop, "--user", user, "--source", "{in}/empty.mp4"])
    for timeout in ("0", "-1", "nan", "soon"):
        add(
            f"unlock-timeout-{timeout}",
            [*loop, "--user", "alice", "--timeout", timeout, "--source", "{in}/empty.mp4"],
            usage=timeout == "soon",
        )


BAD_CONFIG = [
    ("k", "0"),
    ("k", "200"),
    ("n", "-1"),
    ("k", "2.5"),
    ("k", ""),
    ("timeout_s", "nan"),
    ("timeout_s", "-3"),
    ("timeout_s", "1e400"),
    ("lockout_s", "forever"),
    ("lockout_attempts", "0"),
    ("min_face_size", "1"),
    ("dark_threshold", "300"),
    ("liveness", "maybe"),
    ("liveness", "2"),
    ("nonsense", "1"),
    ("K", "3"),
]


def _other_cases(add):
    """config, eval, export and usage errors."""
    for key, value in BAD_CONFIG:
        add(f"config-set-{key}-{value[:6]}", ["config", "set", key, value])
    add("config-reset-unknown", ["config", "reset", "speed"])
    add("eval-lfw-missing", ["eval", "lfw", "--data", "{in}/no_such_dir"])
    add("eval-liveness-missing", ["eval", "liveness", "--lfw", "{in}/no_such_dir"])
    add("eval-unlock-missing", ["eval", "unlock", "--data", "{in}/no_such_dir"])
    add("eval-lfw-file", ["eval", "lfw", "--data", "{in}/grey.jpg"])
    for user in ("nobody", "tampered", "truncated", "../x"):
        add(f"export-{user}", ["export", "--user", user, "--out", "{in}/../export_out"])
    add("usage-no-command", [], usage=True)
    add("unknown-command", ["frobnicate"])  # one line naming the commands
    add("enrol-alias-missing", ["enrol", "x", "--source", "{in}/not-there.jpg", "--quiet"])
    add("usage-verify-no-user", ["verify", "{in}/grey.jpg"], usage=True)
    add("usage-bad-runtime", ["verify", "--user", "alice", "--runtime", "tpu", "x"], usage=True)
    add("usage-frames-not-int", ["enroll", "x", "--frames", "many"], usage=True)


def build_cases(verdicts: dict[str, set[int]], malformed: list[str], videos: list[str]):
    cases: list[Case] = []

    def add(id_: str, argv: list[str], codes=BAD, usage: bool = False) -> None:
        cases.append(Case(id_, tuple(argv), frozenset(codes), usage))

    _input_cases(add, verdicts, malformed, videos)
    _enrol_and_user_cases(add)
    _loop_cases(add, videos)
    _other_cases(add)
    return cases


def generated_cases(root: Path) -> list[Case]:
    """Write the generated inputs into `root` and return the cases over them."""
    verdicts, malformed = make_inputs(root, LFW)
    videos = make_videos(root)
    return build_cases(verdicts, malformed, videos)


def _collect_cases() -> list[Case]:
    """The cases, known at collection time (inputs are generated deterministically)."""
    with tempfile.TemporaryDirectory() as tmp:
        return generated_cases(Path(tmp))


LFW = Path(__file__).resolve().parent / "fixtures" / "lfw"
CASES = _collect_cases()


# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory, pipeline, lfw_fixtures):
    """A data dir with real and corrupt profiles, and a folder of generated bad inputs."""
    root = tmp_path_factory.mktemp("fuzz")
    home, inputs = root / "home", root / "inputs"
    inputs.mkdir()
    store = ProfileStore(home)
    make_profiles(store, pipeline, lfw_fixtures)
    cases = generated_cases(inputs)
    assert [c.id for c in cases] == [c.id for c in CASES]
    return {"home": home, "inputs": inputs, "cases": cases}


def data_snapshot(home: Path) -> dict[str, str]:
    """SHA-256 of every file in the data dir (profiles, key, config)."""
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def run_main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse usage errors
        return exc.code if isinstance(exc.code, int) else 2


def check_case(case: Case, world, pipeline, monkeypatch, capfd) -> list[str]:
    """Run one case; return what went wrong (empty when all is well)."""
    import faceunlock.unlock.pipeline.runtime

    monkeypatch.setenv("FACEUNLOCK_HOME", str(world["home"]))
    monkeypatch.setattr(
        faceunlock.unlock.pipeline.runtime, "load_pipeline", lambda *a, **k: pipeline
    )
    argv = [a.replace("{in}", str(world["inputs"])) for a in case.argv]
    before = data_snapshot(world["home"])
    capfd.readouterr()
    code = run_main(argv)
    out, err = capfd.readouterr()
    after = data_snapshot(world["home"])
    problems = []
    if code not in case.codes:
        problems.append(f"exit code {code}, expected {sorted(case.codes)}")
    if "Traceback" in out + err:
        problems.append("traceback")
    if "FACEUNLOCK_DEBUG" in err:
        problems.append(f"unexpected exception: {err.strip()}")
    problems += _data_problems(argv, code, out, before, after, world["home"])
    problems += _output_problems(case, code, out, err)
    return problems


def _data_problems(argv, code: int, out: str, before: dict, after: dict, home: Path) -> list:
    """Files of the data directory a case changed, removed or wrongly wrote."""
    problems = []
    changed = {k for k in before if before[k] != after.get(k)}
    if argv[:1] == ["verify"] and re.search(r'"p": \d', out):
        changed.discard("lockout.json")  # a scored face is an attempt: the count moves
    if changed:
        problems.append(f"changed or removed: {sorted(changed)}")
    new_profiles = [k for k in after if k not in before and k.startswith("profiles/")]
    if new_profiles and code == 2:
        problems.append(f"wrote {new_profiles} although it failed")
    for extra in new_profiles:  # a legitimate enrolment from a readable file: undo it
        (home / extra).unlink()
    return problems


def _output_problems(case: Case, code: int, out: str, err: str) -> list:
    """What is wrong with a case's stderr: one faceunlock line for an error, or usage."""
    problems = []
    # FFmpeg reads its log level once per process: the CLI silences it at start (see the
    # subprocess test below), but inside pytest an earlier test may have woken FFmpeg first
    lines = [line for line in err.splitlines() if line.strip() and not FFMPEG_LOG.match(line)]
    if case.argv[:1] == ("enroll",) and "--quiet" not in case.argv:
        lines = lines[-1:]  # progress lines come before the error
    if code == 2 and not case.usage_error:
        json_errors = [
            line for line in out.splitlines() if line.startswith("{") and '"error"' in line
        ]
        if len(lines) == 1:
            if not lines[0].startswith("faceunlock: error: "):
                problems.append(f"error line not from faceunlock: {lines[0]!r}")
        elif not (lines == [] and json_errors):
            problems.append(f"{len(lines)} stderr lines: {err!r}")
    if case.usage_error and (code != 2 or "usage: faceunlock" not in out + err):
        problems.append(f"usage error not reported: {err!r}")
    return problems


def test_there_are_hundreds_of_cases_with_unique_ids():
    assert len(CASES) >= 200
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fuzz_cli(case, world, pipeline, monkeypatch, capfd):
    problems = check_case(case, world, pipeline, monkeypatch, capfd)
    assert not problems, f"{case.id}: {problems}"


def test_fuzz_covers_every_command(world):
    """Every registered subcommand that takes input is fuzzed (new commands need cases)."""
    from faceunlock.unlock.cli import build_parser

    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)
    fuzzed = {case.argv[0] for case in world["cases"] if case.argv}
    untested = commands - fuzzed - {"info", "bench", "demo"}
    assert not untested, f"no fuzz cases for: {sorted(untested)}"


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "--user", "alice", "{in}/png_20000x20000.png"],
        ["enroll", "x", "--source", "{in}/trunc_0.01.jpg", "--quiet"],
        ["verify", "--user", "tampered", "{in}/grey.jpg"],
    ],
)
def test_console_entry_prints_no_traceback(world, argv, tmp_path):
    """The real entry point in a subprocess: one line, exit 2, profiles untouched."""
    before = data_snapshot(world["home"])
    argv = [a.replace("{in}", str(world["inputs"])) for a in argv]
    env = {**os.environ, "FACEUNLOCK_HOME": str(world["home"])}
    env.pop("FACEUNLOCK_DEBUG", None)
    result = subprocess.run(
        [sys.executable, "-m", "faceunlock.unlock", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "FACEUNLOCK_DEBUG" not in result.stderr

    # the first load of the onnx runtime may seal its cached networks (model-seals/)
    def profiles_and_keys(snapshot):
        return {k: v for k, v in snapshot.items() if not k.startswith("model-seals/")}

    assert profiles_and_keys(data_snapshot(world["home"])) == profiles_and_keys(before)
    shutil.rmtree(tmp_path, ignore_errors=True)
