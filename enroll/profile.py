"""User profiles: the enrolled embeddings and metadata, one file per user in the data dir.

A profile is JSON (`<data dir>/profiles/<name>.json`) with the enrolled embeddings as
base64 little-endian float32. Written atomically: a reader never sees half a profile.
This module imports no torch, so the ONNX runtime path can read profiles too.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from unlock.errors import FaceUnlockError
from unlock.paths import data_dir

PROFILE_VERSION = 1
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_user_name(name: str) -> str:
    """Return `name` if it is a valid user name, else raise a FaceUnlockError."""
    if not _NAME_RE.match(name or "") or name in (".", ".."):
        raise FaceUnlockError(
            f"invalid user name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


@dataclass
class Profile:
    """An enrolled user: name, enrolled embeddings (K x 512) and metadata."""

    name: str
    embeddings: np.ndarray
    weights_sha256: str
    source: str = ""
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    updated: str = ""
    appearances: int = 1
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        emb = np.ascontiguousarray(self.embeddings, dtype="<f4")
        return {
            "version": PROFILE_VERSION,
            "name": self.name,
            "created": self.created,
            "updated": self.updated or self.created,
            "source": self.source,
            "appearances": self.appearances,
            "weights_sha256": self.weights_sha256,
            "embedding_shape": list(emb.shape),
            "embeddings": base64.b64encode(emb.tobytes()).decode("ascii"),
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict, origin: str = "profile") -> Profile:
        try:
            if data.get("version") != PROFILE_VERSION:
                raise ValueError(f"unsupported profile version {data.get('version')!r}")
            shape = tuple(int(v) for v in data["embedding_shape"])
            raw = base64.b64decode(data["embeddings"], validate=True)
            emb = np.frombuffer(raw, "<f4").astype(np.float32).reshape(shape)
            if emb.ndim != 2 or emb.shape[0] < 1 or not np.isfinite(emb).all():
                raise ValueError("bad embeddings")
            return cls(
                name=str(data["name"]),
                embeddings=emb,
                weights_sha256=str(data["weights_sha256"]),
                source=str(data.get("source", "")),
                created=str(data["created"]),
                updated=str(data.get("updated", "")),
                appearances=int(data.get("appearances", 1)),
                extra=dict(data.get("extra", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FaceUnlockError(
                f"{origin} is corrupt ({exc}); remove it with `faceunlock users remove` "
                "and enrol again"
            ) from None


class ProfileStore:
    """The profiles in a data directory."""

    def __init__(self, home: str | os.PathLike | None = None) -> None:
        self.home = data_dir(home)
        self.folder = self.home / "profiles"

    def path(self, name: str) -> Path:
        return self.folder / f"{check_user_name(name)}.json"

    def names(self) -> list[str]:
        """Enrolled user names, sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json"))

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def load(self, name: str) -> Profile:
        """The user's profile, or a FaceUnlockError that says what to do."""
        path = self.path(name)
        if not path.is_file():
            known = ", ".join(self.names()) or "none"
            raise FaceUnlockError(
                f"unknown user {name!r} (enrolled: {known}); enrol with `faceunlock enroll {name}`"
            )
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FaceUnlockError(
                f"profile {path} is unreadable ({exc}); remove it with "
                f"`faceunlock users remove {name}` and enrol again"
            ) from None
        if not isinstance(data, dict):
            raise FaceUnlockError(f"profile {path} is corrupt; remove it and enrol again")
        profile = Profile.from_json(data, origin=f"profile {path}")
        if profile.name != name:
            raise FaceUnlockError(f"profile {path} belongs to {profile.name!r}, not {name!r}")
        return profile

    def load_all(self) -> list[Profile]:
        return [self.load(n) for n in self.names()]

    def save(self, profile: Profile) -> Path:
        """Write the profile atomically (temporary file, fsync, rename)."""
        path = self.path(profile.name)
        self.folder.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(profile.to_json(), indent=1).encode()
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def remove(self, name: str) -> None:
        path = self.path(name)
        if not path.is_file():
            raise FaceUnlockError(
                f"unknown user {name!r}; `faceunlock users list` shows who is enrolled"
            )
        path.unlink()
