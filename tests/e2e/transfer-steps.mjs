// tests/e2e/transfer-steps.mjs: the WebRTC video transfer driven through
// the PWA's UI (frontend/src/transfer/TransferPanel.jsx), for the journey
// test and transfer.test.mjs. Both pages must be on the same accepted
// match page (/matches/:id), where the app renders the panel inside
// <section aria-label="Video transfer">.
//
//   const r = await sendFile({ sender, receiver, filePath, sha256, shot });
//   // r: {name, bytes, ms, mbps, storage}
//
// sendFile chooses the file ("Video file"), presses "Send video", waits for
// the receiver's offer (name shown) and accepts it, waits for "SHA-256
// verified" on the receiver and "Sent — SHA-256 verified by ..." on the
// sender, saves the receiver's "Save video" download through Playwright and
// checks that its SHA-256 (node:crypto) is `sha256`. Throws on any failure.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';

// Waits: setting up a connection, and a transfer of `bytes` (at 2 MB/s at
// worst: the loopback figure is about 35 MB/s).
export const CONNECT_MS = 30_000;
export const transferMs = (bytes) => 60_000 + Math.ceil(bytes / 2_000);

export const panel = (page) =>
  page.getByRole('region', { name: 'Video transfer' });

// SHA-256 (hex) of a file, streamed.
export async function sha256File(path) {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(chunk);
  }
  return h.digest('hex');
}

// The panel's failure, if it shows one (role="alert"), else null.
async function alertText(page) {
  const alert = panel(page).getByRole('alert');
  return (await alert.count()) > 0 ? (await alert.first().innerText()).trim() :
    null;
}

// Choose `filePath` and press "Send video" on `sender` until `receiver`
// shows the offer. The partner may not have joined the private room yet
// (the app joins on page entry): "not on this page" is retried a few times.
export async function offerFile(sender, receiver, filePath) {
  const s = panel(sender);
  const r = panel(receiver);
  const name = basename(filePath);
  const accept = r.getByRole('button', { name: 'Accept', exact: true });
  for (let attempt = 1; ; attempt += 1) {
    await s.getByLabel('Video file').setInputFiles(filePath);
    const send = s.getByRole('button', { name: 'Send video', exact: true });
    await send.click({ timeout: CONNECT_MS });
    // The form hides while a transfer is under way.
    await send.waitFor({ state: 'hidden', timeout: CONNECT_MS });
    const deadline = Date.now() + CONNECT_MS;
    let failure = null;
    while (Date.now() < deadline) {
      if (await accept.isVisible()) {
        break;
      }
      failure = await alertText(sender);
      if (failure !== null) {
        break;
      }
      await sender.waitForTimeout(100);
    }
    if (failure === null && await accept.isVisible()) {
      break;
    }
    if (failure !== null && /not on this page/i.test(failure) && attempt < 10) {
      await sender.waitForTimeout(1000);
      continue;
    }
    throw new Error(`the receiver was never offered ${name}: ` +
      `${failure ?? 'no offer within ' + CONNECT_MS + ' ms'}`);
  }
  const offerText = await r.innerText();
  assert.ok(offerText.includes(name),
    `the offer does not name the file ${name}: ${offerText}`);
  assert.match(offerText, /\b(B|kB|MB|GB)\b/,
    `the offer does not show the size: ${offerText}`);
  return { accept };
}

// Wait until the receiver's progress bar shows at least `percent`; returns
// the value seen.
export async function waitForProgress(page, percent, timeout) {
  const bar = panel(page).getByRole('progressbar');
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await bar.count() > 0) {
      const v = Number(await bar.first().getAttribute('aria-valuenow'));
      if (v >= percent) {
        return v;
      }
    }
    if (Date.now() > deadline) {
      throw new Error(`the progress bar did not reach ${percent}% in ` +
        `${timeout} ms`);
    }
    await page.waitForTimeout(50);
  }
}

export async function sendFile({ sender, receiver, filePath, sha256, shot }) {
  const snap = async (page, name) => {
    if (shot) {
      await shot(page, name);
    }
  };
  const bytes = statSync(filePath).size;
  const name = basename(filePath);
  const s = panel(sender);
  const r = panel(receiver);
  const save = r.getByRole('link', { name: 'Save video', exact: true });
  // A file received earlier on this page keeps its link until the new one
  // replaces it: wait for a different link.
  const before = (await save.count()) > 0 ? await save.getAttribute('href') :
    null;

  const { accept } = await offerFile(sender, receiver, filePath);
  await snap(receiver, 'transfer-offer-received');
  const t0 = Date.now();
  await accept.click();

  // Progress on both sides (a fast transfer may be over before we look).
  const bar = r.getByRole('progressbar');
  try {
    await bar.waitFor({ timeout: 5000 });
    await snap(receiver, 'transfer-in-progress');
  } catch {
    // already done
  }

  const timeout = transferMs(bytes);
  const verified = r.getByText('SHA-256 verified', { exact: true });
  const deadline = Date.now() + timeout;
  for (;;) {
    const href = (await save.count()) > 0 ? await save.getAttribute('href') :
      null;
    if (href !== null && href !== before && await verified.isVisible()) {
      break;
    }
    const failure = (await alertText(receiver)) ?? (await alertText(sender));
    if (failure !== null) {
      throw new Error(`the transfer of ${name} failed: ${failure}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`the transfer of ${name} did not finish in ${timeout} ms`);
    }
    await receiver.waitForTimeout(100);
  }
  const ms = Date.now() - t0;
  await s.getByText(/^Sent — SHA-256 verified by .+/).waitFor({ timeout: 10_000 });
  await snap(receiver, 'transfer-verified-receiver');
  await snap(sender, 'transfer-verified-sender');

  const storage = await r.locator('[data-storage]').first()
    .getAttribute('data-storage').catch(() => null);

  const [download] = await Promise.all([
    receiver.waitForEvent('download', { timeout: 30_000 }),
    save.click(),
  ]);
  assert.equal(download.suggestedFilename(), name,
    'the download keeps the file name');
  const path = await download.path();
  assert.ok(path, `the download failed: ${await download.failure()}`);
  assert.equal(statSync(path).size, bytes, 'the saved file has every byte');
  assert.equal(await sha256File(path), sha256,
    'the saved file hashes to the SHA-256 of the file sent');
  await download.delete().catch(() => {});
  return { name, bytes, ms, mbps: bytes / 1e6 / (ms / 1000), storage };
}
