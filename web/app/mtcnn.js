// MTCNN on the bundle's pnet/rnet/onet.onnx, every constant from manifest.detector
// (the port of models/mtcnn/ort_mtcnn.py). Boxes are arrays [x1, y1, x2, y2, score].
import { AreaResampler } from "./imgproc.js";

const f32 = Math.fround;

/** torchvision.ops.nms: kept indices by descending score; IoU > iou drops. */
export function nmsUnion(boxes, iou) {
  const order = boxes.map((_, i) => i).sort((a, b) => boxes[b][4] - boxes[a][4] || a - b);
  const area = boxes.map((b) => f32((b[2] - b[0]) * (b[3] - b[1])));
  const dead = new Uint8Array(boxes.length);
  const keep = [];
  for (let p = 0; p < order.length; p++) {
    const i = order[p];
    if (dead[i]) continue;
    keep.push(i);
    for (let q = p + 1; q < order.length; q++) {
      const j = order[q];
      if (dead[j]) continue;
      const w = Math.max(0, Math.min(boxes[i][2], boxes[j][2]) - Math.max(boxes[i][0], boxes[j][0]));
      const h = Math.max(0, Math.min(boxes[i][3], boxes[j][3]) - Math.max(boxes[i][1], boxes[j][1]));
      const inter = f32(w * h);
      if (inter / (area[i] + area[j] - inter) > iou) dead[j] = 1;
    }
  }
  return keep;
}

/** facenet-pytorch nms_numpy "Min" (pixel-inclusive areas). */
export function nmsMin(boxes, iou) {
  let order = boxes.map((_, i) => i).sort((a, b) => boxes[a][4] - boxes[b][4]);
  const area = boxes.map((b) => (b[2] - b[0] + 1) * (b[3] - b[1] + 1));
  const pick = [];
  while (order.length) {
    const i = order[order.length - 1];
    pick.push(i);
    order = order.slice(0, -1).filter((j) => {
      const w = Math.max(0, Math.min(boxes[i][2], boxes[j][2]) - Math.max(boxes[i][0], boxes[j][0]) + 1);
      const h = Math.max(0, Math.min(boxes[i][3], boxes[j][3]) - Math.max(boxes[i][1], boxes[j][1]) + 1);
      return (w * h) / Math.min(area[i], area[j]) <= iou;
    });
  }
  return pick;
}

/** Make boxes square around their centre (longer side), in place. */
export function square(b) {
  const h = f32(b[3] - b[1]), w = f32(b[2] - b[0]), side = Math.max(w, h);
  b[0] = f32(f32(b[0] + f32(w * 0.5)) - f32(side * 0.5));
  b[1] = f32(f32(b[1] + f32(h * 0.5)) - f32(side * 0.5));
  b[2] = f32(b[0] + side);
  b[3] = f32(b[1] + side);
  return b;
}

function bbreg(b, reg) {
  const w = f32(f32(b[2] - b[0]) + 1), h = f32(f32(b[3] - b[1]) + 1);
  const at = (k, size) => f32(b[k] + f32(reg[k] * size));
  return [at(0, w), at(1, h), at(2, w), at(3, h), b[4]];
}

/** Crop bounds per manifest.detector.net_crops, or null when the box has no pixels. */
function netCrop(b, w, h) {
  let x = Math.trunc(b[0]), y = Math.trunc(b[1]), ex = Math.trunc(b[2]), ey = Math.trunc(b[3]);
  if (x < 1) x = 1;
  if (y < 1) y = 1;
  if (ex > w) ex = w;
  if (ey > h) ey = h;
  if (!(ey > y - 1 && ex > x - 1)) return null;
  return [y - 1, ey, x - 1, ex];
}

export class Mtcnn {
  /** `sessions`: {pnet, rnet, onet} onnxruntime-web sessions; `det`: manifest.detector. */
  constructor(ort, sessions, det, minFace) {
    this.ort = ort;
    this.s = sessions;
    this.det = det;
    this.minFace = minFace;
    this.mean = det.input.mean;
    this.scale = det.input.scale;
  }

  scales(h, w) {
    const cell = this.det.pnet.cell, m = cell / this.minFace;
    const out = [];
    let minl = Math.min(h, w) * m, s = m;
    while (minl >= cell) {
      out.push(s);
      s *= this.det.factor;
      minl *= this.det.factor;
    }
    return out;
  }

  tensor(data, n, size) {
    return new this.ort.Tensor("float32", data, [n, 3, size, size]);
  }

  /** Square boxes -> size x size network input for the boxes that have pixels. */
  crops(area, boxes, size) {
    const kept = [], bounds = [];
    for (const b of boxes) {
      const c = netCrop(b, area.w, area.h);
      if (c) { kept.push(b); bounds.push(c); }
    }
    const data = new Float32Array(kept.length * 3 * size * size);
    bounds.forEach(([y0, y1, x0, x1], k) =>
      area.resizeInto(y0, y1, x0, x1, size, size, data, k * 3 * size * size, this.mean, this.scale));
    return { kept, data };
  }

