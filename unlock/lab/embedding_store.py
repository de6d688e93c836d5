"""Embeddings of image data sets, computed once through the pipeline and cached on disk.

Used by the benchmarks and by training: a second run over the same files takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from faceunlock.models.cache import cache_dir
from faceunlock.models.crop import CROP_VERSION, MARGIN_FRACTION, face_lighting
from faceunlock.models.files import atomic_path
from faceunlock.unlock.errors import FaceUnlockError
from faceunlock.unlock.images import load_image

ImageTransform = Callable[[np.ndarray, str], np.ndarray]


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write arrays to `path` atomically (a reader never sees half a file)."""
    with atomic_path(path, 0o644) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


class EmbeddingStore:
    """Cached embeddings for files under `root`, for one pipeline setting and transform.

    `pipeline` is any FacePipelineCore (torch or onnx runtime).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        pipeline,
        policy: str = "nearest_centre",
        transform: ImageTransform | None = None,
        transform_name: str = "none",
        fallback_centre: bool = True,
        cache: Path | None = None,
        margin_px: float | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self._given_root = Path(os.path.abspath(root))  # symlinks kept (see `name`)
        self.pipeline = pipeline
        self.policy = policy
        self.transform = transform
        self.fallback_centre = fallback_centre
        self.margin_px = margin_px
        setting = {
            "root": str(self.root),
            "policy": policy,
            "transform": transform_name,
            "fallback": fallback_centre,
            "weights": pipeline.weights_sha256,
            "margin": MARGIN_FRACTION,
            "min_face": pipeline.detector.min_face_size,
        }
        if margin_px is not None:  # absent from older keys: their caches stay valid
            setting["margin_px"] = margin_px
        setting["crop_version"] = CROP_VERSION
        precision = getattr(pipeline, "precision", "fp32")
        if precision != "fp32":  # int8 embeddings differ; fp32 onnx matches torch
            setting["precision"] = precision
        key = json.dumps(setting, sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        self.path = (cache or cache_dir()) / "embeddings" / f"{digest}.npz"
        self._embeddings: dict[str, np.ndarray] = {}
        self._flipped: dict[str, np.ndarray] = {}
        self._found: dict[str, bool] = {}
        self._light: dict[str, np.ndarray] | None = None  # see `lighting`
        self._load()

    def _load(self) -> None:
        if not self.path.is_file():
            return
        try:
            with np.load(self.path, allow_pickle=False) as data:
                rows = zip(data["names"], data["embeddings"], data["flipped"], data["found"])
                for name, emb, flipped, found in rows:
                    self._embeddings[str(name)] = emb
                    self._flipped[str(name)] = flipped
                    self._found[str(name)] = bool(found)
        except (OSError, ValueError, KeyError):
            self._embeddings.clear()
            self._flipped.clear()
            self._found.clear()

    def _save(self) -> None:
        names = sorted(self._embeddings)
        _save_npz(
            self.path,
            names=np.array(names),
            embeddings=np.stack([self._embeddings[n] for n in names]),
            flipped=np.stack([self._flipped[n] for n in names]),
            found=np.array([self._found[n] for n in names]),
        )

    def name(self, file: str | os.PathLike) -> str:
        """The cache's name of `file`: its path under the root as given, so identity
        folders or images that are symlinks to elsewhere keep their place in the data set;
        else its real path under the real root."""
        try:
            return str(Path(os.path.abspath(file)).relative_to(self._given_root))
        except ValueError:
            pass
        try:
            return str(Path(file).resolve().relative_to(self.root))
        except ValueError:
            raise FaceUnlockError(f"{file} is not inside the data set folder {self.root}") from None

    def is_cached(self, file: str | os.PathLike) -> bool:
        """Whether the embedding of `file` is in the cache already."""
        return self.name(file) in self._embeddings

    def _images(self, names: list[str]) -> list[np.ndarray]:
        """The images (transformed, when the store has a transform) of relative names."""
        images = []
        for name in names:
            try:
                image = load_image(self.root / name)
            except FaceUnlockError as exc:
                raise FaceUnlockError(f"data set image unreadable: {exc}") from None
            if self.transform is not None:
                image = self.transform(image, name)
            images.append(image)
        return images

    @property
    def _light_path(self) -> Path:
        return self.path.with_suffix(".light.npz")

    def _light_table(self) -> dict[str, np.ndarray]:
        """The cached lighting values (read once)."""
        if self._light is None:
            self._light = {}
            if self._light_path.is_file():
                try:
                    with np.load(self._light_path, allow_pickle=False) as data:
                        self._light = {str(n): v for n, v in zip(data["names"], data["values"])}
                except (OSError, ValueError, KeyError):
                    self._light = {}
        return self._light

    def _save_light(self) -> None:
        keys = sorted(self._light_table())
        values = np.stack([self._light[k] for k in keys]) if keys else np.zeros((0, 2))
        _save_npz(self._light_path, names=np.array(keys), values=values)

    def _note_lighting(self, names: list[str], crops: list, found: np.ndarray) -> None:
        table = self._light_table()
        for name, crop, ok in zip(names, crops, found):
            values = face_lighting(crop) if ok and crop is not None else (np.nan, np.nan)
            table[name] = np.array(values, np.float32)

    def lighting(
        self, files: Sequence[str | os.PathLike], batch_size: int = 16, progress: bool = True
    ) -> np.ndarray:
        """N x 2: the mean grey level and side imbalance of each file's face crop
        (`models.crop.face_lighting`, what the live loop's lighting gate reads), NaN where
        no face was found. Cached beside the embeddings and noted while embedding; for
        images embedded before, it needs a detection but no embedding."""
        table = self._light_table()
        names = [self.name(f) for f in files]
        missing = [n for n in dict.fromkeys(names) if n not in table]
        if missing:
            bar = tqdm(total=len(missing), desc="lighting", unit="img", disable=not progress)
            for start in range(0, len(missing), batch_size):
                chunk = missing[start : start + batch_size]
                crops, found = self.pipeline.crop_images(
                    self._images(chunk), self.policy, margin_px=self.margin_px
                )
                self._note_lighting(chunk, crops, found)
                bar.update(len(chunk))
            bar.close()
            self._save_light()
        return np.stack([table[n] for n in names]) if names else np.zeros((0, 2), np.float32)

    def embeddings(
        self,
        files: Sequence[str | os.PathLike],
        flip: bool = False,
        batch_size: int = 16,
        progress: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(N x 512 embeddings, N face-found flags) for `files`, computing what is missing.

        With `flip`, each embedding also counts the mirrored crop.
        """
        names = [self.name(f) for f in files]
        missing = [n for n in dict.fromkeys(names) if n not in self._embeddings]
        if missing:
            bar = tqdm(total=len(missing), desc="embedding", unit="img", disable=not progress)
            unsaved = 0
            for start in range(0, len(missing), batch_size):
                chunk = missing[start : start + batch_size]
                crops, found = self.pipeline.crop_images(
                    self._images(chunk),
                    self.policy,
                    fallback_centre=self.fallback_centre,
                    margin_px=self.margin_px,
                )
                embs, flipped = self.pipeline.embed_crop_list(crops)
                self._note_lighting(chunk, crops, found)
                for name, emb, emb_flip, ok in zip(chunk, embs, flipped, found):
                    self._embeddings[name] = emb
                    self._flipped[name] = emb_flip
                    self._found[name] = bool(ok)
                bar.update(len(chunk))
                unsaved += len(chunk)
                if unsaved >= 1000:
                    self._save()
                    self._save_light()
                    unsaved = 0
            bar.close()
            self._save()
            self._save_light()
        table = self._flipped if flip else self._embeddings
        return (
            np.stack([table[n] for n in names]) if names else np.zeros((0, 512)),
            np.array([self._found[n] for n in names], bool),
        )
