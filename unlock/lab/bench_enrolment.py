"""Enrolment speed:

    python -m faceunlock.unlock.lab.bench_enrolment [--source VIDEO] [--frames 20] [--repeat 3]


Enrols from the bundled Hamilton clip (or any source) into a temporary data directory and
prints the wall time of each enrolment: reading and gating frames, detection, embedding,
the unlock network's self-check and writing the profile. Loading the models (once per
process) is reported separately.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from faceunlock.unlock import media
from faceunlock.unlock.pipeline.runtime import add_runtime_argument


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time enrolment from N frames.")
    parser.set_defaults(home=None)
    parser.add_argument("--source", default=str(media.CLIP))
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    add_runtime_argument(parser)
    args = parser.parse_args(argv)

    from faceunlock.enroll.enrolment import enrol
    from faceunlock.enroll.profile import ProfileStore
    from faceunlock.models.mtcnn.params import ENROL_MIN_FACE
    from faceunlock.unlock.pipeline.runtime import pipeline_from_args

    start = time.perf_counter()
    pipeline = pipeline_from_args(args, min_face_size=ENROL_MIN_FACE)
    print(f"model load: {time.perf_counter() - start:.2f} s (once per process)")
    times = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as home:
            start = time.perf_counter()
            profile = enrol(
                pipeline,
                args.source,
                f"bench{i}",
                args.frames,
                store=ProfileStore(home),
                progress=False,
            )
            times.append(time.perf_counter() - start)
        appearance = profile.extra["appearances"][-1]
        print(
            f"run {i + 1}: {times[-1]:.2f} s, {appearance['frames']} frames enrolled of "
            f"{appearance['candidates']} looked at"
        )
    print(
        f"enrolment from {args.frames} frames of {Path(args.source).name}: median "
        f"{sorted(times)[len(times) // 2]:.2f} s, max {max(times):.2f} s"
    )
    return 0


if __name__ == "__main__":
    from faceunlock.unlock.errors import run_script

    run_script(main, "bench_enrolment")
