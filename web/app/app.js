// The page: camera or video file -> the desktop loop (loop.js) -> overlay and a JSON log.
// URL parameters: threads=N (wasm threads), video=URL (a video file instead of the camera),
// strip=ROWS (tests: the bottom ROWS rows of each frame carry its clip index as 16 black
// or white blocks and are cut off before processing), fps=F (media time of strip frames),
// liveness=1 (or 0) switches the liveness option on (off) whatever the manifest's config says.
import * as ort from "./vendor/ort.wasm.min.mjs";
import { fromRGBA } from "./imgproc.js";
import { UnlockLoop } from "./loop.js";

const params = new URLSearchParams(location.search);
const STRIP_BITS = 16;
const PREROLL = 2 ** STRIP_BITS - 1; // strip index of frames before the clip
const $ = (id) => document.getElementById(id);
const state = { log: [], done: false, summary: null, threads: 0, ready: false };
window.faceunlock = state;

function say(text) {
  $("status").textContent = text;
}

async function loadSessions(manifest) {
  const isolated = self.crossOriginIsolated === true;
  const wanted = Number(params.get("threads") || (isolated ? 2 : 1));
  ort.env.wasm.numThreads = isolated ? wanted : 1;
  ort.env.wasm.wasmPaths = new URL("./vendor/", location.href).href;
  state.threads = ort.env.wasm.numThreads;
  const options = { executionProviders: ["wasm"], graphOptimizationLevel: "all" };
  const names = { ...manifest.detector.files, unlock: "unlock.onnx" };
  const sessions = {};
  for (const [key, file] of Object.entries(names)) {
    sessions[key] = await ort.InferenceSession.create(`./model/${file}`, options);
  }
  return sessions;
}

/**
 * The clip index in a strip frame's bottom rows: bits in the upper half, their complement
 * in the lower half; null when they disagree (a frame not drawn yet). PREROLL before the clip.
 */
function readStrip(rgba, width, height, rows) {
  const upper = height - rows + Math.floor(rows / 4), lower = height - Math.floor(rows / 4) - 1;
  const block = width / STRIP_BITS;
  let index = 0;
  for (let b = 0; b < STRIP_BITS; b++) {
    const x = Math.floor(b * block + block / 2);
    const bit = rgba[(upper * width + x) * 4 + 1] > 128, check = rgba[(lower * width + x) * 4 + 1] > 128;
    if (bit === check) return null;
    index = index * 2 + (bit ? 1 : 0);
  }
  return index;
}

// The desktop window's banners (unlock/app/live.py FrameResult.banner)
const BANNERS = {
  no_face: "NO FACE", too_dark: "TOO DARK", uneven_light: "LIGHT FROM ONE SIDE",
  locked: "LOCKED", move_head: "MOVE YOUR HEAD",
};

function banner(res) {
  return res.state === "unlocked" ? `UNLOCKED ${res.user}` : BANNERS[res.state] ?? res.state.toUpperCase();
}

function drawOverlay(ctx, res, fps, threshold, liveness) {
  const colour = res.state === "unlocked" ? "#3c3" : res.p != null && res.p >= threshold ? "#fc3" : "#e33";
  ctx.lineWidth = 2;
  ctx.strokeStyle = ctx.fillStyle = colour;
  if (res.box) {
    const [x1, y1, x2, y2] = res.box;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    for (const [x, y] of res.points || []) ctx.fillRect(x - 2, y - 2, 4, 4);
  }
  const W = ctx.canvas.width, barW = Math.min(200, W / 3);
  ctx.fillStyle = "rgba(0,0,0,0.6)";
  ctx.fillRect(0, 0, W, liveness ? 62 : 44);
  ctx.fillStyle = "#555";
  ctx.fillRect(8, 28, barW, 10);
  ctx.fillStyle = colour;
  ctx.fillRect(8, 28, barW * (res.p ?? 0), 10);
  ctx.fillStyle = "#fff";
  ctx.fillRect(8 + barW * threshold - 1, 24, 2, 18);
  ctx.font = "bold 16px system-ui, sans-serif";
  ctx.fillText(`${banner(res)}  p ${res.p == null ? "-" : res.p.toFixed(2)}`, 8, 20);
  ctx.font = "12px system-ui, sans-serif";
  const ms = Object.entries(res.ms).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(" ");
  ctx.fillText(`${fps.toFixed(1)} fps  ${ms} ms  ${state.threads} thr`, barW + 20, 36);
  if (liveness && res.liveness) {
    const need = liveness.params.min_parallax;
    ctx.fillText(`liveness ${res.liveness.replace("_", " ")}  parallax ${res.parallax.toFixed(2)} (live at ${need})`, 8, 56);
  }
}

class Runner {
  constructor(manifest, sessions) {
    this.manifest = manifest;
    this.sessions = sessions;
    this.video = $("video");
    this.ctx = $("view").getContext("2d");
    this.grab = document.createElement("canvas").getContext("2d", { willReadFrequently: true });
    this.strip = Number(params.get("strip") || 0);
    this.fps = Number(params.get("fps") || 25);
    const asked = params.get("liveness");
    this.liveness = asked === null ? manifest.liveness.enabled === true : asked === "1";
    state.liveness = this.liveness;
    this.reset();
  }

