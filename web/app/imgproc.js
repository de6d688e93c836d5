// Image operations of the desktop loop, ported from OpenCV and torch (RGB uint8 images).
// An image is {data: Uint8Array (h * w * 3, RGB), width, height}.

/** Round half to even, as OpenCV's cvRound (lrint) and numpy's rint. */
export function rint(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const clampU8 = (v) => (v < 0 ? 0 : v > 255 ? 255 : v);

/** An RGB image from canvas RGBA pixels, rows 0 .. height - 1. */
export function fromRGBA(rgba, width, height) {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    data[i * 3] = rgba[j];
    data[i * 3 + 1] = rgba[j + 1];
    data[i * 3 + 2] = rgba[j + 2];
  }
  return { data, width, height };
}

/** A sub-image (rows y0 .. y1 - 1, cols x0 .. x1 - 1), copied. */
export function region(img, x0, y0, x1, y1) {
  const w = x1 - x0, h = y1 - y0;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const src = ((y0 + y) * img.width + x0) * 3;
    data.set(img.data.subarray(src, src + w * 3), y * w * 3);
  }
  return { data, width: w, height: h };
}

/** OpenCV COLOR_RGB2GRAY on uint8 (fixed point, 14 bits). */
export function grey(img) {
  const n = img.width * img.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = img.data[i * 3], g = img.data[i * 3 + 1], b = img.data[i * 3 + 2];
    out[i] = (r * 4899 + g * 9617 + b * 1868 + 8192) >> 14;
  }
  return out;
}

/** numpy.percentile (linear interpolation) of an array. */
export function percentile(values, q) {
  const sorted = Float64Array.from(values).sort();
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos), hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function areaTable(ssize, dsize, scale) {
  // OpenCV computeResizeAreaTab: per output index, [source index, weight] pairs
  const tab = [];
  for (let d = 0; d < dsize; d++) {
    const f1 = d * scale, f2 = f1 + scale;
    const cell = Math.min(scale, ssize - f1);
    let s2 = Math.min(Math.floor(f2), ssize - 1);
    const s1 = Math.min(Math.ceil(f1), s2);
    const row = [];
    if (s1 - f1 > 1e-3) row.push([s1 - 1, (s1 - f1) / cell]);
    for (let s = s1; s < s2; s++) row.push([s, 1 / cell]);
    if (f2 - s2 > 1e-3) row.push([s2, Math.min(Math.min(f2 - s2, 1), cell) / cell]);
    tab.push(row);
  }
  return tab;
}

function resizeAreaDown(img, dw, dh, sx, sy) {
  const xs = areaTable(img.width, dw, sx), ys = areaTable(img.height, dh, sy);
  const out = new Uint8Array(dw * dh * 3);
  const rowBuf = new Float64Array(dw * 3);
  const src = img.data, W = img.width;
  for (let dy = 0; dy < dh; dy++) {
    rowBuf.fill(0);
    for (const [syi, beta] of ys[dy]) {
      const base = syi * W * 3;
      for (let dx = 0; dx < dw; dx++) {
        let r = 0, g = 0, b = 0;
        for (const [sxi, alpha] of xs[dx]) {
          const k = base + sxi * 3;
          r += src[k] * alpha;
          g += src[k + 1] * alpha;
          b += src[k + 2] * alpha;
        }
        rowBuf[dx * 3] += r * beta;
        rowBuf[dx * 3 + 1] += g * beta;
        rowBuf[dx * 3 + 2] += b * beta;
      }
    }
    for (let i = 0; i < dw * 3; i++) out[dy * dw * 3 + i] = clampU8(rint(rowBuf[i]));
  }
  return out;
}

function resizeAreaFast(img, dw, dh, ix, iy) {
  const out = new Uint8Array(dw * dh * 3);
  const src = img.data, W = img.width, area = ix * iy;
  for (let dy = 0; dy < dh; dy++) {
    for (let dx = 0; dx < dw; dx++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let y = 0; y < iy; y++) {
          const base = ((dy * iy + y) * W + dx * ix) * 3 + c;
          for (let x = 0; x < ix; x++) sum += src[base + x * 3];
        }
        // OpenCV's 2 x 2 SIMD path rounds half up; the general path is cvRound
        out[(dy * dw + dx) * 3 + c] = area === 4 ? (sum + 2) >> 2 : clampU8(rint(sum / area));
      }
    }
  }
  return out;
}

function linearCoefs(ssize, dsize, scale) {
  // OpenCV's INTER_AREA when not shrinking on both axes: bilinear with "area" weights,
  // as 11-bit fixed-point coefficients (saturate_cast<short>(w * 2048))
  const inv = dsize / ssize;
  const idx = new Int32Array(dsize), a0 = new Int32Array(dsize), a1 = new Int32Array(dsize);
  for (let d = 0; d < dsize; d++) {
    let s = Math.floor(d * scale);
    let f = Math.fround(d + 1 - (s + 1) * inv);
    f = f <= 0 ? 0 : Math.fround(f - Math.floor(f));
    if (s >= ssize - 1) { s = ssize - 1; f = 0; }
    idx[d] = s;
    a0[d] = rint(Math.fround(1 - f) * 2048);
    a1[d] = rint(f * 2048);
  }
  return { idx, a0, a1 };
}

