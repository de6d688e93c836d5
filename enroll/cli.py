"""`faceunlock enroll NAME --source SRC [--frames N] [--add]`."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """Enrol a user; exit 2 (FaceUnlockError) when not enough good frames come."""
    from faceunlock.enroll.enrolment import enrol
    from faceunlock.enroll.profile import ProfileStore
    from faceunlock.models.mtcnn.params import ENROL_MIN_FACE
    from faceunlock.unlock.pipeline.runtime import pipeline_from_args

    if args.reset_adaptive:
        return reset_adaptive(args.name, args.home)
    pipeline = pipeline_from_args(args, min_face_size=ENROL_MIN_FACE)
    window = enrolment_window(args.source, args.no_window)
    try:
        profile = enrol(
            pipeline,
            args.source,
            args.name,
            frames=args.frames,
            add=args.add,
            store=ProfileStore(args.home),
            progress=not args.quiet,
            snapshots=args.save_snapshots,
            guide=window,
        )
    finally:
        if window is not None:
            window.close()
    print(
        f"{profile.name}: {len(profile.embeddings)} enrolled embeddings, "
        f"{profile.appearances} appearance(s)"
    )
    return 0


class EnrolmentWindow:
    """The camera enrolment's window: the face, a progress ring and what to do next."""

    def __init__(self) -> None:
        from faceunlock.unlock.app.window import Window

        self.window = Window("faceunlock enrol")

    def __call__(self, frame, face, status, kept, wanted, instruction) -> None:
        from faceunlock.unlock.app.window import draw_enrolment
        from faceunlock.unlock.errors import FaceUnlockError

        image = draw_enrolment(frame, face, status, kept, wanted, instruction)
        if self.window.show(image) in ("q", "\x1b"):
            raise FaceUnlockError("enrolment cancelled (q pressed); nothing was saved")

    def close(self) -> None:
        self.window.close()


def enrolment_window(source: str, no_window: bool) -> EnrolmentWindow | None:
    """A window for a camera enrolment when a display is there (None otherwise: the
    console shows the same instructions)."""
    from faceunlock.unlock.app.window import display_available

    if no_window or not source.isdigit() or not display_available():
        return None
    return EnrolmentWindow()


def reset_adaptive(name: str, home=None) -> int:
    """Clear a user's adaptive entries (the enrolled core stays)."""
    from faceunlock.enroll.profile import ProfileStore
    from faceunlock.unlock.app.adaptive import reset
    from faceunlock.unlock.errors import FaceUnlockError

    store = ProfileStore(home)
    store.load(name)  # an unknown or damaged profile says so
    removed = []

    def clear(current):
        if current is None:
            raise FaceUnlockError(f"{name} was removed meanwhile")
        removed.append(reset(current))
        return current

    store.update(name, clear)
    print(f"{name}: removed {removed[0]} adaptive embedding(s); the enrolled core is unchanged")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `enroll`."""
    from faceunlock.unlock.pipeline.runtime import add_runtime_argument

    p = sub.add_parser(
        "enroll", aliases=["enrol"], help="enrol a face from a camera, video, photo or folder"
    )
    p.add_argument("name", help="user name (letters, digits, '.', '_', '-')")
    p.add_argument(
        "--source",
        default="0",
        help="camera index (default 0), a video file, one image, or a folder of images",
    )
    p.add_argument("--frames", type=int, default=20, help="good frames to enrol (default 20)")
    p.add_argument("--add", action="store_true", help="add another appearance to the user")
    p.add_argument("--quiet", action="store_true", help="no per-frame progress")
    p.add_argument(
        "--no-window",
        action="store_true",
        help="no enrolment window for a camera (the console still says what to do)",
    )
    p.add_argument(
        "--reset-adaptive",
        action="store_true",
        help="clear what confident unlocks added to the profile (the enrolled core stays)",
    )
    p.add_argument(
        "--save-snapshots",
        action="store_true",
        help="also keep the enrolled face crops (PNG, owner-only) in the data dir; "
        "by default no face image is stored",
    )
    add_runtime_argument(p)
    p.set_defaults(func=run)
