"""`faceunlock export --web`: the bundle's static web page in DIR/web.

The page's source is the repository's `web/app/`; onnxruntime-web comes from the npm
registry at build time (`npm ci --prefix web`, version pinned in `web/package.json` and
`web/package-lock.json`) and its wasm build is copied into the bundle, so the page works
offline. The networks and the manifest are linked (or copied) into `DIR/web/model/`, so
`python -m http.server` in DIR/web serves everything the page needs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from faceunlock.models.onnx_files import MTCNN_FILES, UNLOCK_FILE
from faceunlock.unlock.errors import FaceUnlockError

WEB_SOURCE = Path(__file__).resolve().parent.parent / "web"
ORT_PACKAGE = "onnxruntime-web"
# onnxruntime-web's wasm build: the ES module, its wasm loader and the wasm (SIMD, threads)
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
APP_FILES = ("index.html", "app.js", "loop.js", "liveness.js", "mtcnn.js", "imgproc.js")
MODEL_FILES = (*MTCNN_FILES, UNLOCK_FILE, "manifest.json")


def ort_web_dir(source: Path = WEB_SOURCE) -> Path:
    """onnxruntime-web's dist folder, installed by `npm ci --prefix web`."""
    dist = source / "node_modules" / ORT_PACKAGE / "dist"
    if not all((dist / name).is_file() for name in ORT_FILES):
        raise FaceUnlockError(
            f"--web needs onnxruntime-web from npm: run `npm ci --prefix {source}` "
            "(Node.js and npm; the version is pinned in web/package-lock.json)"
        )
    return dist


def ort_web_version(source: Path = WEB_SOURCE) -> str:
    import json

    package = source / "node_modules" / ORT_PACKAGE / "package.json"
    return str(json.loads(package.read_text())["version"])


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def write_web(bundle: Path, source: Path = WEB_SOURCE) -> Path:
    """Write `bundle/web/` (page, vendored onnxruntime-web, model links); returns it."""
    dist = ort_web_dir(source)
    web = bundle / "web"
    for sub in ("vendor", "model"):
        (web / sub).mkdir(parents=True, exist_ok=True)
    for name in APP_FILES:
        shutil.copyfile(source / "app" / name, web / name)
    for name in ORT_FILES:
        shutil.copyfile(dist / name, web / "vendor" / name)
    licence = dist.parent / "LICENSE"
    if licence.is_file():
        shutil.copyfile(licence, web / "vendor" / "LICENSE-onnxruntime-web")
    for name in MODEL_FILES:
        _link_or_copy(bundle / name, web / "model" / name)
    (web / "vendor" / "VERSION").write_text(f"{ORT_PACKAGE} {ort_web_version(source)}\n")
    return web
