// The desktop loop's liveness option (unlock/app/liveness.py, LivenessChecker) from
// manifest.liveness: a small head movement must show 3-D parallax. The landmarks are
// averaged over `smooth` frames; the homography of the 4 eye and mouth-corner landmarks is
// fitted exactly (the 8 x 8 linear system, LU with partial pivoting as numpy.linalg.solve,
// refused when its 2-norm condition number exceeds max_condition, as numpy.linalg.cond)
// between each of the last `history` smoothed frames and the current one; the nose's
// distance from where it predicts the nose, in inter-ocular distances, is the parallax.
// Live after `min_frames` consecutive frames with parallax >= min_parallax.

const NO_FACE = "no_face", NEED_MOTION = "need_motion", SPOOF = "spoof", LIVE = "live";

const norm2 = (x, y) => Math.sqrt(x * x + y * y);

/** Singular values of a small dense matrix (rows x cols, rows >= cols): one-sided Jacobi. */
export function singularValues(a) {
  const m = a.length, n = a[0].length;
  const u = a.map((row) => row.slice());
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0, beta = 0, gamma = 0;
        for (let i = 0; i < m; i++) {
          alpha += u[i][p] * u[i][p];
          beta += u[i][q] * u[i][q];
          gamma += u[i][p] * u[i][q];
        }
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta) || gamma === 0) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t), s = c * t;
        for (let i = 0; i < m; i++) {
          const x = u[i][p], y = u[i][q];
          u[i][p] = c * x - s * y;
          u[i][q] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  const out = [];
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += u[i][j] * u[i][j];
    out.push(Math.sqrt(s));
  }
  return out;
}

/** x with a x = b (a square), Gaussian elimination with partial pivoting; null if singular. */
export function solve(a, b) {
  const n = b.length, m = a.map((row, i) => [...row, b[i]]);
  for (let k = 0; k < n; k++) {
    let piv = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i][k]) > Math.abs(m[piv][k])) piv = i;
    if (m[piv][k] === 0) return null;
    [m[k], m[piv]] = [m[piv], m[k]];
    for (let i = k + 1; i < n; i++) {
      const f = m[i][k] / m[k][k];
      for (let j = k; j <= n; j++) m[i][j] -= f * m[k][j];
    }
  }
  const x = new Array(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = m[i][n];
    for (let j = i + 1; j < n; j++) s -= m[i][j] * x[j];
    x[i] = s / m[i][i];
  }
  return x;
}

/** The 3 x 3 homography (row-major, 9 numbers) mapping 4 points src onto dst, or null. */
export function homography(src, dst, maxCondition) {
  const rows = [], rhs = [];
  for (let i = 0; i < src.length; i++) {
    const [x, y] = src[i], [u, v] = dst[i];
    rows.push([x, y, 1, 0, 0, 0, -u * x, -u * y]);
    rhs.push(u);
    rows.push([0, 0, 0, x, y, 1, -v * x, -v * y]);
    rhs.push(v);
  }
  const sv = singularValues(rows);
  const cond = Math.max(...sv) / Math.min(...sv);
  if (!(cond <= maxCondition)) return null; // numpy: inf (singular) is > max_condition too
  const h = solve(rows, rhs);
  return h ? [...h, 1] : null;
}

export function eyeDistance(lm) {
  return norm2(lm[1][0] - lm[0][0], lm[1][1] - lm[0][1]);
}

/** The liveness checker of one attempt; every number from manifest.liveness. */
export class LivenessChecker {
  constructor(contract) {
    this.c = contract;
    this.p = contract.params;
    this.reset();
  }

  reset() {
    this.recent = [];
    this.history = [];
    this.lastCentre = null;
    this.lastWidth = 0;
    this.liveFrames = 0;
    this.maxParallax = 0;
    this.maxPlaneMotion = 0;
    this.lastParallax = 0;
    this.state = NO_FACE;
  }

  get isLive() {
    return this.state === LIVE;
  }

  plane(lm) {
    return this.c.plane_points.map((i) => lm[i]);
  }

