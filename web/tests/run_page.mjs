// Opens the bundle's page in headless Chromium with a file as the fake camera, waits for
// the attempt to end and writes the page's log, summary and a screenshot.
// node run_page.mjs URL CLIP.y4m OUT.json SHOT.png [TIMEOUT_S]
import { writeFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [url, clip, out, shot, timeoutS = "180"] = process.argv.slice(2);
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
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 660, height: 480 } });
  page.on("console", (m) => { if (m.text().startsWith("faceunlock-error")) errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => window.faceunlock?.done || window.faceunlock?.error,
    null, { timeout: Number(timeoutS) * 1000, polling: 250 });
  const result = await page.evaluate(() => ({
    log: window.faceunlock.log, summary: window.faceunlock.summary,
    threads: window.faceunlock.threads, isolated: self.crossOriginIsolated,
  }));
  await page.screenshot({ path: shot });
  writeFileSync(out, JSON.stringify({ ...result, errors }));
} catch (e) {
  writeFileSync(out, JSON.stringify({ errors: [...errors, String(e)] }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
