// The desktop loop (unlock/app/live.py) on the bundle: dark frames, the face finder with
// O-Net tracking, the crop, the lighting gate, p from unlock.onnx, the k-of-n rule and,
// when asked, liveness (liveness.js). Every number comes from the manifest.
import { AreaResampler, grey, percentile, region, resizeArea, rint } from "./imgproc.js";
import { LivenessChecker } from "./liveness.js";
import { Mtcnn } from "./mtcnn.js";

const clip = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
const minSide = (f) => Math.min(f.box[2] - f.box[0], f.box[3] - f.box[1]);
const boxArea = (b) => (b[2] - b[0]) * (b[3] - b[1]);

function iou(a, b) {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h, union = boxArea(a) + boxArea(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** manifest.loop.dark_frame: the frame's brightest 1 % darker than the threshold. */
export function frameIsDark(img, dark) {
  const [w, h] = dark.resize_to_wh;
  return percentile(grey(resizeArea(img, w, h)), dark.percentile) < dark.too_dark_below;
}

/** manifest.crop: the face's 160 x 160 crop (RGB uint8) from the full frame. */
export function cropFace(img, box, crop) {
  const [x1, y1, x2, y2] = box;
  const grow = crop.margin_fraction_of_longer_side * Math.max(x2 - x1, y2 - y1);
  const w = img.width, h = img.height;
  const left = clip(rint(x1 - grow), 0, w - 1), top = clip(rint(y1 - grow), 0, h - 1);
  const right = clip(rint(x2 + grow), left + 1, w), bottom = clip(rint(y2 + grow), top + 1, h);
  return resizeArea(region(img, left, top, right, bottom), crop.size, crop.size);
}

/** manifest.loop.lighting_gate: [mean grey, side imbalance] of a crop. */
export function faceLighting(crop, gate) {
  const g = grey(crop), w = crop.width, h = crop.height;
  let total = 0;
  for (const v of g) total += v;
  const r0 = Math.trunc(h * gate.inner_rows[0]), r1 = Math.trunc(h * gate.inner_rows[1]);
  const c0 = Math.trunc(w * gate.inner_cols[0]), c1 = Math.trunc(w * gate.inner_cols[1]);
  const half = Math.trunc((c1 - c0) / 2);
  let left = 0, right = 0;
  for (let y = r0; y < r1; y++) {
    for (let x = c0; x < c1; x++) {
      if (x - c0 < half) left += g[y * w + x];
      else right += g[y * w + x];
    }
  }
  left /= (r1 - r0) * half;
  right /= (r1 - r0) * (c1 - c0 - half);
  return [total / g.length, Math.abs(Math.log((left + gate.eps) / (right + gate.eps)))];
}

/** Normalised network input (1 x 3 x 160 x 160) of an RGB crop. */
export function normalise(crop, norm) {
  const n = crop.width * crop.height, out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[c * n + i] = (crop.data[i * 3 + c] - norm.mean) * norm.scale;
  }
  return out;
}

/** manifest.decision: unlock when this p >= threshold and k of the last n scored did. */
export class KOfN {
  constructor(k, n, threshold) {
    Object.assign(this, { k, n, threshold });
    this.window = [];
  }

  add(p) {
    const hit = p >= this.threshold;
    this.window.push(hit);
    if (this.window.length > this.n) this.window.shift();
    const hits = this.window.filter(Boolean).length;
    return [hit && hits >= this.k, hits];
  }
}

/** The largest face of at least min_face_size px, tracked between full detections. */
export class FaceFinder {
  constructor(detector, loop) {
    this.det = detector;
    this.ff = loop.face_finder;
    this.tr = loop.tracking;
    this.previous = null;
    this.sinceFull = 0;
    this.mode = "full";
  }

  async full(img) {
    let s = Math.min(1, this.ff.detector_min_face / this.ff.min_face_size);
    let small = img;
    if (Math.abs(s - 1) > 1e-3) {
      const w = Math.max(12, rint(img.width * s)), h = Math.max(12, rint(img.height * s));
      small = resizeArea(img, w, h);
      s = w / img.width;
    }
    const faces = (await this.det.detect(small)).map((f) => ({
      box: [f.box[0] / s, f.box[1] / s, f.box[2] / s, f.box[3] / s, f.box[4]],
      points: f.points.map(([x, y]) => [x / s, y / s]),
    }));
    const keep = faces.filter((f) => minSide(f) >= this.ff.min_size_fraction * this.ff.min_face_size);
    return keep.sort((a, b) => boxArea(b.box) - boxArea(a.box));
  }

  async near(area, previous) {
    let face = previous;
    for (let i = 0; i < this.tr.passes; i++) {
      const found = await this.det.refine(area, [face]);
      face = found.length ? found[0] : null;
      if (!face) return null;
    }
    const small = minSide(face) < this.ff.min_size_fraction * this.ff.min_face_size;
    return small || iou(face.box, previous.box) < this.tr.min_iou ? null : face;
  }

  async find(img) {
    let face = null;
    if (this.previous && this.sinceFull < this.tr.refresh_every) {
      face = await this.near(new AreaResampler(img), this.previous);
      this.sinceFull += 1;
      this.mode = "track";
    }
    if (!face) {
      const faces = await this.full(img);
      face = faces.length ? faces[0] : null;
      this.sinceFull = 0;
      this.mode = "full";
    }
    this.previous = face;
    return face;
  }
}

/**
 * One attempt: step(frame) -> the frame's result, as the desktop loop's JSON line. With
 * liveness on, an unlock waits as state manifest.liveness.unlock_waits_state (move_head)
 * until the checker saw the head move, as the desktop loop does.
 */
export class UnlockLoop {
  constructor(ort, sessions, manifest, { liveness = false } = {}) {
    this.ort = ort;
    this.s = sessions;
    this.m = manifest;
    const det = new Mtcnn(ort, sessions, manifest.detector, manifest.loop.face_finder.detector_min_face);
    this.finder = new FaceFinder(det, manifest.loop);
    this.rule = new KOfN(manifest.decision.k, manifest.decision.n, manifest.decision.threshold);
    this.liveness = liveness ? new LivenessChecker(manifest.liveness) : null;
  }

  /** The checker's state and last parallax, for the log and the overlay. */
  livenessFields() {
    const lv = this.liveness;
    return lv ? { liveness: lv.state, parallax: lv.lastParallax } : {};
  }

  async step(img, index, tMs) {
    const m = this.m, ms = {};
    let t = performance.now();
    const result = (state, extra = {}) => ({
      frame: index, t_ms: tMs, state, ms, ...extra, ...this.livenessFields(),
    });
    if (frameIsDark(img, m.loop.dark_frame)) {
      ms.detect = performance.now() - t;
      return result("too_dark", { box: null, p: null });
    }
    const face = await this.finder.find(img);
    ms.detect = performance.now() - t;
    if (!face) {
      this.liveness?.update(null);
      return result("no_face", { box: null, p: null, track: this.finder.mode });
    }
    t = performance.now();
    const crop = cropFace(img, face.box, m.crop);
    ms.crop = performance.now() - t;
    const [mean, side] = faceLighting(crop, m.loop.lighting_gate);
    const base = { box: face.box.slice(0, 4), points: face.points, track: this.finder.mode };
    if (mean < m.loop.lighting_gate.too_dark_below) return result("too_dark", { ...base, p: null });
    if (side > m.loop.lighting_gate.max_side_light) return result("uneven_light", { ...base, p: null });
    t = performance.now();
    const size = m.crop.size;
    const input = new this.ort.Tensor("float32", normalise(crop, m.crop.normalisation), [1, 3, size, size]);
    const out = await this.s.unlock.run({ image: input });
    const p = out.p.data[0];
    ms.embed = performance.now() - t;
    const [unlock, hits] = this.rule.add(p);
    let state = unlock ? "unlocked" : "locked";
    if (this.liveness) {
      this.liveness.update(face);
      if (unlock && !this.liveness.isLive) state = m.liveness.unlock_waits_state;
    }
    return result(state, { ...base, p, hits, user: m.user });
  }
}
