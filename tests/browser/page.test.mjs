// The `GET /` try-it page, driven in Debian's headless Chromium against the real `qrscan serve`.
//
//   cd tests/browser && npm ci && node --test page.test.mjs
//
// QRSCAN_BIN: the binary (default: target/release/qrscan under the repo root).
// CHROMIUM: the browser (default: /usr/bin/chromium). playwright-core never downloads one.
// SCREENSHOT_DIR: where screenshots go (default: /tmp).
//
// Nothing here talks to anything but 127.0.0.1: the browser's host resolver maps every other name to
// nothing, and every request the page makes is checked and recorded.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import http from "node:http";
import net from "node:net";
import zlib from "node:zlib";
import QRCode from "qrcode";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const BIN = resolve(repo, process.env.QRSCAN_BIN || "target/release/qrscan");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = process.env.SCREENSHOT_DIR || tmpdir();
const KEY = "browser-test-key-7f3a";
const work = mkdtempSync(join(tmpdir(), "qrscan-browser-"));

// ---------- images made here: a tiny PNG encoder over qrcode's module matrix ----------

function png(width, height, grey /* Uint8Array, one byte a pixel */) {
  const rows = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    rows[y * (width + 1)] = 0; // filter: none
    Buffer.from(grey.buffer, grey.byteOffset + y * width, width).copy(rows, y * (width + 1) + 1);
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/// A white canvas with QR codes drawn at `{text, x, y, scale}`; returns the PNG and each code's
/// expected corners (the symbol's outer edge, without the quiet zone).
function canvas(width, height, codes) {
  const grey = new Uint8Array(width * height).fill(255);
  const expected = codes.map(({ text, x, y, scale, ec = "M" }) => {
    const { modules } = QRCode.create(text, { errorCorrectionLevel: ec });
    const n = modules.size;
    for (let r = 0; r < n; r++)
      for (let c = 0; c < n; c++)
        if (modules.get(r, c))
          for (let dy = 0; dy < scale; dy++)
            grey.fill(0, (y + r * scale + dy) * width + x + c * scale, (y + r * scale + dy) * width + x + (c + 1) * scale);
    const s = n * scale;
    return { text, corners: [[x, y], [x + s, y], [x + s, y + s], [x, y + s]] };
  });
  return { bytes: png(width, height, grey), expected };
}

const ONE = canvas(360, 300, [{ text: "https://cli.im/browser-test", x: 60, y: 40, scale: 8 }]);
const TWO = canvas(640, 400, [
  { text: "HTTPS://QR.ALIPAY.COM/FKX07101FL", x: 40, y: 60, scale: 10 },
  { text: "WXP://F2F0ABC", x: 420, y: 120, scale: 6 },
]);
const HOSTILE_TEXT = '<img src=x onerror="window.__pwned=1"><b>bold</b> & "quotes"';
const HOSTILE = canvas(420, 420, [{ text: HOSTILE_TEXT, x: 40, y: 40, scale: 6 }]);
const BLANK = canvas(200, 200, []);
const IMAGES = { one: ONE, two: TWO, hostile: HOSTILE, blank: BLANK };
const files = {};
for (const [name, img] of Object.entries(IMAGES)) {
  files[name] = join(work, `${name}.png`);
  writeFileSync(files[name], img.bytes);
}

// ---------- processes: qrscan servers, a local image server, the browser ----------

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

const children = [];
process.on("exit", () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL")));

async function startQrscan(extra = []) {
  assert.ok(existsSync(BIN), `no qrscan binary at ${BIN}: run \`cargo build --release --bin qrscan\` or set QRSCAN_BIN`);
  let lastLog = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(BIN, ["serve", "--listen", `127.0.0.1:${port}`, ...extra], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH, RUST_LOG: "warn" },
    });
    children.push(child);
    let log = "";
    child.stdout.on("data", (d) => (log += d));
    child.stderr.on("data", (d) => (log += d));
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const r = await fetch(`${base}/healthz`);
        if (r.ok) return { base, child, log: () => log };
      } catch { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill("SIGKILL");
    lastLog = log;
  }
  throw new Error(`qrscan did not start: ${lastLog}`);
}