  async stageOne(area) {
    const { h, w } = area, p = this.det.pnet;
    let all = [];
    for (const scale of this.scales(h, w)) {
      const hs = Math.trunc(h * scale + 1), ws = Math.trunc(w * scale + 1);
      const data = new Float32Array(3 * hs * ws);
      area.resizeInto(0, h, 0, w, hs, ws, data, 0, this.mean, this.scale);
      const out = await this.s.pnet.run({ image: new this.ort.Tensor("float32", data, [1, 3, hs, ws]) });
      const [, , oh, ow] = out.prob.dims;
      const prob = out.prob.data, reg = out.reg.data, plane = oh * ow, fs = f32(scale);
      const boxes = [];
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          const score = prob[plane + y * ow + x];
          if (score < this.det.thresholds[0]) continue;
          const r = [0, 1, 2, 3].map((k) => reg[k * plane + y * ow + x]);
          boxes.push([
            Math.floor(f32((p.stride * x + 1) / fs)), Math.floor(f32((p.stride * y + 1) / fs)),
            Math.floor(f32((p.stride * x + p.cell) / fs)), Math.floor(f32((p.stride * y + p.cell) / fs)),
            score, ...r,
          ]);
        }
      }
      all = all.concat(nmsUnion(boxes, p.nms_per_level.iou).map((i) => boxes[i]));
    }
    all = nmsUnion(all, p.nms_all_levels.iou).map((i) => all[i]);
    return all.map((b) => {
      const rw = f32(b[2] - b[0]), rh = f32(b[3] - b[1]);
      const at = (k, size) => f32(b[k] + f32(b[k + 5] * size));
      return square([at(0, rw), at(1, rh), at(2, rw), at(3, rh), b[4]]);
    });
  }

  /** O-Net stage: scored, regressed boxes with landmarks ({box, points}). */
  async outputStage(area, boxes) {
    const size = this.det.onet.size;
    const { kept, data } = this.crops(area, boxes, size);
    if (!kept.length) return [];
    const out = await this.s.onet.run({ image: this.tensor(data, kept.length, size) });
    const faces = [];
    kept.forEach((b, i) => {
      const score = out.prob.data[i * 2 + 1];
      if (!(score > this.det.thresholds[2])) return;
      const lm = out.landmarks.data.subarray(i * 10, i * 10 + 10);
      const wi = b[2] - b[0] + 1, hi = b[3] - b[1] + 1;
      const points = [0, 1, 2, 3, 4].map((k) => [f32(wi * lm[k] + b[0] - 1), f32(hi * lm[5 + k] + b[1] - 1)]);
      const reg = out.reg.data.subarray(i * 4, i * 4 + 4);
      faces.push({ box: bbreg([b[0], b[1], b[2], b[3], score], reg), points });
    });
    return faces;
  }

  /** Every face of an RGB image, largest first: [{box: [x1, y1, x2, y2, p], points}]. */
  async detect(img) {
    const area = new AreaResampler(img);
    let boxes = await this.stageOne(area);
    if (boxes.length) {
      const size = this.det.rnet.size;
      const { kept, data } = this.crops(area, boxes, size);
      boxes = [];
      if (kept.length) {
        const out = await this.s.rnet.run({ image: this.tensor(data, kept.length, size) });
        const cand = [], regs = [];
        kept.forEach((b, i) => {
          const score = out.prob.data[i * 2 + 1];
          if (score > this.det.thresholds[1]) {
            cand.push([b[0], b[1], b[2], b[3], score]);
            regs.push(out.reg.data.subarray(i * 4, i * 4 + 4));
          }
        });
        boxes = nmsUnion(cand, this.det.rnet.nms.iou).map((i) => square(bbreg(cand[i], regs[i])));
      }
    }
    let faces = boxes.length ? await this.outputStage(area, boxes) : [];
    faces = nmsMin(faces.map((f) => f.box), this.det.onet.nms.iou).map((i) => faces[i]);
    const areaOf = (f) => (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]);
    return faces.sort((a, b) => areaOf(b) - areaOf(a));
  }

  /** Re-locate faces near known boxes with O-Net alone (the loop's tracking step). */
  async refine(area, faces) {
    const seeds = faces.map((f) => {
      const [x1, y1, x2, y2] = f.box;
      const bw = f32(x2 - x1), bh = f32(y2 - y1);
      const side = f32(Math.sqrt(Math.max(f32(bw * bh), 1)));
      const cx = f32(x1 + bw / 2), cy = f32(y1 + bh / 2);
      return [f32(cx - side / 2), f32(cy - side / 2), f32(cx + side / 2), f32(cy + side / 2), 0];
    });
    return this.outputStage(area, seeds);
  }
}