// x86 OpenCV's vertical pass (VResizeLinearVec_32s8u): 16-bit high multiplies of the
// horizontal sums shifted by 4, then (+2) >> 2
const mulhi = (b, x) => Math.floor((b * x) / 65536);

function resizeAreaLinear(img, dw, dh, sx, sy) {
  const X = linearCoefs(img.width, dw, sx), Y = linearCoefs(img.height, dh, sy);
  const out = new Uint8Array(dw * dh * 3);
  const src = img.data, W = img.width, H = img.height;
  const rows = new Map();
  const hrow = (y) => {
    if (!rows.has(y)) {
      const row = new Int32Array(dw * 3);
      for (let dx = 0; dx < dw; dx++) {
        const x0 = X.idx[dx], x1 = Math.min(x0 + 1, W - 1);
        for (let c = 0; c < 3; c++) {
          row[dx * 3 + c] = src[(y * W + x0) * 3 + c] * X.a0[dx] + src[(y * W + x1) * 3 + c] * X.a1[dx];
        }
      }
      rows.set(y, row);
    }
    return rows.get(y);
  };
  for (let dy = 0; dy < dh; dy++) {
    const y0 = Y.idx[dy], r0 = hrow(y0), r1 = hrow(Math.min(y0 + 1, H - 1));
    const b0 = Y.a0[dy], b1 = Y.a1[dy];
    for (let i = 0; i < dw * 3; i++) {
      const v = (mulhi(b0, r0[i] >> 4) + mulhi(b1, r1[i] >> 4) + 2) >> 2;
      out[dy * dw * 3 + i] = clampU8(v);
    }
  }
  return out;
}

/** cv2.resize(img, (dw, dh), interpolation=cv2.INTER_AREA) on an RGB uint8 image. */
export function resizeArea(img, dw, dh) {
  // as OpenCV: the scale is 1 / (dst / src), which is not always src / dst in doubles
  const sx = 1 / (dw / img.width), sy = 1 / (dh / img.height);
  let data;
  if (sx >= 1 && sy >= 1) {
    const ix = Math.round(sx), iy = Math.round(sy);
    const fast = Math.abs(sx - ix) < 2.220446049250313e-16 && Math.abs(sy - iy) < 2.220446049250313e-16;
    data = fast ? resizeAreaFast(img, dw, dh, ix, iy) : resizeAreaDown(img, dw, dh, sx, sy);
  } else {
    data = resizeAreaLinear(img, dw, dh, sx, sy);
  }
  return { data, width: dw, height: dh };
}

/** torch interpolate(mode="area") of regions of one image, from a summed-area table. */
export class AreaResampler {
  constructor(img) {
    const { width: w, height: h, data } = img;
    this.w = w;
    this.h = h;
    const t = new Float64Array((h + 1) * (w + 1) * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < 3; c++) {
          const i = ((y + 1) * (w + 1) + x + 1) * 3 + c;
          t[i] = data[(y * w + x) * 3 + c] + t[i - 3] + t[i - (w + 1) * 3] - t[i - (w + 2) * 3];
        }
      }
    }
    this.table = t;
  }

  /**
   * Rows y0..y1-1, cols x0..x1-1 resampled to oh x ow, written as network input
   * ((v - mean) * scale, CHW) into `out` at `offset`.
   */
  resizeInto(y0, y1, x0, x1, oh, ow, out, offset, mean, scale) {
    const t = this.table, stride = (this.w + 1) * 3;
    const inH = y1 - y0, inW = x1 - x0;
    const c0 = new Int32Array(ow), c1 = new Int32Array(ow);
    for (let j = 0; j < ow; j++) {
      c0[j] = x0 + Math.floor((j * inW) / ow);
      c1[j] = x0 + Math.ceil(((j + 1) * inW) / ow);
    }
    const plane = oh * ow;
    const fm = Math.fround(mean), fs = Math.fround(scale);
    for (let i = 0; i < oh; i++) {
      const r0 = y0 + Math.floor((i * inH) / oh), r1 = y0 + Math.ceil(((i + 1) * inH) / oh);
      for (let j = 0; j < ow; j++) {
        const count = Math.fround((r1 - r0) * (c1[j] - c0[j]));
        for (let c = 0; c < 3; c++) {
          const total =
            t[r1 * stride + c1[j] * 3 + c] - t[r0 * stride + c1[j] * 3 + c] -
            t[r1 * stride + c0[j] * 3 + c] + t[r0 * stride + c0[j] * 3 + c];
          const v = Math.fround(Math.fround(total) / count);
          out[offset + c * plane + i * ow + j] = Math.fround(Math.fround(v - fm) * fs);
        }
      }
    }
  }
}