function stopChild(child) {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => { clearTimeout(t); res(); });
    child.kill("SIGTERM");
  });
}

let open, locked, images, context, profile;
const offHost = []; // every request the browser tried to make to anything but 127.0.0.1

before(async () => {
  open = await startQrscan(["--allow-loopback"]);
  locked = await startQrscan(["--api-keys", KEY]);
  images = http.createServer((req, res) => {
    const img = Object.hasOwn(IMAGES, req.url.slice(1, -4)) && req.url.endsWith(".png") && IMAGES[req.url.slice(1, -4)];
    if (!img) { res.writeHead(404).end(); return; }
    res.writeHead(200, { "Content-Type": "image/png" });
    res.end(img.bytes);
  });
  await new Promise((r) => images.listen(0, "127.0.0.1", r));

  profile = mkdtempSync(join(tmpdir(), "qrscan-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-quic",
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ],
    viewport: { width: 1000, height: 900 },
    deviceScaleFactor: 1,
    timeout: 30_000,
  });
  await context.route("**/*", (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === "127.0.0.1") return route.continue();
    offHost.push(u.href);
    return route.abort();
  });
});

after(async () => {
  await context?.close();
  await Promise.all([stopChild(open?.child), stopChild(locked?.child)]);
  await new Promise((r) => (images ? images.close(r) : r()));
  for (const dir of [profile, work]) if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------- page helpers ----------

async function openPage(base) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && !/Failed to load resource/.test(m.text()) && errors.push(m.text()));
  const resp = await page.goto(`${base}/`);
  assert.equal(resp.status(), 200);
  assert.match(resp.headers()["content-type"], /^text\/html/);
  page.errors = errors;
  return page;
}

/// Runs `action` and waits until the page has shown the answer to the scan it started.
async function scanWith(page, action) {
  const done = Number(await page.getAttribute("#status", "data-done")) || 0;
  await action();
  await page.waitForFunction((n) => Number(document.getElementById("status").dataset.done) > n, done, { timeout: 20_000 });
}

const upload = (page, file) => scanWith(page, () => page.setInputFiles("#file", file));

async function waitForOutlines(page, n) {
  await page.waitForFunction((k) => document.querySelectorAll("#overlay polygon").length === k, n, { timeout: 10_000 });
}

async function results(page) {
  return page.$$eval("#codes li[data-index]", (lis) => lis.map((li) => ({
    content: li.querySelector(".content").textContent,
    provider: li.querySelector(".provider")?.textContent,
  })));
}

async function outlines(page) {
  return page.$$eval("#overlay polygon", (ps) => ps.map((p) => p.getAttribute("points")
    .trim().split(/\s+/).map((xy) => xy.split(",").map(Number))));
}

function assertCorners(actual, expected, slack = 6) {
  assert.equal(actual.length, 4, `4 corners, got ${JSON.stringify(actual)}`);
  actual.forEach(([x, y], i) => {
    const [ex, ey] = expected[i];
    assert.ok(Math.abs(x - ex) <= slack && Math.abs(y - ey) <= slack,
      `corner ${i}: ${x},${y} is not near ${ex},${ey} (all: ${JSON.stringify(actual)})`);
  });
}

const shot = async (page, name) => page.screenshot({ path: join(SHOTS, `qrscan-page-${name}.png`), fullPage: true });

// ---------- tests ----------

