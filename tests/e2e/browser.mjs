// tests/e2e/browser.mjs: Debian's headless Chromium driven by playwright-core
// (never a downloaded browser), set up for a closed network and for WebRTC
// over loopback, plus numbered screenshots saved as test artifacts.
//
//   const b = await launch();
//   const ctx = await newContext(b);          // one user = one context
//   const page = await ctx.newPage();
//   await page.goto(url('/login'));
//   await shot(page, 'login');                // build/e2e/<NN>-login.png
//   await b.close();
//
//   const phone = await launchPersistent(dir); // one user = one browser
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// Where screenshots go: build/e2e/ (or $SC_TEST_ARTIFACTS).
export const artifacts = process.env.SC_TEST_ARTIFACTS ??
  join(repo, 'build', 'e2e');

// The gateway the suite under test listens on (tests/lib/suite.sh).
export const gateway = process.env.SC_TEST_GATEWAY_URL ??
  'http://127.0.0.1:8080';

export function url(path) {
  return new URL(path, gateway).toString();
}

// Flags for a machine with no outside network: without the
// background-networking ones Chromium keeps dialling Google's hosts. For
// WebRTC on loopback only, Chromium must be allowed loopback candidates and
// must not hide local addresses behind mDNS names, else it gathers no ICE
// candidate at all (../shared/FACTS.md).
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

export async function launch(opts = {}) {
  return chromium.launch({
    executablePath: process.env.SC_TEST_CHROMIUM ?? '/usr/bin/chromium',
    args: chromiumArgs,
    ...opts,
  });
}

// A fresh context (its own cookies and storage: one user) with camera and
// microphone granted, which Chromium requires before it offers host ICE
// candidates. Nothing is captured. A phone-sized viewport: the app is
// mobile-first.
export async function newContext(browser, opts = {}) {
  return browser.newContext({
    baseURL: gateway,
    viewport: { width: 390, height: 844 },
    permissions: ['camera', 'microphone'],
    acceptDownloads: true,
    ...opts,
  });
}

// One user as a browser of its own with an on-disk profile in `dir` (as on
// a phone: storage such as OPFS on disk, where an incognito context of
// newContext() keeps it in the browser process's memory): launch() and
// newContext() in one, with the same flags and grants. Returns the
// context; closing it closes its browser. The caller owns `dir` and
// removes it after the close.
export async function launchPersistent(dir, opts = {}) {
  return chromium.launchPersistentContext(dir, {
    executablePath: process.env.SC_TEST_CHROMIUM ?? '/usr/bin/chromium',
    args: chromiumArgs,
    baseURL: gateway,
    viewport: { width: 390, height: 844 },
    permissions: ['camera', 'microphone'],
    acceptDownloads: true,
    ...opts,
  });
}

let shots = 0;

// Save a full-page screenshot as build/e2e/NN-<name>.png; returns its path.
export async function shot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  shots += 1;
  const file = join(artifacts,
    `${String(shots).padStart(2, '0')}-${name.replace(/[^a-z0-9_-]+/gi, '-')}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
