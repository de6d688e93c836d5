"""`faceunlock eval unlock`: FAR and FRR of the unlock network at p = 0.5 on a face data set.

Protocol (DIR holds one folder per identity, LFW's `images/` layout): identities with at
least M images are users; each enrols with its first K images in name order; every other
image of theirs is a genuine attempt; impostor attempts are all images of every other
identity with at least 2 images, except identities the network trained on (listed in the
shipped weights). The cosine of the live embedding to the enrolled template (normalised
mean) is the baseline, computed in the same run on the same embeddings. Faces the live
loop would not score (its lighting gate: too dark, or lit from one side) are not scored
here either: a genuine one counts as refused, an impostor one as not compared.

`--domain degraded` runs the same protocol on images turned into another domain
(`unlock.domain.degrade`: grayscale, gamma, blur, noise, JPEG), enrolment and attempts
alike; `--domain harsh-light` lights every face hard from one side or from above.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from unlock.errors import FaceUnlockError
from unlock.images import list_images

FAR_POINTS = (1e-3, 1e-4, 2e-5)


def attempt_chunks(groups: list[list[int]], m: int) -> list[list[int]]:
    """Consecutive runs of `m` rows from each group (one identity's images, in order)."""
    return [g[s : s + m] for g in groups for s in range(0, len(g) - m + 1, m)]


def attempt_figures(
    gen_logits: list[np.ndarray], imp_logits: list[np.ndarray], imp_chunks, m: int, k: int, n: int
) -> dict:
    """Per-attempt FRR and FAR when an attempt is `m` images of one identity, decided by the
    live loop's k-of-n rule on p >= 0.5 (the rule applied to logits at threshold 0).

    gen_logits[u]: user u's genuine images in order (-inf where no face was found);
    imp_logits[u]: every impostor image against user u; imp_chunks: rows of one impostor
    identity per attempt (`attempt_chunks`).
    """
    from unlock.live import attempt_unlocks

    genuine = accepted = impostors = false_accepts = 0
    for gen, imp in zip(gen_logits, imp_logits):
        for chunk in attempt_chunks([list(range(len(gen)))], m):
            genuine += 1
            accepted += attempt_unlocks(gen[chunk], k, n, threshold=0.0) is not None
        hits = imp >= 0
        for chunk in imp_chunks:
            impostors += 1
            if hits[chunk].sum() >= k:  # fewer hits can never unlock
                false_accepts += attempt_unlocks(imp[chunk], k, n, threshold=0.0) is not None
    return {
        "images_per_attempt": m,
        "k": k,
        "n": n,
        "genuine_attempts": genuine,
        "frr": round(1 - accepted / genuine, 6) if genuine else None,
        "impostor_attempts": impostors,
        "false_accepts": false_accepts,
        "far": false_accepts / impostors if impostors else None,
    }


def identity_images(data: str | Path) -> dict[str, list[Path]]:
    """{identity: its images in name order} for a folder of identity folders."""
    root = Path(data)
    if (root / "images").is_dir():
        root = root / "images"
    if not root.is_dir():
        raise FaceUnlockError(f"{data}: no such folder (expected one folder per identity)")
    identities = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        images = list_images(folder)
        if images:
            identities[folder.name] = images
    if not identities:
        raise FaceUnlockError(f"{root}: no identity folders with images")
    return identities


def frr_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> tuple[float, float]:
    """(FRR, threshold) at the lowest threshold that accepts at most `far` of impostors."""
    ranked = np.sort(impostor)[::-1]
    allowed = int(np.floor(far * len(ranked)))
    threshold = float(ranked[allowed]) if allowed < len(ranked) else -np.inf
    return float(np.mean(genuine <= threshold)), threshold


def det_points(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FAR, FRR) over all thresholds, for a DET curve."""
    thresholds = np.unique(np.concatenate([genuine, impostor]))[::-1]
    imp = np.sort(impostor)
    gen = np.sort(genuine)
    far = 1.0 - np.searchsorted(imp, thresholds, side="left") / max(len(imp), 1)
    frr = np.searchsorted(gen, thresholds, side="left") / max(len(gen), 1)
    return far, frr


def operating_figures(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> dict:
    """FRR and FAR at `threshold` (score >= threshold accepts) and FRR at fixed FARs."""
    result = {
        "frr": round(float(np.mean(genuine < threshold)), 6),
        "far": float(np.mean(impostor >= threshold)),
        "false_accepts": int(np.sum(impostor >= threshold)),
    }
    for far in FAR_POINTS:
        frr, _ = frr_at_far(genuine, impostor, far)
        result[f"frr_at_far_{far:g}"] = round(frr, 6)
    return result


def run(args: argparse.Namespace) -> int:
    """`faceunlock eval unlock`."""
    from unlock.config import Config
    from unlock.embedding_store import EmbeddingStore
    from unlock.live import lighting_gate
    from unlock.runtime import load_pipeline, pipeline_from_args
    from unlock.scoring import UnlockScorer

    if args.enroll < 1 or args.min_images <= args.enroll:
        raise FaceUnlockError("need --enroll >= 1 and --min-images > --enroll")
    identities = identity_images(args.data)
    scorer = UnlockScorer()
    trained = set(scorer.meta.get("trained_identities", []))
    users = [n for n, imgs in identities.items() if len(imgs) >= args.min_images]
    impostor_ids = [
        n
        for n, imgs in identities.items()
        if len(imgs) >= 2 and n not in trained and n not in set(users)
    ]
    if not users:
        raise FaceUnlockError(f"no identity has {args.min_images} images or more")
    if not impostor_ids:
        raise FaceUnlockError("no impostor identities (>= 2 images, not trained on)")
    if args.max_images:
        identities = {n: imgs[: args.max_images] for n, imgs in identities.items()}
    impostor_files = [f for n in impostor_ids for f in identities[n]]
    if args.max_impostor_images and len(impostor_files) > args.max_impostor_images:
        # round robin over identities (every identity's first image, then second, ...)
        rounds = max(len(identities[n]) for n in impostor_ids)
        ordered = [
            identities[n][r] for r in range(rounds) for n in impostor_ids if r < len(identities[n])
        ]
        impostor_files = ordered[: args.max_impostor_images]

    transform, transform_name = None, "none"
    if args.domain == "degraded":
        from unlock.domain import DOMAIN_NAME, degrade

        transform, transform_name = degrade, DOMAIN_NAME
    elif args.domain == "harsh-light":
        from unlock.domain import HARSH_LIGHT_NAME, harsh_light

        transform, transform_name = harsh_light, HARSH_LIGHT_NAME
    if args.enrol_fp32 and not args.int8:
        raise FaceUnlockError("--enrol-fp32 goes with --runtime onnx --int8")
    pipeline = pipeline_from_args(args)
    root = identities[users[0]][0].parent.parent

    def store_for(pipeline):
        return EmbeddingStore(
            root, pipeline, policy=args.face, transform=transform, transform_name=transform_name
        )

    user_files = [f for n in users for f in identities[n]]
    all_files = user_files + impostor_files
    store = store_for(pipeline)
    emb, found = store.embeddings(all_files, progress=not args.quiet)
    index = {f: i for i, f in enumerate(all_files)}
    enrol_emb, enrol_found = emb, found
    if args.enrol_fp32:  # templates from fp32 embeddings, live faces through int8
        fp32 = load_pipeline("onnx", threads=args.threads)
        enrol_emb, enrol_found = store_for(fp32).embeddings(all_files, progress=not args.quiet)
    gated = np.zeros(len(all_files), bool)
    if not args.no_gates:  # the live loop's lighting gate: such faces are never scored
        dark = Config().dark_threshold
        light = store.lighting(all_files, progress=not args.quiet)
        gated = found & np.array([lighting_gate(m, s, dark) is not None for m, s in light])
    usable = found & ~gated

    imp_rows = [index[f] for f in impostor_files if usable[index[f]]]
    row_of = {r: i for i, r in enumerate(imp_rows)}
    imp_groups = [
        [row_of[index[f]] for f in identities[n] if index.get(f) in row_of] for n in impostor_ids
    ]
    imp_emb = emb[imp_rows]
    imp_index = [index[f] for f in impostor_files]
    fta_impostor = int(np.sum(~found[imp_index]))
    gated_impostor = int(np.sum(gated[imp_index]))
    net_gen, net_imp, cos_gen, cos_imp = [], [], [], []
    fte, fta_genuine, gated_genuine, genuine_attempts = 0, 0, 0, 0
    for name in users:
        rows = [index[f] for f in identities[name]]
        enrol_rows = [r for r in rows[: args.enroll] if enrol_found[r]]
        attempts = rows[args.enroll :]
        if not enrol_rows:
            fte += 1
            continue
        enrolled = enrol_emb[enrol_rows]
        genuine_attempts += len(attempts)
        live_rows = [r for r in attempts if usable[r]]
        missing = len(attempts) - len(live_rows)  # no face, or a face the loop would not score
        fta_genuine += int(np.sum(~found[attempts]))
        gated_genuine += int(np.sum(gated[attempts]))
        template = enrolled.mean(axis=0)
        template /= np.linalg.norm(template)
        live = emb[live_rows]
        # genuine attempts without a usable face are rejections: score them below everything
        with_face = usable[attempts]
        logits = np.full(len(attempts), -np.inf)
        logits[with_face] = scorer.logit(live, enrolled)
        net_gen.append(logits)
        cos_gen.append(np.concatenate([live @ template, np.full(missing, -np.inf)]))
        net_imp.append(scorer.logit(imp_emb, enrolled))
        cos_imp.append(imp_emb @ template)
    cos_gen, cos_imp = np.concatenate(cos_gen), np.concatenate(cos_imp)

    attempt_result = None
    if args.attempt_frames:
        config = Config()
        attempt_result = attempt_figures(
            net_gen,
            net_imp,
            attempt_chunks(imp_groups, args.attempt_frames),
            args.attempt_frames,
            config.k,
            config.n,
        )
    net_gen, net_imp = np.concatenate(net_gen), np.concatenate(net_imp)
    network = operating_figures(net_gen, net_imp, 0.0)  # logit 0 <=> p = 0.5
    baseline_threshold = float(scorer.meta.get("baseline", {}).get("cosine_threshold", np.nan))
    baseline = operating_figures(cos_gen, cos_imp, baseline_threshold)
    baseline["cosine_threshold"] = baseline_threshold
    result = {
        "data": str(Path(args.data)),
        "domain": args.domain,
        "runtime": args.runtime,
        "precision": "int8" if args.int8 else "fp32",
        "enrol_precision": "fp32" if args.enrol_fp32 or not args.int8 else "int8",
        "users": len(users),
        "enroll": args.enroll,
        "min_images": args.min_images,
        "impostor_identities": len(impostor_ids),
        "impostor_images": len(imp_rows),
        "excluded_trained_identities": len(trained & set(identities)),
        "genuine_attempts": genuine_attempts,
        "impostor_comparisons": len(net_imp),
        "fte": fte,
        "fta": fta_genuine + fta_impostor,
        "fta_genuine": fta_genuine,
        "fta_impostor": fta_impostor,
        "lighting_gate": not args.no_gates,
        "gated_genuine": gated_genuine,
        "gated_impostor": gated_impostor,
        **network,
        "calibration": scorer.meta.get("calibration", {}),
        "baseline": baseline,
        "attempts": attempt_result,
    }
    _print(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.plot:
        _plot(args.plot, net_gen, net_imp, cos_gen, cos_imp, result, baseline_threshold)
    return 0


def _print(r: dict) -> None:
    b = r["baseline"]
    a = r.get("attempts")
    if a:
        print(
            f"attempts of {a['images_per_attempt']} images, k = {a['k']} of n = {a['n']}: "
            f"FRR {100 * a['frr']:.2f} % of {a['genuine_attempts']}, FAR "
            f"{a['false_accepts']} of {a['impostor_attempts']} ({a['far']:.2e})"
        )
    print(
        f"{r['users']} users (enrol {r['enroll']}), {r['genuine_attempts']} genuine attempts, "
        f"{r['impostor_comparisons']} impostor comparisons, domain {r['domain']}"
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


def _plot(path, net_gen, net_imp, cos_gen, cos_imp, result, baseline_threshold) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, hx, hc) = plt.subplots(1, 3, figsize=(15, 4.2))
    for label, gen, imp, point in (
        ("network", net_gen, net_imp, 0.0),
        ("cosine baseline", cos_gen, cos_imp, baseline_threshold),
    ):
        far, frr = det_points(gen[np.isfinite(gen)], imp)
        line = ax.loglog(np.maximum(far, 1e-7), np.maximum(frr, 1e-4), label=label)[0]
        ax.plot(
            max(np.mean(imp >= point), 1e-7),
            max(np.mean(gen < point), 1e-4),
            "o",
            color=line.get_color(),
        )
    ax.axvline(2e-5, color="grey", ls=":", lw=1)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("false reject rate")
    ax.set_title(f"DET, {result['domain']} ({result['impostor_comparisons']} impostor cmp.)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    for axis, gen, imp, point, title in (
        (hx, net_gen, net_imp, 0.0, "network logit (p = 0.5 at 0)"),
        (hc, cos_gen, cos_imp, baseline_threshold, "cosine to template"),
    ):
        g = gen[np.isfinite(gen)]
        bins = np.linspace(min(g.min(), imp.min()), max(g.max(), imp.max()), 80)
        axis.hist(imp, bins, density=True, alpha=0.5, label="impostor", log=True)
        axis.hist(g, bins, density=True, alpha=0.5, label="genuine", log=True)
        axis.axvline(point, color="k", lw=1)
        axis.set_title(title)
        axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `eval unlock`."""
    from unlock.runtime import add_runtime_argument

    p = sub.add_parser("unlock", help="unlock network FAR/FRR at p = 0.5 vs a cosine baseline")
    p.add_argument("--data", required=True, help="folder of identity folders (e.g. LFW)")
    p.add_argument("--enroll", type=int, default=5, help="images each user enrols with")
    p.add_argument(
        "--min-images", type=int, default=15, help="images an identity needs to be a user"
    )
    p.add_argument(
        "--domain",
        choices=("plain", "degraded", "harsh-light"),
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
    p.add_argument("--max-images", type=int, default=0, help="use at most N images per identity")
    p.add_argument(
        "--max-impostor-images",
        type=int,
        default=0,
        help="use at most N impostor images (round robin over identities)",
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
