// Opens the bundle's page in headless Chromium with a file as the fake camera, waits for
// the attempt to end and writes the page's log, summary and a screenshot. Further
// URL OUT SHOT triples are further passes in the same browser, one page after another
// (each page opens the camera anew, so each sees the clip from its start).
// node run_page.mjs URL CLIP.y4m OUT.json SHOT.png [TIMEOUT_S [URL OUT.json SHOT.png]...]
import { writeFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [url, clip, out, shot, timeoutS = "180", ...more] = process.argv.slice(2);
const passes = [[url, out, shot]];
for (let i = 0; i + 2 < more.length; i += 3) passes.push(more.slice(i, i + 3));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    `--use-file-for-fake-video-capture=${clip}`,
  ],
});

async function run(passUrl, passOut, passShot) {
  const errors = [];
  const page = await browser.newPage({ viewport: { width: 660, height: 480 } });
  try {
    page.on("console", (m) => { if (m.text().startsWith("faceunlock-error")) errors.push(m.text()); });
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(passUrl);
    await page.waitForFunction(() => window.faceunlock?.done || window.faceunlock?.error,
      null, { timeout: Number(timeoutS) * 1000, polling: 250 });
    const result = await page.evaluate(() => ({
      log: window.faceunlock.log, summary: window.faceunlock.summary,
      threads: window.faceunlock.threads, isolated: self.crossOriginIsolated,
      liveness: window.faceunlock.liveness,
    }));
    await page.screenshot({ path: passShot });
    writeFileSync(passOut, JSON.stringify({ ...result, errors }));
  } catch (e) {
    writeFileSync(passOut, JSON.stringify({ errors: [...errors, String(e)] }));
    process.exitCode = 1;
  } finally {
    await page.close();
  }
}

try {
  for (const [u, o, s] of passes) await run(u, o, s);
} finally {
  await browser.close();
}