  reset() {
    this.loop = new UnlockLoop(ort, this.sessions, this.manifest, { liveness: this.liveness });
    this.last = -1;
    this.frames = 0;
    this.start = performance.now();
    this.times = [];
    this.ended = false;
    state.log = [];
    state.done = false;
    state.summary = null;
    $("log").textContent = "";
  }

  nextFrame() {
    return new Promise((resolve) => this.video.requestVideoFrameCallback(() => resolve()));
  }

  /** This frame's pixels (RGB, strip cut off) and its index, or null to skip it. */
  frame() {
    const v = this.video, w = v.videoWidth, h = v.videoHeight;
    if (!w || !h) return null;
    this.grab.canvas.width = w;
    this.grab.canvas.height = h;
    this.grab.drawImage(v, 0, 0);
    const rgba = this.grab.getImageData(0, 0, w, h).data;
    if (!this.strip) return { img: fromRGBA(rgba, w, h), index: this.frames, tMs: performance.now() - this.start };
    const index = readStrip(rgba, w, h, this.strip);
    if (index === null || index === PREROLL || index === this.last) return null;
    if (index < this.last) return { end: true };
    if (index !== this.last + 1) this.record({ frame: index, state: "dropped", missed: index - this.last - 1 });
    this.last = index;
    return { img: fromRGBA(rgba, w, h - this.strip), index, tMs: (index * 1000) / this.fps };
  }

  record(entry) {
    state.log.push(entry);
    $("log").textContent += JSON.stringify(entry) + "\n";
    console.log("faceunlock-frame " + JSON.stringify(entry));
  }

  finish(result, frame) {
    this.ended = true;
    state.summary = {
      result, unlocked_at_frame: frame ?? null, frames: this.frames, threads: state.threads,
      liveness: this.liveness,
    };
    state.done = true;
    console.log("faceunlock-summary " + JSON.stringify(state.summary));
  }

  async run() {
    const m = this.manifest;
    for (;;) {
      await this.nextFrame();
      if (this.ended) continue;
      const got = this.frame();
      if (!got) continue;
      if (got.end) { this.finish("locked"); continue; }
      if (got.tMs > m.decision.timeout_s * 1000) { this.finish("locked"); continue; }
      const t0 = performance.now();
      const res = await this.loop.step(got.img, got.index, got.tMs);
      res.ms.total = performance.now() - t0;
      this.frames += 1;
      this.times.push(res.ms.total);
      if (this.times.length > 30) this.times.shift();
      const fps = 1000 / (this.times.reduce((a, b) => a + b, 0) / this.times.length);
      const { width, height } = got.img;
      if (this.ctx.canvas.width !== width) Object.assign(this.ctx.canvas, { width, height });
      this.ctx.putImageData(new ImageData(this.rgba(got.img), width, height), 0, 0);
      drawOverlay(this.ctx, res, fps, m.decision.threshold, this.liveness ? m.liveness : null);
      this.record(res);
      say(`${m.user}: ${res.state}  ${fps.toFixed(1)} fps, ${state.threads} thread(s)`);
      if (res.state === "unlocked") this.finish("unlocked", res.frame);
    }
  }

  rgba(img) {
    const out = new Uint8ClampedArray(img.width * img.height * 4);
    for (let i = 0; i < img.width * img.height; i++) {
      out.set(img.data.subarray(i * 3, i * 3 + 3), i * 4);
      out[i * 4 + 3] = 255;
    }
    return out;
  }
}

async function useCamera(video) {
  if (!navigator.mediaDevices?.getUserMedia) {
    say("no camera API here: the page needs https or localhost (see docs/onnx.md); pick a video file");
    return false;
  }
  const constraints = params.get("strip") ? { video: true } : { video: { facingMode: "user" } };
  video.srcObject = await navigator.mediaDevices.getUserMedia({ ...constraints, audio: false });
  await video.play();
  return true;
}

async function useVideo(video, url) {
  video.srcObject = null;
  video.src = url;
  video.loop = false;
  await video.play();
}

async function main() {
  const manifest = await (await fetch("./model/manifest.json")).json();
  const sessions = await loadSessions(manifest);
  const runner = new Runner(manifest, sessions);
  state.ready = true;
  const video = $("video");
  $("camera").onclick = () => { runner.reset(); useCamera(video).catch((e) => say(`camera: ${e.message}`)); };
  $("file").onchange = (e) => { runner.reset(); useVideo(video, URL.createObjectURL(e.target.files[0])); };
  $("reset").onclick = () => runner.reset();
  say(`ready: ${manifest.user}, ${state.threads} thread(s)${runner.liveness ? ", liveness on" : ""}`);
  runner.run();
  if (params.get("video")) await useVideo(video, params.get("video"));
  else await useCamera(video).catch((e) => say(`camera: ${e.message}; pick a video file`));
}

main().catch((e) => {
  say(`error: ${e.message}`);
  state.error = e.message;
  console.log("faceunlock-error " + e.message);
});