test("an uploaded file: content, provider and an outline on the image", async () => {
  const page = await openPage(open.base);
  await upload(page, files.one);
  assert.equal(await page.textContent("#status"), "Found 1 QR code.");
  assert.deepEqual(await results(page), [{ content: "https://cli.im/browser-test", provider: "Caoliao" }]);
  await waitForOutlines(page, 1);
  assertCorners((await outlines(page))[0], ONE.expected[0].corners);
  // The overlay is scaled onto the image as shown, whatever its displayed size.
  const box = await page.$eval("#image", (i) => [i.naturalWidth, i.naturalHeight]);
  assert.deepEqual(box, [360, 300]);
  assert.equal(await page.getAttribute("#overlay", "viewBox"), "0 0 360 300");
  assert.match(await page.textContent("#raw"), /"provider": "Caoliao"/);
  // DeepScan's class of the text and the error-correction confidence are shown with each code.
  assert.equal(await page.textContent("#codes li .content-type"), "url");
  assert.equal(await page.textContent("#codes li .confidence"), "1.000");
  await shot(page, "upload");
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("several codes, dropped onto the page: all listed, largest first, each outlined", async () => {
  const page = await openPage(open.base);
  const b64 = TWO.bytes.toString("base64");
  await scanWith(page, () => page.evaluate((data) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], "two.png", { type: "image/png" }));
    document.getElementById("drop").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, b64));
  assert.equal(await page.textContent("#status"), "Found 2 QR codes.");
  assert.deepEqual(await results(page), [
    { content: "HTTPS://QR.ALIPAY.COM/FKX07101FL", provider: "Alipay" },
    { content: "WXP://F2F0ABC", provider: "WechatPay" },
  ]);
  await waitForOutlines(page, 2);
  const polys = await outlines(page);
  assertCorners(polys[0], TWO.expected[0].corners);
  assertCorners(polys[1], TWO.expected[1].corners);
  assert.equal(await page.locator(".stage .badge").count(), 2);
  await shot(page, "two-codes");
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("an image URL: scanned by the server, shown and outlined by the page", async () => {
  const page = await openPage(open.base);
  const url = `http://127.0.0.1:${images.address().port}/two.png`;
  await page.fill("#url", url);
  await scanWith(page, () => page.click("#url-go"));
  assert.equal(await page.textContent("#status"), "Found 2 QR codes.");
  assert.equal((await results(page)).length, 2);
  await waitForOutlines(page, 2);
  assert.equal(await page.getAttribute("#image", "src"), url);
  assert.equal(await page.isVisible("#image"), true);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("decoded text is shown as text, never parsed as HTML", async () => {
  const page = await openPage(open.base);
  await upload(page, files.hostile);
  assert.deepEqual(await results(page), [{ content: HOSTILE_TEXT, provider: "Other" }]);
  assert.equal(await page.locator("#codes b, #codes img, #codes script").count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await waitForOutlines(page, 1);
  await page.close();
});

test("failures show the code and message, and no outline", async () => {
  const page = await openPage(open.base);
  await upload(page, files.blank);
  assert.match(await page.textContent("#status"), /^Error 1008: .+/);
  assert.equal(await page.locator("#codes li[data-index]").count(), 0);
  assert.equal(await page.locator("#overlay polygon").count(), 0);
  // A URL the server refuses to parse.
  await page.$eval("#url", (i) => { i.type = "text"; i.value = "not a url"; });
  await scanWith(page, () => page.click("#url-go"));
  assert.match(await page.textContent("#status"), /^Error 1001: .+/);
  await page.close();
});

test("with API keys on: 403 without or with a wrong key, the result with the right one", async () => {
  const page = await openPage(locked.base);
  await upload(page, files.one);
  assert.match(await page.textContent("#status"), /^Error 403: an API key is required.*\(enter an API key above\)$/);
  assert.equal(await page.locator("#codes li[data-index]").count(), 0);
  assert.equal(await page.getAttribute("#status", "class"), "err");
  await shot(page, "auth-missing");

  await page.fill("#key", "wrong-key");
  await upload(page, files.one);
  assert.match(await page.textContent("#status"), /^Error 403: the API key is not valid/);
  assert.equal(await page.locator("#codes li[data-index]").count(), 0);

  await page.fill("#key", KEY);
  await upload(page, files.one);
  assert.equal(await page.textContent("#status"), "Found 1 QR code.");
  assert.deepEqual(await results(page), [{ content: "https://cli.im/browser-test", provider: "Caoliao" }]);
  await waitForOutlines(page, 1);

  // The key stays with this tab (session storage) across a reload, and is never put in the URL.
  await page.reload();
  assert.equal(await page.inputValue("#key"), KEY);
  assert.ok(!page.url().includes(KEY));
  await upload(page, files.one);
  assert.equal(await page.textContent("#status"), "Found 1 QR code.");
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("the page asked nothing of any host but 127.0.0.1", () => {
  assert.deepEqual(offHost, []);
});