  /** How far the nose leaves the eye-mouth plane between two frames (inter-ocular units). */
  parallax(ref, cur) {
    const h = homography(this.plane(ref), this.plane(cur), this.c.homography.max_condition);
    if (!h) return 0;
    const [nx, ny] = ref[this.c.nose];
    const x = h[0] * nx + h[1] * ny + h[2], y = h[3] * nx + h[4] * ny + h[5];
    const w = h[6] * nx + h[7] * ny + h[8];
    const scale = eyeDistance(cur);
    if (Math.abs(w) < this.c.homography.min_w || scale <= 0) return 0;
    const [cx, cy] = cur[this.c.nose];
    const value = norm2(x / w - cx, y / w - cy) / scale;
    return Number.isFinite(value) ? value : 0;
  }

  /** How much the four plane points changed shape beyond a similarity (inter-ocular units). */
  planeMotion(ref, cur) {
    const centred = (pts) => {
      const n = pts.length;
      const mx = pts.reduce((s, q) => s + q[0], 0) / n, my = pts.reduce((s, q) => s + q[1], 0) / n;
      return pts.map(([x, y]) => [x - mx, y - my]);
    };
    const zs = centred(this.plane(ref)), zd = centred(this.plane(cur));
    let denom = 0, ar = 0, ai = 0;
    for (let i = 0; i < zs.length; i++) {
      const [sr, si] = zs[i], [dr, di] = zd[i];
      denom += sr * sr + si * si;
      ar += sr * dr + si * di; // conj(zs) * zd
      ai += sr * di - si * dr;
    }
    if (denom <= 0) return 0;
    ar /= denom;
    ai /= denom;
    let sq = 0;
    for (let i = 0; i < zs.length; i++) {
      const [sr, si] = zs[i], [dr, di] = zd[i];
      const er = dr - (ar * sr - ai * si), ei = di - (ar * si + ai * sr);
      sq += er * er + ei * ei;
    }
    const scale = eyeDistance(cur);
    return scale > 0 ? Math.sqrt(sq / zs.length) / scale : 0;
  }

  /** Add one frame's face ({box, points}), or null when the frame has none. */
  update(face) {
    const p = this.p;
    // liveness belongs to the face that moved: gone or replaced (a jump), it is forgotten
    if (!face) {
      if (this.state === LIVE) this.reset();
      if (!this.recent.length) this.state = NO_FACE;
      return;
    }
    const lm = face.points.map(([x, y]) => [x, y]);
    if (!lm.flat().every(Number.isFinite) || eyeDistance(lm) < p.min_eye_distance) return;
    const [x1, y1, x2, y2] = face.box;
    const centre = [(x1 + x2) / 2, (y1 + y2) / 2];
    if (this.lastCentre) {
      const jump = Math.hypot(centre[0] - this.lastCentre[0], centre[1] - this.lastCentre[1]);
      if (jump > p.max_jump * Math.max(this.lastWidth, 1)) this.reset(); // another face: start over
    }
    this.lastCentre = centre;
    this.lastWidth = x2 - x1;
    if (this.state === LIVE) return;
    this.recent.push(lm);
    if (this.recent.length > p.smooth) this.recent.shift();
    if (this.state === NO_FACE) this.state = NEED_MOTION;
    if (this.recent.length < p.smooth) return;
    const current = lm.map((_, k) => [0, 1].map((d) => {
      let s = 0;
      for (const r of this.recent) s += r[k][d];
      return s / this.recent.length;
    }));
    // earlier smoothed frames that share no frame with the current average
    const references = this.history.slice(0, this.history.length - (p.smooth - 1));
    this.history.push(current);
    if (this.history.length > p.history + p.smooth - 1) this.history.shift();
    if (!references.length) return;
    const best = Math.max(...references.map((r) => this.parallax(r, current)));
    const motion = Math.max(...references.map((r) => this.planeMotion(r, current)));
    this.lastParallax = best;
    this.maxParallax = Math.max(this.maxParallax, best);
    this.maxPlaneMotion = Math.max(this.maxPlaneMotion, motion);
    this.liveFrames = best >= p.min_parallax ? this.liveFrames + 1 : 0;
    if (this.liveFrames >= p.min_frames) this.state = LIVE;
    else if (this.maxPlaneMotion >= p.spoof_motion) this.state = SPOOF;
    else this.state = NEED_MOTION;
  }
}
