"""The protocol of `faceunlock eval unlock`: FAR and FRR of the unlock network at p = 0.5
on a face data set.

Protocol (DIR holds one folder per identity, or LFW's `images/` layout): identities with at
least M images are users; each enrols with its first K images in name order; every other
image of theirs is a genuine attempt; impostor attempts against a user are all images of
every other identity with at least 2 images, the other users included (as in any
verification protocol), except identities the network trained on (listed in the shipped
weights). The cosine of the live embedding to the enrolled template (normalised
mean) is the baseline, computed in the same run on the same embeddings. Faces the live
loop would not score (its lighting gate: too dark, or lit from one side) are not scored
here either: a genuine one counts as refused, an impostor one as not compared.

`--domain degraded` runs the same protocol on images turned into another domain
(`unlock.lab.domain.degrade`: grayscale, gamma, blur, noise, JPEG), enrolment and attempts
alike; `--domain harsh-light` lights every face hard from one side or from above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceunlock.unlock.errors import FaceUnlockError
from faceunlock.unlock.lab.metrics import det_points, operating_figures

FAR_POINTS = (1e-3, 1e-4, 2e-5)


def attempt_chunks(groups: list[list[int]], m: int) -> list[list[int]]:
    """Consecutive runs of `m` rows from each group (one identity's images, in order)."""
    return [g[s : s + m] for g in groups for s in range(0, len(g) - m + 1, m)]


def kofn_attempt_scores(logits: np.ndarray, k: int, n: int) -> np.ndarray:
    """Per attempt (rows of per-frame logits, in order): the highest threshold at which the
    live loop's k-of-n rule unlocks on it (`unlock.app.live.attempt_unlocks` unlocks at
    threshold t exactly when t <= this score; -inf: never)."""
    logits = np.atleast_2d(np.asarray(logits, np.float64))
    best = np.full(len(logits), -np.inf)
    for i in range(logits.shape[1]):
        window = logits[:, max(0, i - n + 1) : i + 1]
        if window.shape[1] < k:
            continue
        kth = np.sort(window, axis=1)[:, -k]
        best = np.maximum(best, np.minimum(logits[:, i], kth))
    return best


def pooled_embedding(frames: np.ndarray, k: int) -> np.ndarray | None:
    """The normalised mean of an attempt's usable frames (M x 512), None with fewer than k."""
    if len(frames) < k:
        return None
    mean = frames.mean(axis=0)
    return mean / np.linalg.norm(mean)


def attempt_rule_figures(genuine: np.ndarray, impostor: np.ndarray) -> dict:
    """FRR and false accepts at p >= 0.5 (score >= 0) of attempt scores, and the FRR at
    attempt FARs of 1e-3 and 1e-4 (the rule's ranking, whatever its bias)."""
    if not len(impostor):
        return {
            "frr": round(float(np.mean(genuine < 0)), 6) if len(genuine) else None,
            "false_accepts": 0,
            "far": None,
            "frr_at_attempt_far": {},
        }
    figures = operating_figures(genuine, impostor, 0.0, (1e-3, 1e-4))
    return {
        "frr": figures["frr"],
        "false_accepts": figures["false_accepts"],
        "far": figures["far"],
        "frr_at_attempt_far": {
            key.removeprefix("frr_at_far_"): v for key, v in figures.items() if "_at_" in key
        },
    }


def attempt_figures(scores: Scores, impostors: np.ndarray, imp_chunks, m: int, k: int, n: int):
    """Per-attempt FRR and FAR when an attempt is `m` images of one identity.

    Two rules over the same attempts: `kofn`, the live loop's rule (p >= 0.5 on k of the
    last n frames), and `pooled`, the network's p of the attempt's mean embedding (at least
    k usable frames) with the per-comparison calibration: a measurement of what fusing an
    attempt's frames would give, not the product's rule. `impostors`: the pool's embeddings;
    imp_chunks: (identity, rows of the pool) per attempt (`attempt_chunks`); a user's own
    chunks are no impostor attempts against them.
    """
    rows = np.array([c for _, c in imp_chunks], int).reshape(len(imp_chunks), m)
    owners = np.array([o for o, _ in imp_chunks])
    pooled_imp = impostors[rows.reshape(-1)].reshape(len(rows), m, impostors.shape[1]).mean(axis=1)
    pooled_imp /= np.maximum(np.linalg.norm(pooled_imp, axis=1, keepdims=True), 1e-12)
    gen_kofn, gen_pooled, imp_kofn, imp_pooled = [], [], [], []
    for u, name in enumerate(scores.names):
        gen, enrolled = scores.net_gen[u], scores.enrolled[u]
        for chunk in attempt_chunks([list(range(len(gen)))], m):
            gen_kofn.append(kofn_attempt_scores(gen[chunk][None], k, n)[0])
            usable = [scores.gen_rows[u][c] for c in chunk if np.isfinite(gen[c])]
            pooled = pooled_embedding(scores.live_emb[usable], k)
            gen_pooled.append(
                -np.inf if pooled is None else float(scores.scorer.logit(pooled, enrolled)[0])
            )
        mine = owners != name
        imp_kofn.append(kofn_attempt_scores(scores.imp_pool[u][rows[mine]], k, n))
        imp_pooled.append(scores.scorer.logit(pooled_imp[mine], enrolled))
    kofn = attempt_rule_figures(np.array(gen_kofn), np.concatenate(imp_kofn))
    return {
        "images_per_attempt": m,
        "k": k,
        "n": n,
        "genuine_attempts": len(gen_kofn),
        "impostor_attempts": int(sum(len(x) for x in imp_kofn)),
        **kofn,
        "pooled": attempt_rule_figures(np.array(gen_pooled), np.concatenate(imp_pooled)),
    }


@dataclass
class UnlockProtocol:
    """The options of `eval unlock` (see its --help)."""

    enroll: int = 5
    min_images: int = 15
    domain: str = "plain"
    face: str = "nearest_centre"
    max_images: int = 0
    max_impostor_images: int = 0
    attempt_frames: int = 0
    progress: bool = True
    lighting_gate: bool = True  # faces the live loop's lighting gate skips are not scored


DOMAINS = ("plain", "degraded", "harsh-light")


def domain_transform(domain: str):
    """(image transform, its cache name) of an evaluation domain."""
    from faceunlock.unlock.lab import domain as domains

    if domain == "degraded":
        return domains.degrade, domains.DOMAIN_NAME
    if domain == "harsh-light":
        return domains.harsh_light, domains.HARSH_LIGHT_NAME
    return None, "none"


@dataclass
class Roles:
    """Which identities do what in `eval unlock`."""

    users: list[str]
    impostors: list[str]  # identities that are not users (>= 2 images, not trained on)
    user_impostors: list[str]  # users that are impostors against the other users
    identities: dict  # every identity's images, cut to --max-images
    impostor_files: list  # the non-user impostors' images (cut to --max-impostor-images)

    def pool(self) -> list:
        """Every impostor image: the non-users' (capped), then the users'."""
        return self.impostor_files + [f for n in self.user_impostors for f in self.identities[n]]

    def owners(self) -> dict:
        """{image: its identity} of every impostor image."""
        return {f: n for n in self.impostors + self.user_impostors for f in self.identities[n]}


def select_identities(identities: dict, trained: set[str], opts: UnlockProtocol) -> Roles:
    """Users, impostor identities (non-users, and the users not trained on) and files."""
    users = [n for n, imgs in identities.items() if len(imgs) >= opts.min_images]
    impostor_ids = [
        n
        for n, imgs in identities.items()
        if len(imgs) >= 2 and n not in trained and n not in set(users)
    ]
    user_impostors = [n for n in users if n not in trained]
    if not users:
        raise FaceUnlockError(f"no identity has {opts.min_images} images or more")
    if not impostor_ids and len(user_impostors) < 2:
        raise FaceUnlockError(
            f"no impostor identities: need a second user (>= {opts.min_images} images) or "
            "another identity with >= 2 images, not one the network trained on"
        )
    if opts.max_images:
        identities = {n: imgs[: opts.max_images] for n, imgs in identities.items()}
    impostor_files = [f for n in impostor_ids for f in identities[n]]
    if opts.max_impostor_images and len(impostor_files) > opts.max_impostor_images:
        # round robin over identities (every identity's first image, then second, ...)
        rounds = max(len(identities[n]) for n in impostor_ids)
        ordered = [
            identities[n][r] for r in range(rounds) for n in impostor_ids if r < len(identities[n])
        ]
        impostor_files = ordered[: opts.max_impostor_images]
    return Roles(users, impostor_ids, user_impostors, identities, impostor_files)


@dataclass
class Scores:
    """Per-user network logits and template cosines, genuine and impostor."""

    net_gen: list = field(default_factory=list)
    net_imp: list = field(default_factory=list)
    cos_gen: list = field(default_factory=list)
    cos_imp: list = field(default_factory=list)
    imp_pool: list = field(default_factory=list)  # per user: logits of the whole pool
    names: list = field(default_factory=list)  # the users scored (not failed to enrol)
    enrolled: list = field(default_factory=list)  # per user: enrolled embeddings (K x 512)
    gen_rows: list = field(default_factory=list)  # per user: rows of its genuine attempts
    live_emb: np.ndarray | None = None  # the embeddings those rows index
    scorer: object = None
    from_users: int = 0  # impostor comparisons whose image is another user's
    fte: int = 0
    fta_genuine: int = 0
    gated_genuine: int = 0
    genuine_attempts: int = 0


def score_users(scorer, users, identities, index, emb, faces, enrol, impostors, enroll_k):
    """Each user enrols with its first `enroll_k` images (`enrol`: (embeddings, found)) and
    is attempted by its other images and by every image of the impostor pool but its own
    (`impostors`: (embeddings, identity of each)). `faces`: (found, gated) per image: a face
    was found, and the loop's lighting gate would skip it. Returns `Scores`."""
    enrol_emb, enrol_found = enrol
    imp_emb, imp_owner = impostors
    imp_is_user = np.isin(imp_owner, users)
    found, gated = faces
    usable = found & ~gated
    out = Scores(live_emb=emb, scorer=scorer)
    for name in users:
        rows = [index[f] for f in identities[name]]
        enrol_rows = [r for r in rows[:enroll_k] if enrol_found[r]]
        attempts = rows[enroll_k:]
        if not enrol_rows:
            out.fte += 1
            continue
        enrolled = enrol_emb[enrol_rows]
        out.genuine_attempts += len(attempts)
        live_rows = [r for r in attempts if usable[r]]
        missing = len(attempts) - len(live_rows)  # no face, or a face the loop would not score
        out.fta_genuine += int(np.sum(~found[attempts]))
        out.gated_genuine += int(np.sum(gated[attempts]))
        template = enrolled.mean(axis=0)
        template /= np.linalg.norm(template)
        live = emb[live_rows]
        # genuine attempts without a usable face are rejections: score them below everything
        with_face = usable[attempts]
        logits = np.full(len(attempts), -np.inf)
        logits[with_face] = scorer.logit(live, enrolled)
        out.net_gen.append(logits)
        out.cos_gen.append(np.concatenate([live @ template, np.full(missing, -np.inf)]))
        others = imp_owner != name
        pool = scorer.logit(imp_emb, enrolled)
        out.imp_pool.append(pool)
        out.names.append(name)
        out.enrolled.append(enrolled)
        out.gen_rows.append(attempts)
        out.net_imp.append(pool[others])
        out.cos_imp.append((imp_emb @ template)[others])
        out.from_users += int(np.sum(others & imp_is_user))
    return out


def lighting_gated(store, files, found: np.ndarray, opts: UnlockProtocol) -> np.ndarray:
    """Which images' faces the live loop's lighting gate would skip (too dark, or lit from
    one side): never scored, as in the loop. None with `opts.lighting_gate` off."""
    from faceunlock.unlock.app.live import lighting_gate
    from faceunlock.unlock.config import Config

    if not opts.lighting_gate:
        return np.zeros(len(files), bool)
    dark = Config().dark_threshold
    light = store.lighting(files, progress=opts.progress)
    return found & np.array([lighting_gate(m, side, dark) is not None for m, side in light])


def evaluate_unlock(data, pipeline, opts: UnlockProtocol, enrol_pipeline=None):
    """Run the protocol; returns (figures, the network's and the baseline's score arrays
    (genuine, impostor) for plots). `enrol_pipeline`: embeds the enrolments (default: the
    same pipeline)."""
    from faceunlock.models.unlock_head.scorer import UnlockScorer
    from faceunlock.unlock.config import Config
    from faceunlock.unlock.lab.embedding_store import EmbeddingStore
    from faceunlock.unlock.lab.lfw import identity_images

    if opts.enroll < 1 or opts.min_images <= opts.enroll:
        raise FaceUnlockError("need --enroll >= 1 and --min-images > --enroll")
    identities = identity_images(data)
    scorer = UnlockScorer()
    trained = set(scorer.meta.get("trained_identities", []))
    roles = select_identities(identities, trained, opts)
    users, identities, impostor_files = roles.users, roles.identities, roles.impostor_files
    transform, transform_name = domain_transform(opts.domain)
    root = identities[users[0]][0].parent.parent

    def store_for(with_pipeline):
        return EmbeddingStore(
            root,
            with_pipeline,
            policy=opts.face,
            transform=transform,
            transform_name=transform_name,
        )

    all_files = [f for n in users for f in identities[n]] + impostor_files
    store = store_for(pipeline)
    emb, found = store.embeddings(all_files, progress=opts.progress)
    index = {f: i for i, f in enumerate(all_files)}
    enrol = (emb, found)
    if enrol_pipeline is not None:
        enrol = store_for(enrol_pipeline).embeddings(all_files, progress=opts.progress)
    gated = lighting_gated(store, all_files, found, opts)
    owner = roles.owners()
    pool = [f for f in roles.pool() if found[index[f]] and not gated[index[f]]]
    imp_rows = [index[f] for f in pool]
    faces = (found, gated)
    impostors = (emb[imp_rows], np.array([owner[f] for f in pool]))
    s = score_users(scorer, users, identities, index, emb, faces, enrol, impostors, opts.enroll)
    attempts = None
    if opts.attempt_frames:
        position = {f: i for i, f in enumerate(pool)}
        imp_groups = {
            n: [position[f] for f in identities[n] if f in position]
            for n in roles.impostors + roles.user_impostors
        }
        chunks = [
            (n, chunk)
            for n, group in imp_groups.items()
            for chunk in attempt_chunks([group], opts.attempt_frames)
        ]
        config = Config()
        attempts = attempt_figures(s, impostors[0], chunks, opts.attempt_frames, config.k, config.n)
    net_gen, net_imp = np.concatenate(s.net_gen), np.concatenate(s.net_imp)
    cos_gen, cos_imp = np.concatenate(s.cos_gen), np.concatenate(s.cos_imp)
    baseline_threshold = float(scorer.meta.get("baseline", {}).get("cosine_threshold", np.nan))
    baseline = operating_figures(cos_gen, cos_imp, baseline_threshold, FAR_POINTS)
    baseline["cosine_threshold"] = baseline_threshold
    imp_index = [index[f] for f in impostor_files]
    fta_impostor = int(np.sum(~found[imp_index]))
    result = {
        "data": str(Path(data)),
        "domain": opts.domain,
        "users": len(users),
        "enroll": opts.enroll,
        "min_images": opts.min_images,
        "impostor_identities": len(roles.impostors) + len(roles.user_impostors),
        "impostor_images": len(imp_rows),
        "excluded_trained_identities": len(trained & set(identities)),
        "roles": roles_report(roles, trained),
        "genuine_attempts": s.genuine_attempts,
        "impostor_comparisons": len(net_imp),
        "impostor_comparisons_from_users": s.from_users,
        "impostor_comparisons_from_others": len(net_imp) - s.from_users,
        "fte": s.fte,
        "fta": s.fta_genuine + fta_impostor,
        "fta_genuine": s.fta_genuine,
        "fta_impostor": fta_impostor,
        "lighting_gate": opts.lighting_gate,
        "gated_genuine": s.gated_genuine,
        "gated_impostor": int(np.sum(gated[imp_index])),
        **operating_figures(net_gen, net_imp, 0.0, FAR_POINTS),  # logit 0 <=> p = 0.5
        "calibration": scorer.meta.get("calibration", {}),
        "baseline": baseline,
        "attempts": attempts,
    }
    return result, (net_gen, net_imp), (cos_gen, cos_imp)


def roles_report(roles: Roles, trained: set[str]) -> dict:
    """Which identities each role drew from: counts and names (the JSON's `roles`)."""
    named = {
        "users": roles.users,
        "impostors_not_users": roles.impostors,
        "users_as_impostors": roles.user_impostors,
        "excluded_trained": sorted(trained & set(roles.identities)),
    }
    return {
        "rule": "users enrol and are attempted by their other images; against each user, "
        "every image of every other identity with >= 2 images is an impostor attempt, the "
        "other users included, except identities the network trained on",
        "counts": {role: len(names) for role, names in named.items()},
        **named,
    }


def plot_det(path, network, baseline, result) -> None:
    """DET curves of the network and the cosine baseline, with score histograms (PNG)."""
    net_gen, net_imp = network
    cos_gen, cos_imp = baseline
    baseline_threshold = result["baseline"]["cosine_threshold"]
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
