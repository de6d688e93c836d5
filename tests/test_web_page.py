"""`faceunlock export --web` in real headless Chromium: the bundled clip fed as the camera.

The page (onnxruntime-web, wasm) must make the Python onnx runtime's decisions on the same
frames: the same state on every frame, p within 0.01, the same unlock frame (within 2),
and never unlock on another man's face. A second pass in the same browser opens the page
with `?liveness=1`: its states (move_head until the head moved) must be those of the Python
onnx runtime with `--liveness` on the same frames. Needs Debian's chromium, Node.js and
`npm ci --prefix web` (`.ci/run` installs them); skips, saying which is missing, otherwise.

FACEUNLOCK_WEB_SHOTS=DIR keeps each run's screenshot and figures (docs/onnx.md's table).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import statistics
import subprocess
import threading
from pathlib import Path

import cv2
import pytest
from web_clip import STRIP_ROWS, chromium_bgr, read_y4m, write_strip_y4m

from faceunlock.unlock import media

REPO = Path(__file__).resolve().parent.parent
WEB = REPO / "web"
DRIVER = WEB / "tests" / "run_page.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Alex Lacamoire close up (20-49), the dim audience, then Lin-Manuel Miranda (82-210)
FIRST, LAST = 20, 160
PREROLL = 8
MAX_DP = 0.01


def _missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    if shutil.which("node") is None:
        return "no Node.js (Debian: apt-get install nodejs npm)"
    for package in ("onnxruntime-web", "playwright-core"):
        if not (WEB / "node_modules" / package / "package.json").is_file():
            return f"{package} is not installed: run `npm ci --prefix {WEB}`"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


class _IsolatedHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with the headers that let the page use wasm threads."""

    def end_headers(self) -> None:
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory, cli):
    """Lin enrolled from his photo, exported with --web, served on localhost; the clip as
    a Y4M camera file and the Python runtime's JSON lines on the same pixels."""
    root = tmp_path_factory.mktemp("web")
    home = root / "home"
    for args in (
        ("config", "set", "adaptive", "false"),  # the reference run must not change Lin
        ("enroll", "lin", "--source", str(media.photo_path("lin-manuel-miranda"))),
        ("export", "--user", "lin", "--out", str(root / "bundle"), "--web"),
    ):
        result = cli(*args, home=home)
        assert result.returncode == 0, result.stderr
    frames = media.clip_frames(first=FIRST, last=LAST)
    y4m = write_strip_y4m(root / "clip.y4m", frames, fps=1, preroll=PREROLL)
    seen = root / "camera_frames"  # what the page sees: Chromium's own I420 -> RGB
    seen.mkdir()
    for i, frame in enumerate(read_y4m(y4m)[PREROLL:]):
        cv2.imwrite(str(seen / f"{i:04d}.png"), chromium_bgr(frame)[:-STRIP_ROWS])
    python = {}
    for name, extra in (("plain", ()), ("liveness", ("--liveness",))):
        ref = cli(
            *("unlock", "--user", "lin", "--runtime", "onnx", "--source", str(seen)),
            *("--json", "--no-window", *extra),
            home=home,
        )
        python[name] = [json.loads(ln) for ln in ref.stdout.splitlines() if ln.startswith("{")]
    handler = functools.partial(_IsolatedHandler, directory=str(root / "bundle" / "web"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"root": root, "y4m": y4m, "python": python, "port": server.server_address[1]}
    server.shutdown()


# the page's passes: URL parameters of each (one browser, one page after another)
PASSES = {"plain": "", "liveness": "&liveness=1"}


def _run_page(served: dict, threads: int, fps: int, passes: tuple[str, ...]) -> dict:
    """The page's log over the clip at `fps` camera frames per second, per pass."""
    root = served["root"]
    y4m = root / f"clip{fps}.y4m"
    if not y4m.exists():
        data = served["y4m"].read_bytes().replace(b" F1:1 ", f" F{fps}:1 ".encode(), 1)
        y4m.write_bytes(data)
    url = (
        f"http://127.0.0.1:{served['port']}/index.html?strip={STRIP_ROWS}"
        f"&fps={media_fps()}&threads={threads}"
    )
    files = {
        name: (root / f"page{threads}-{name}.json", root / f"page{threads}-{name}.png")
        for name in passes
    }
    for out, _ in files.values():
        out.unlink(missing_ok=True)
    first, *more = [(url + PASSES[name], *files[name]) for name in passes]
    args = [first[0], str(y4m), str(first[1]), str(first[2]), "240"]
    args += [str(a) for triple in more for a in triple]
    run = subprocess.run(
        ["node", str(DRIVER), *args],
        capture_output=True,
        text=True,
        timeout=300 * len(passes),
    )
    pages = {}
    for name, (out, shot) in files.items():
        pages[name] = json.loads(out.read_text()) if out.exists() else {"errors": [run.stderr]}
        pages[name]["screenshot"] = shot
    return pages


def media_fps() -> float:
    """The frame rate the Python runtime gives a folder of frames (its media time)."""
    from faceunlock.unlock.sources import FOLDER_FPS

    return FOLDER_FPS


def _page_until_no_drops(served: dict, threads: int, passes=("plain",)) -> dict:
    """Run the page's passes; a machine too busy to take every camera frame gets a slower
    camera (all passes again)."""
    for fps in (6, 3):
        pages = _run_page(served, threads, fps, passes)
        for page in pages.values():
            assert not page.get("errors"), page.get("errors")
        logs = [e for page in pages.values() for e in page["log"]]
        if not any(e.get("state") == "dropped" for e in logs):
            return pages
    pytest.fail(f"the page missed camera frames even at 3 fps: {pages}")


def _figures(page: dict) -> dict:
    """Median ms per stage over the frames with a scored face, and fps over all frames."""
    scored = [e["ms"] for e in page["log"] if "embed" in e.get("ms", {})]
    every = [e["ms"]["total"] for e in page["log"] if "ms" in e]
    return {
        "threads": page["threads"],
        "fps_all_frames": round(1000 / statistics.mean(every), 1),
        "fps_scored_frames": round(1000 / statistics.mean(m["total"] for m in scored), 1),
        **{f"{k}_ms": round(statistics.median(m[k] for m in scored), 1) for k in scored[0]},
    }


def _compare(page: dict, python: list[dict]) -> float:
    """Asserts the page made Python's decisions; returns max |dp|."""
    frames = {e["frame"]: e for e in page["log"]}
    per_frame = [line for line in python if "frame" in line]
    summary = python[-1]
    worst = 0.0
    for line in per_frame:
        mine = frames.get(line["frame"])
        assert mine is not None, f"the page did not process frame {line['frame']}"
        assert mine["state"] == line["state"], (line, mine)
        if line["p"] is not None:
            worst = max(worst, abs(mine["p"] - line["p"]))
    assert worst <= MAX_DP, f"max |p_page - p_python| {worst}"
    page_unlock = page["summary"]["unlocked_at_frame"]
    assert summary["result"] == "unlocked" and summary["user"] == "lin"
    assert page["summary"]["result"] == "unlocked"
    assert abs(page_unlock - summary["unlocked_at_frame"]) <= 2
    # never anyone else: nothing unlocks while Alex or the audience is on screen
    lin_from = min(media.facing_frames(media.OWNER)) - FIRST
    assert all(e["state"] != "unlocked" for e in page["log"] if e["frame"] < lin_from)
    assert all(e.get("user") in (None, "lin") for e in page["log"])
    return worst


def _keep(page: dict, name: str, figures: dict) -> None:
    folder = os.environ.get("FACEUNLOCK_WEB_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page["screenshot"], Path(folder) / f"{name}.png")
        (Path(folder) / f"{name}.json").write_text(json.dumps(figures, indent=1) + "\n")


@pytest.fixture(scope="module")
def two_threads(served):
    """The page with 2 threads, without and with liveness, in one browser session."""
    return _page_until_no_drops(served, threads=2, passes=("plain", "liveness"))


def test_page_unlocks_lin_like_the_python_runtime(served, two_threads):
    page = two_threads["plain"]
    worst = _compare(page, served["python"]["plain"])
    figures = {**_figures(page), "max_abs_dp": worst, **page["summary"]}
    print(json.dumps(figures))
    _keep(page, "web-page-2-threads", figures)
    assert page["isolated"] and page["threads"] == 2


@pytest.mark.slow
def test_page_on_one_thread(served):
    """One wasm thread (a phone's one core): the same decisions, slower (docs' table)."""
    page = _page_until_no_drops(served, threads=1)["plain"]
    worst = _compare(page, served["python"]["plain"])
    figures = {**_figures(page), "max_abs_dp": worst, **page["summary"]}
    print(json.dumps(figures))
    _keep(page, "web-page-1-thread", figures)
    assert page["threads"] == 1


def _python_checker_on(page: dict) -> tuple[list, float]:
    """The Python LivenessChecker fed the page's own faces (box, landmarks) frame by frame,
    as the desktop loop feeds it: frames where its state differs from the page's, and the
    largest |parallax_page - parallax_python|."""
    import numpy as np

    from faceunlock.models.face import Face
    from faceunlock.unlock.app.liveness import LivenessChecker

    checker, differ, worst = LivenessChecker(), [], 0.0
    for e in page["log"]:
        if e["state"] == "no_face":
            checker.update(None, (0, 0, 3))
        elif e["state"] in ("locked", "unlocked", "move_head"):  # the scored faces
            checker.update(Face(np.array(e["box"]), 1.0, np.array(e["points"])), (0, 0, 3))
        if e["state"] == "dropped":
            continue
        if e["liveness"] != checker.state:
            differ.append((e["frame"], e["liveness"], checker.state))
        worst = max(worst, abs(e["parallax"] - checker.last_parallax))
    return differ, worst


def test_page_liveness_like_the_python_runtime(served, two_threads):
    """`?liveness=1`: the desktop loop's liveness, state for state (move_head until the head
    moved), against `unlock --runtime onnx --liveness` on the same frames, and the page's
    checker against the Python one on the page's own landmarks."""
    page, python = two_threads["liveness"], served["python"]["liveness"]
    assert page["liveness"] is True
    per_frame = [line for line in python if "frame" in line]
    frames = {e["frame"]: e for e in page["log"]}
    differ = [
        (line["frame"], line["state"], frames.get(line["frame"], {}).get("state"))
        for line in per_frame
        if frames.get(line["frame"], {}).get("state") != line["state"]
    ]
    worst = max(
        abs(frames[line["frame"]]["p"] - line["p"])
        for line in per_frame
        if line["p"] is not None and frames.get(line["frame"], {}).get("p") is not None
    )
    checker_differ, worst_parallax = _python_checker_on(page)
    summary = python[-1]
    unlock = page["summary"]["unlocked_at_frame"]
    figures = {
        "frames": len(per_frame),
        "states_equal": len(per_frame) - len(differ),
        "move_head_frames": sum(line["state"] == "move_head" for line in per_frame),
        "unlocked_at_frame_page": unlock,
        "unlocked_at_frame_python": summary["unlocked_at_frame"],
        "max_abs_dp": worst,
        "live_from_frame": min(e["frame"] for e in page["log"] if e.get("liveness") == "live"),
        "checker_states_differ": len(checker_differ),
        "max_abs_dparallax": worst_parallax,
    }
    print(json.dumps(figures))
    _keep(page, "web-page-liveness", figures)
    assert not differ, differ
    assert worst <= MAX_DP
    assert not checker_differ, checker_differ
    assert worst_parallax < 1e-9
    assert summary["result"] == "unlocked" and page["summary"]["result"] == "unlocked"
    assert abs(unlock - summary["unlocked_at_frame"]) <= 2
    assert frames[unlock]["liveness"] == "live"
    assert all(e.get("user") in (None, "lin") for e in page["log"])
