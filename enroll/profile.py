"""User profiles: the enrolled embeddings and metadata, one file per user in the data dir.

A profile is JSON (`<data dir>/profiles/<name>.json`) with the enrolled embeddings as
base64 little-endian float32, and an HMAC-SHA256 over its content and the user name
under a per-install secret key (`<data dir>/secret.key`, created on first use). A
profile edited by hand, copied from another install, or renamed to another user's file
fails that check and is refused. Profile and key files are mode 0600 (owner only).

Writes are atomic (`models.files`): a process killed at any point leaves either the
previous profile or the new one, never half of one.
This module imports no torch, so the ONNX runtime path can read profiles too.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from faceunlock.models.files import TEMP_PREFIX, fsync_dir, write_private_file
from faceunlock.models.unlock_head.scorer import same_network
from faceunlock.unlock.errors import FaceUnlockError
from faceunlock.unlock.filelock import exclusive
from faceunlock.unlock.paths import data_dir

PROFILE_VERSION = 2
KEY_FILE = "secret.key"
KEY_BYTES = 32
MAX_PROFILE_BYTES = 64 * 1024 * 1024
_MAC_CONTEXT = b"faceunlock profile v2\x00"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_STALE_TEMP_S = 600  # temporary files of killed writers older than this are removed


def check_user_name(name: str) -> str:
    """Return `name` if it is a valid user name, else raise a FaceUnlockError."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or name in (".", ".."):
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
    # the adaptive part: live embeddings of confident unlocks (see `unlock.app.adaptive`);
    # the enrolled core (`embeddings`) never changes through it
    adaptive: np.ndarray = field(default_factory=lambda: np.zeros((0, 512), np.float32))

    def scoring_set(self) -> np.ndarray:
        """What the unlock network compares a live face with: core + adaptive embeddings."""
        if len(self.adaptive) == 0:
            return self.embeddings
        return np.concatenate([self.embeddings, self.adaptive]).astype(np.float32)

    def to_json(self) -> dict:
        emb = np.ascontiguousarray(self.embeddings, dtype="<f4")
        adaptive = np.ascontiguousarray(self.adaptive, dtype="<f4").reshape(-1, emb.shape[1])
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
            "adaptive_shape": list(adaptive.shape),
            "adaptive": base64.b64encode(adaptive.tobytes()).decode("ascii"),
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
            adaptive = np.zeros((0, emb.shape[1]), np.float32)
            if "adaptive" in data:
                rows = tuple(int(v) for v in data["adaptive_shape"])
                raw = base64.b64decode(data["adaptive"], validate=True)
                adaptive = np.frombuffer(raw, "<f4").astype(np.float32).reshape(rows)
                if adaptive.ndim != 2 or adaptive.shape[1] != emb.shape[1]:
                    raise ValueError("bad adaptive embeddings")
                if not np.isfinite(adaptive).all():
                    raise ValueError("bad adaptive embeddings")
            return cls(
                name=str(data["name"]),
                embeddings=emb,
                weights_sha256=str(data["weights_sha256"]),
                source=str(data.get("source", "")),
                created=str(data["created"]),
                updated=str(data.get("updated", "")),
                appearances=int(data.get("appearances", 1)),
                extra=dict(data.get("extra", {})),
                adaptive=adaptive,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FaceUnlockError(
                f"{origin} is corrupt ({exc}); remove it with `faceunlock users remove` "
                "and enrol again"
            ) from None


def require_compatible(profile: Profile, weights_sha256: str, unlock_net_sha256: str | None = None):
    """Refuse a profile this install cannot score: enrolled with other FaceNet weights (its
    embeddings live in another space), or with another unlock network than the one that
    will score it (`unlock_net_sha256`, the network's `network_sha256`, checked when both
    the profile and the caller name one). Every job that scores or exports a profile calls
    this."""
    if profile.weights_sha256 != weights_sha256:
        raise FaceUnlockError(
            f"{profile.name} was enrolled with other embedding weights; remove the profile "
            f"(`faceunlock users remove {profile.name}`) and enrol again"
        )
    enrolled_net = profile.extra.get("unlock_net_sha256")
    if unlock_net_sha256 is not None and enrolled_net is not None:
        if not same_network(enrolled_net, unlock_net_sha256):
            raise FaceUnlockError(
                f"{profile.name} was enrolled with another unlock network; remove the profile "
                f"(`faceunlock users remove {profile.name}`) and enrol again"
            )
    return profile


def profile_mac(key: bytes, name: str, body: dict) -> str:
    """HMAC-SHA256 (hex) of a profile's JSON body, bound to the user name it is filed under."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    message = _MAC_CONTEXT + name.encode() + b"\x00" + canonical.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _read_regular_file(path: Path, what: str, limit: int) -> bytes:
    """Bytes of a regular file (not a symlink, device or fifo), at most `limit` bytes."""
    try:
        fd = os.open(
            path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        )
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise FaceUnlockError(f"{what} {path} cannot be read ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise FaceUnlockError(f"{what} {path} is not a regular file; remove it")
        if info.st_size > limit:
            raise FaceUnlockError(f"{what} {path} is too large ({info.st_size} bytes); remove it")
        return f.read(limit + 1)


class ProfileStore:
    """The profiles in a data directory, signed with the install's secret key."""

    def __init__(self, home: str | os.PathLike | None = None) -> None:
        self.home = data_dir(home)
        self.folder = self.home / "profiles"
        self.key_path = self.home / KEY_FILE

    def path(self, name: str) -> Path:
        return self.folder / f"{check_user_name(name)}.json"

    def names(self) -> list[str]:
        """Enrolled user names, sorted (files whose name is not a valid user are skipped)."""
        if not self.folder.is_dir():
            return []
        return sorted(
            p.stem for p in self.folder.glob("*.json") if _NAME_RE.fullmatch(p.stem) and p.is_file()
        )

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    # -- secret key ---------------------------------------------------------------------

    def secret_key(self, create: bool = False) -> bytes:
        """The install's secret key; created (0600) when `create` and there is none yet."""
        try:
            data = _read_regular_file(self.key_path, "secret key", 1024)
        except FileNotFoundError:
            if not create:
                raise FaceUnlockError(
                    f"the secret key {self.key_path} is missing, so no profile can be "
                    "trusted; remove the profiles (`faceunlock users remove NAME`) and enrol "
                    "again"
                ) from None
            if self.names():
                raise FaceUnlockError(
                    f"the secret key {self.key_path} is missing while profiles exist in "
                    f"{self.folder}: a new key would make every one of them fail its check. "
                    "Restore the key from a backup, or remove the profiles "
                    "(`faceunlock users remove NAME`) and enrol again"
                ) from None
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                write_private_file(
                    self.key_path, secrets.token_hex(KEY_BYTES).encode() + b"\n", exclusive=True
                )
            except FileExistsError:
                pass  # another process created it first: use theirs
            data = _read_regular_file(self.key_path, "secret key", 1024)
        mode = os.stat(self.key_path).st_mode
        if mode & 0o077:
            raise FaceUnlockError(
                f"the secret key {self.key_path} is readable by other users (mode "
                f"{stat.S_IMODE(mode):03o}); run `chmod 600 {self.key_path}` and re-enrol, "
                "since a key others could read no longer protects the profiles"
            )
        try:
            key = bytes.fromhex(data.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise FaceUnlockError(
                f"the secret key {self.key_path} is corrupt; delete it, remove the profiles "
                "and enrol again"
            )
        return key

    # -- profiles -----------------------------------------------------------------------

    def load(self, name: str) -> Profile:
        """The user's profile, or a FaceUnlockError that says what to do.

        Refuses a profile whose HMAC does not match: edited, corrupt, written under
        another install's key, or renamed from another user's file.
        """
        path = self.path(name)
        remedy = f"remove it with `faceunlock users remove {name}` and enrol again"
        try:
            raw = _read_regular_file(path, "profile", MAX_PROFILE_BYTES)
        except FileNotFoundError:
            known = ", ".join(self.names()) or "none"
            raise FaceUnlockError(
                f"unknown user {name!r} (enrolled: {known}); enrol with `faceunlock enroll {name}`"
            ) from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise FaceUnlockError(f"profile {path} is unreadable ({exc}); {remedy}") from None
        if not isinstance(data, dict):
            raise FaceUnlockError(f"profile {path} is corrupt (not a JSON object); {remedy}")
        mac = data.pop("mac", None)
        if not isinstance(mac, str):
            raise FaceUnlockError(
                f"profile {path} has no integrity code (corrupt, or written by an older "
                f"faceunlock); {remedy}"
            )
        expected = profile_mac(self.secret_key(), name, data)
        if not hmac.compare_digest(mac, expected):
            raise FaceUnlockError(
                f"profile {path} failed its integrity check: it was modified, copied from "
                f"another install or user, or the secret key changed; refusing it: {remedy}"
            )
        profile = Profile.from_json(data, origin=f"profile {path}")
        if profile.name != name:  # unreachable without the key, kept as a second guard
            raise FaceUnlockError(f"profile {path} belongs to {profile.name!r}, not {name!r}")
        return profile

    def load_all(self, problems: list[str] | None = None) -> list[Profile]:
        """Every profile that loads and passes its check; the others are skipped, and why
        goes to `problems` (one user's damaged file must not stop everyone else)."""
        out = []
        for name in self.names():
            try:
                out.append(self.load(name))
            except (FaceUnlockError, OSError) as exc:
                if problems is not None:
                    problems.append(f"{name}: {exc}")
        return out

    def save(self, profile: Profile) -> Path:
        """Sign and write the profile atomically (temporary file, fsync, rename, fsync dir)."""
        path = self.path(profile.name)
        key = self.secret_key(create=True)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        body = json.loads(json.dumps(profile.to_json()))  # sign exactly what is read back
        body["mac"] = profile_mac(key, profile.name, body)
        write_private_file(path, json.dumps(body, indent=1).encode())
        self._remove_stale_temporaries()
        return path

    def user_lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        """The user's lock: enrolment, removal and adaptive updates of one user never
        interleave (each reads the profile fresh under it)."""
        return exclusive(self.home / "locks" / f"{check_user_name(name)}.lock")

    def update(
        self, name: str, change: Callable[[Profile | None], Profile | None]
    ) -> Profile | None:
        """Read-modify-write one user's profile under the user's lock.

        `change(current profile, or None when there is none)` returns the profile to save,
        or None to save nothing; its FaceUnlockError leaves the profile as it was.
        """
        with self.user_lock(name):
            current = self.load(name) if self.exists(name) else None
            updated = change(current)
            if updated is not None:
                self.save(updated)
            return updated

    def snapshot_folder(self, name: str) -> Path:
        """Where `enroll --save-snapshots` keeps the user's face crops."""
        return self.home / "snapshots" / check_user_name(name)

    def remove(self, name: str) -> None:
        """Delete the user's profile and any face snapshots saved at enrolment."""
        path = self.path(name)
        with self.user_lock(name):
            if not path.is_file():
                raise FaceUnlockError(
                    f"unknown user {name!r}; `faceunlock users list` shows who is enrolled"
                )
            path.unlink()
            fsync_dir(self.folder)
        self._remove_stale_temporaries()
        snapshots = self.snapshot_folder(name)
        if snapshots.is_symlink():  # never follow it out of the data directory
            snapshots.unlink()
        elif snapshots.is_dir():
            shutil.rmtree(snapshots)

    def _remove_stale_temporaries(self) -> None:
        """Delete temporary files left by writers that were killed mid-write."""
        now = time.time()
        for tmp in self.folder.glob(f"{TEMP_PREFIX}*"):
            with contextlib.suppress(OSError):
                if now - tmp.stat().st_mtime > _STALE_TEMP_S:
                    tmp.unlink()
