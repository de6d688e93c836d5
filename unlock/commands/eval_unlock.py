"""`faceunlock eval unlock`: FAR and FRR of the unlock network at p = 0.5 on a face data set
(the protocol: `unlock.lab.eval_unlock`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from faceunlock.unlock.lab.eval_unlock import DOMAINS, FAR_POINTS


def run(args: argparse.Namespace) -> int:
    """Run the protocol, print the figures; optionally JSON and a DET plot."""
    from faceunlock.unlock.errors import FaceUnlockError
    from faceunlock.unlock.lab.eval_unlock import UnlockProtocol, evaluate_unlock, plot_det
    from faceunlock.unlock.pipeline.runtime import load_pipeline, pipeline_from_args

    if args.enrol_fp32 and not args.int8:
        raise FaceUnlockError("--enrol-fp32 goes with --runtime onnx --int8")
    opts = UnlockProtocol(
        enroll=args.enroll,
        min_images=args.min_images,
        domain=args.domain,
        face=args.face,
        max_images=args.max_images,
        max_impostor_images=args.max_impostor_images,
        attempt_frames=args.attempt_frames,
        progress=not args.quiet,
        lighting_gate=not args.no_gates,
    )
    if opts.enroll < 1 or opts.min_images <= opts.enroll:
        raise FaceUnlockError("need --enroll >= 1 and --min-images > --enroll")
    from faceunlock.unlock.lab.lfw import identity_images

    identity_images(args.data)  # a missing folder fails before any network loads
    pipeline = pipeline_from_args(args)
    enrol_pipeline = None
    if args.enrol_fp32:  # templates from fp32 embeddings, live faces through int8
        enrol_pipeline = load_pipeline("onnx", threads=args.threads, home=args.home)
    result, network, baseline = evaluate_unlock(args.data, pipeline, opts, enrol_pipeline)
    result["runtime"] = args.runtime
    result["precision"] = "int8" if args.int8 else "fp32"
    result["enrol_precision"] = "fp32" if args.enrol_fp32 or not args.int8 else "int8"
    print_figures(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.plot:
        plot_det(args.plot, network, baseline, result)
    return 0


def _rate(far: float | None) -> str:
    return "-" if far is None else f"{far:.2e}"


def _percent(frr_at: dict) -> str:
    return " / ".join(f"{100 * frr_at[key]:.2f} %" for key in frr_at) or "no impostor attempts"


def print_figures(r: dict) -> None:
    """The figures as a table on stdout."""
    b = r["baseline"]
    a = r.get("attempts")
    if a:
        print(
            f"attempts of {a['images_per_attempt']} images, k = {a['k']} of n = {a['n']}: "
            f"FRR {100 * a['frr']:.2f} % of {a['genuine_attempts']}, FAR "
            f"{a['false_accepts']} of {a['impostor_attempts']} ({_rate(a['far'])}); FRR at "
            f"attempt FAR 1e-3 / 1e-4: {_percent(a['frr_at_attempt_far'])}"
        )
        q = a["pooled"]
        print(
            f"  measurement, not the product's rule: p of the attempt's mean embedding: FRR "
            f"{100 * q['frr']:.2f} %, FAR {q['false_accepts']} of {a['impostor_attempts']}; "
            f"FRR at attempt FAR 1e-3 / 1e-4: {_percent(q['frr_at_attempt_far'])}"
        )
    counts = r["roles"]["counts"]
    print(
        f"{r['users']} users (enrol {r['enroll']}), {r['genuine_attempts']} genuine attempts, "
        f"{r['impostor_comparisons']} impostor comparisons ({r['impostor_comparisons_from_users']}"
        f" of images of the other users, {r['impostor_comparisons_from_others']} of "
        f"{counts['impostors_not_users']} identities that are not users), domain {r['domain']}"
    )
    print(f"fte {r['fte']}, fta {r['fta']} (genuine {r['fta_genuine']})")
    if r["lighting_gate"]:
        print(
            f"not scored by the loop's lighting gate (too dark or lit from one side): "
            f"{r['gated_genuine']} genuine (counted as refused), {r['gated_impostor']} impostor"
        )
    print(f"{'':24}{'network p>=0.5':>16}{'cosine baseline':>17}")
    print(f"{'FAR at operating point':24}{r['far']:>16.2e}{b['far']:>17.2e}")
    print(f"{'FRR at operating point':24}{r['frr'] * 100:>15.2f}%{b['frr'] * 100:>16.2f}%")
    for far in FAR_POINTS:
        key = f"frr_at_far_{far:g}"
        print(f"{'FRR at FAR ' + f'{far:g}':24}{r[key] * 100:>15.2f}%{b[key] * 100:>16.2f}%")
    print(
        f"(baseline operating point: cosine >= {b['cosine_threshold']:.4f}, calibrated "
        "on the same held-out comparisons as the network)"
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `eval unlock`."""
    from faceunlock.unlock.pipeline.runtime import add_runtime_argument

    p = sub.add_parser("unlock", help="unlock network FAR/FRR at p = 0.5 vs a cosine baseline")
    p.add_argument(
        "--data",
        required=True,
        help="folder of identity folders: DIR/<Name>/*.jpg, or LFW's DIR/images/<Name>/*.jpg",
    )
    p.add_argument("--enroll", type=int, default=5, help="images each user enrols with")
    p.add_argument(
        "--min-images", type=int, default=15, help="images an identity needs to be a user"
    )
    p.add_argument(
        "--domain",
        choices=DOMAINS,
        default="plain",
        help="degraded: grayscale, gamma, blur, noise and JPEG on every image (another "
        "domain); harsh-light: every face lit hard from one side or from above",
    )
    p.add_argument(
        "--face",
        choices=("nearest_centre", "largest"),
        default="nearest_centre",
        help="which face of an image is the labelled one (LFW: nearest the centre)",
    )
    p.add_argument(
        "--max-images", type=int, default=0, help="use at most N images per identity (0: all)"
    )
    p.add_argument(
        "--max-impostor-images",
        type=int,
        default=0,
        help="use at most N images of the impostors that are not users (round robin over "
        "identities; 0: all); the other users' images are impostor attempts too",
    )
    p.add_argument(
        "--attempt-frames",
        type=int,
        default=0,
        metavar="M",
        help="also report per-attempt FAR/FRR: an attempt is M images of one identity, "
        "decided by the live loop's k-of-n rule (impostor attempts: M images of one other "
        "identity, correlated as a real impostor's frames are)",
    )
    p.add_argument(
        "--no-gates",
        action="store_true",
        help="score every face, also those the live loop's lighting gate skips (too dark, "
        "lit from one side); by default they are not scored, as in the loop",
    )
    p.add_argument("--json", help="write the figures as JSON here")
    p.add_argument("--plot", help="write a DET curve with score histograms (PNG) here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_runtime_argument(p)
    p.add_argument(
        "--enrol-fp32",
        action="store_true",
        help="with --int8: enrol with fp32 embeddings and score live faces with int8 (what "
        "`faceunlock export --int8` deploys: templates from the app, the int8 network live)",
    )
    p.set_defaults(func=run)
