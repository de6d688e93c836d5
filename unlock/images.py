"""Reading images and frames safely, with errors a user can act on."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from faceunlock.unlock.errors import FaceUnlockError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm")
MAX_PIXELS = 40_000_000  # 40 megapixels: larger claims are refused before decoding
MAX_FILE_BYTES = 64 * 1024 * 1024


def _header_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the image header, without decoding pixels (None if unknown)."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    except Image.DecompressionBombError:
        return (10**6, 10**6)


@contextlib.contextmanager
def _native_stderr_silenced():
    """Silence what C libraries print on fd 2 (libpng's warnings on broken files)."""
    if os.environ.get("FACEUNLOCK_DEBUG"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# The formats cameras, phones and screenshots produce, by their first bytes. Anything else
# (Radiance HDR, OpenEXR, JPEG 2000, ...) is refused before a decoder sees it.
_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"P5", "PGM"),
    (b"P6", "PPM"),
)


def image_format(data: bytes) -> str | None:
    """The accepted format of image bytes (JPEG, PNG, WebP, BMP, TIFF, PGM, PPM), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((fmt for magic, fmt in _MAGIC if data.startswith(magic)), None)


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Decode image bytes into a BGR uint8 array (any depth, alpha or palette is converted).

    Only the formats of `image_format` are decoded, and only after their header says the
    image has at most MAX_PIXELS pixels.
    """
    if not data:
        raise FaceUnlockError(f"{name}: the file is empty")
    if image_format(data) is None:
        raise FaceUnlockError(
            f"{name}: not a readable image (faceunlock reads JPEG, PNG, WebP, BMP, TIFF, "
            "PGM and PPM)"
        )
    size = _header_size(data)
    if size is None:
        raise FaceUnlockError(f"{name}: not a readable image (its header is damaged)")
    if size[0] * size[1] > MAX_PIXELS:
        raise FaceUnlockError(
            f"{name}: the image claims {size[0]} x {size[1]} pixels, more than the "
            f"{MAX_PIXELS // 1_000_000} megapixels faceunlock accepts; resize it first"
        )
    array = np.frombuffer(data, np.uint8)
    with _native_stderr_silenced():
        image = cv2.imdecode(array, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise FaceUnlockError(f"{name}: not a readable image (corrupt, truncated or not an image)")
    return image


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as BGR uint8, or raise FaceUnlockError saying what is wrong."""
    path = Path(path)
    if not path.exists():
        raise FaceUnlockError(f"{path}: no such file")
    if path.is_dir():
        raise FaceUnlockError(f"{path}: is a folder, not an image")
    if not path.is_file():  # a device or fifo (/dev/zero, a pipe) would never end
        raise FaceUnlockError(f"{path}: not a regular file, not an image")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise FaceUnlockError(f"{path}: larger than {MAX_FILE_BYTES >> 20} MB; not an image")
        data = path.read_bytes()
    except PermissionError:
        raise FaceUnlockError(f"{path}: permission denied") from None
    except OSError as exc:
        raise FaceUnlockError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return decode_image(data, str(path))


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files in a folder (not recursive), in name order."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
