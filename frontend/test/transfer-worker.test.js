// transfer.worker.js run in node against a fake `self`: the sender's
// credit-driven reading and hashing, the receiver's hashing and writing
// through a (fake) OPFS synchronous access handle or memory, abort, and
// failures.
import crypto from 'node:crypto';

import { afterEach, describe, expect, test, vi } from 'vitest';

import { bytes, sameBytes, until } from './transfer-fakes.js';

const MiB = 1024 * 1024;
const sha = (d) => crypto.createHash('sha256').update(d).digest('hex');

// A fresh worker module on a fake `self`; returns {send, out, next(pred)}.
async function worker({ storage } = {}) {
  vi.resetModules();
  const out = [];
  const self = {
    onmessage: null,
    postMessage: (m) => out.push(m),
    navigator: storage ? { storage } : {},
  };
  globalThis.self = self;
  await import('../src/transfer/transfer.worker.js');
  const send = (m) => self.onmessage({ data: m });
  const next = async (pred) => {
    await until(() => out.some(pred));
    const i = out.findIndex(pred);
    return out.splice(i, 1)[0];
  };
  return { send, out, next };
}

afterEach(() => {
  delete globalThis.self;
});

// The worker's digest is data's SHA-256 and the file it closes holds data;
// returns that file.
async function expectStored(w, data) {
  w.send({ op: 'digest' });
  expect((await w.next((m) => m.reply === 'digest')).sha256).toBe(sha(data));
  w.send({ op: 'close' });
  const { file } = await w.next((m) => m.reply === 'close');
  expect(sameBytes(new Uint8Array(await file.arrayBuffer()), data)).toBe(true);
  return file;
}

// A fake OPFS with createSyncAccessHandle.
function syncStorage({ quota = 1e12, failAt = -1 } = {}) {
  const files = new Map();
  const sizes = [];
  const truncates = [];
  const dir = {
    async getFileHandle(name, { create } = {}) {
      if (!files.has(name)) {
        if (!create) {
          throw new Error('NotFoundError');
        }
        files.set(name, new Uint8Array(0));
      }
      return {
        async createSyncAccessHandle() {
          let data = new Uint8Array(0);
          let writes = 0;
          return {
            truncate(n) {
              const sized = new Uint8Array(n);
              sized.set(data.subarray(0, Math.min(n, data.byteLength)));
              data = sized;
              truncates.push(n);
            },
            write(u8, { at }) {
              writes += 1;
              sizes.push(u8.byteLength);
              if (writes === failAt) {
                throw new Error('QuotaExceededError');
              }
              if (at + u8.byteLength > data.byteLength) {
                const grown = new Uint8Array(at + u8.byteLength);
                grown.set(data);
                data = grown;
              }
              data.set(u8, at);
              return u8.byteLength;
            },
            flush() {},
            close() {
              files.set(name, data);
            },
          };
        },
        async getFile() {
          return new File([files.get(name)], name);
        },
      };
    },
    async removeEntry(name) {
      files.delete(name);
    },
  };
  return { storage: { getDirectory: async () => dir,
    estimate: async () => ({ quota, usage: 0 }) }, files, sizes, truncates };
}

describe('the worker, sending', () => {
  test('reads blocks only as credit allows, hashes them, ends with the SHA-256', async () => {
    const w = await worker();
    const data = bytes(5 * MiB + 3, 8);
    w.send({ op: 'read', file: new Blob([data]), blockSize: MiB, credit: 2 });
    await until(() => w.out.filter((m) => m.op === 'block').length === 2);
    await new Promise((r) => setTimeout(r, 30));
    expect(w.out.filter((m) => m.op === 'block').length).toBe(2);
    const parts = [];
    for (;;) {
      const m = await w.next((x) => x.op === 'block' || x.op === 'end');
      if (m.op === 'end') {
        expect(m.sha256).toBe(sha(data));
        break;
      }
      parts.push(new Uint8Array(m.data));
      w.send({ op: 'more' });
    }
    expect(parts.length).toBe(6);
    expect(sameBytes(new Uint8Array(await new Blob(parts).arrayBuffer()), data))
      .toBe(true);
  });

  test('a stream that is not a byte stream is read piece by piece', async () => {
    const w = await worker();
    const data = bytes(2 * MiB + 5, 3);
    // A default (not BYOB-capable) stream of odd-sized pieces.
    let off = 0;
    const file = { size: data.byteLength, stream: () => new ReadableStream({
      pull(c) {
        if (off >= data.byteLength) {
          c.close();
          return;
        }
        c.enqueue(data.slice(off, off + 100_000));
        off += 100_000;
      },
    }) };
    w.send({ op: 'read', file, blockSize: MiB, credit: 10 });
    const end = await w.next((m) => m.op === 'end');
    expect(end.sha256).toBe(sha(data));
    const blocks = w.out.filter((m) => m.op === 'block')
      .map((m) => new Uint8Array(m.data));
    expect(blocks.map((b) => b.byteLength)).toEqual([MiB, MiB, 5]);
    expect(sameBytes(new Uint8Array(await new Blob(blocks).arrayBuffer()),
      data)).toBe(true);
  });

  test('a file that shrinks while read is an error', async () => {
    const w = await worker();
    const file = { size: 3 * MiB, stream: () => new Blob([new Uint8Array(10)])
      .stream() };
    w.send({ op: 'read', file, blockSize: MiB, credit: 3 });
    const m = await w.next((x) => x.op === 'error');
    expect(m.message).toMatch(/changed/);
  });

  test('a file that shrinks is an error through a default reader too', async () => {
    const w = await worker();
    const file = { size: 3 * MiB, stream: () => new ReadableStream({
      start(c) {
        c.enqueue(new Uint8Array(10));
        c.close();
      },
    }) };
    w.send({ op: 'read', file, blockSize: MiB, credit: 3 });
    const m = await w.next((x) => x.op === 'error');
    expect(m.message).toMatch(/ended after 10 of/);
  });
});

describe('the worker, receiving', () => {
  test('into OPFS through a sync access handle: hashed and written in order', async () => {
    const fs = syncStorage();
    const w = await worker({ storage: fs.storage });
    const data = bytes(34 * MiB + 11, 2);
    w.send({ op: 'open', entry: 'spotlight-transfer-x', size: data.byteLength });
    expect((await w.next((m) => m.reply === 'open')).kind).toBe('opfs');
    for (let off = 0; off < data.byteLength; off += 256 * 1024) {
      w.send({ op: 'write', data: data.slice(off, off + 256 * 1024).buffer });
    }
    const file = await expectStored(w, data);
    expect(fs.files.has('spotlight-transfer-x')).toBe(true);
    // 16 MiB writes, the rest at close; the file sized ahead of them, once
    expect(fs.sizes).toEqual([16 * MiB, 16 * MiB, 2 * MiB + 11]);
    expect(fs.truncates).toEqual([0, data.byteLength]);
    expect(file.size).toBe(data.byteLength);
  });

  test('a batch of chunks in one message is written in order', async () => {
    const fs = syncStorage();
    const w = await worker({ storage: fs.storage });
    const data = bytes(5 * MiB + 7, 4);
    w.send({ op: 'open', entry: 'batched', size: data.byteLength });
    await w.next((m) => m.reply === 'open');
    const chunks = [];
    for (let off = 0; off < data.byteLength; off += 256 * 1024) {
      chunks.push(data.slice(off, off + 256 * 1024).buffer);
    }
    w.send({ op: 'write', data: chunks.slice(0, 4) });
    w.send({ op: 'write', data: chunks.slice(4, 19) });
    w.send({ op: 'write', data: chunks[19] });
    w.send({ op: 'write', data: chunks.slice(20) });
    await expectStored(w, data);
  });

  test('a big file is sized once to the announced size, not write by write, and cut to what came', async () => {
    const fs = syncStorage();
    const w = await worker({ storage: fs.storage });
    w.send({ op: 'open', entry: 'big', size: 100 * MiB });
    await w.next((m) => m.reply === 'open');
    const chunk = new Uint8Array(MiB);
    for (let i = 0; i < 40; i += 1) {
      w.send({ op: 'write', data: chunk.slice().buffer });
    }
    w.send({ op: 'digest' });
    await w.next((m) => m.reply === 'digest');
    expect(fs.truncates).toEqual([0, 100 * MiB]);
    expect(fs.sizes).toEqual([16 * MiB, 16 * MiB]);
    w.send({ op: 'close' });
    const { file } = await w.next((m) => m.reply === 'close');
    expect(file.size).toBe(40 * MiB);
    expect(fs.truncates).toEqual([0, 100 * MiB, 40 * MiB]);
  });

  test('without OPFS: in memory', async () => {
    const w = await worker();
    w.send({ op: 'open', entry: 'e', size: 10 });
    expect((await w.next((m) => m.reply === 'open')).kind).toBe('memory');
    const data = bytes(1000, 3);
    w.send({ op: 'write', data: data.slice(0, 600).buffer });
    w.send({ op: 'write', data: data.slice(600).buffer });
    await expectStored(w, data);
  });

  test('not enough quota: in memory, nothing created', async () => {
    const fs = syncStorage({ quota: 1000 });
    const w = await worker({ storage: fs.storage });
    w.send({ op: 'open', entry: 'e', size: 10 * MiB });
    expect((await w.next((m) => m.reply === 'open')).kind).toBe('memory');
    expect(fs.files.size).toBe(0);
  });

  test('abort removes the partial file', async () => {
    const fs = syncStorage();
    const w = await worker({ storage: fs.storage });
    w.send({ op: 'open', entry: 'p', size: MiB });
    await w.next((m) => m.reply === 'open');
    w.send({ op: 'write', data: new ArrayBuffer(1000) });
    w.send({ op: 'abort' });
    await w.next((m) => m.reply === 'abort');
    expect(fs.files.has('p')).toBe(false);
  });

  test('a failed disk write is reported once, refuses what follows, and abort still cleans up', async () => {
    const fs = syncStorage({ failAt: 2 });
    const w = await worker({ storage: fs.storage });
    w.send({ op: 'open', entry: 'f', size: 64 * MiB });
    await w.next((m) => m.reply === 'open');
    for (let i = 0; i < 40; i += 1) {
      w.send({ op: 'write', data: new ArrayBuffer(MiB) });
    }
    const e = await w.next((m) => m.op === 'error');
    expect(e.message).toMatch(/QuotaExceeded/);
    w.send({ op: 'digest' });
    await w.next((m) => m.op === 'error');
    expect(w.out.some((m) => m.reply === 'digest')).toBe(false);
    w.send({ op: 'abort' });
    await w.next((m) => m.reply === 'abort');
    expect(fs.files.has('f')).toBe(false);
  });

  test('an unknown request is an error', async () => {
    const w = await worker();
    w.send({ op: 'launch' });
    expect((await w.next((m) => m.op === 'error')).message).toMatch(/unknown/);
  });
});

// A data channel as the worker sees one once the page transferred it:
// sends are recorded (and counted in bufferedAmount until drain() takes
// them off); the test delivers messages with arrive().
function workerChannel() {
  const dc = {
    readyState: 'connecting',
    bufferedAmount: 0,
    bufferedAmountLowThreshold: 0,
    binaryType: 'blob',
    sent: [],
    maxBuffered: 0,
    closed: false,
    onopen: null,
    onclose: null,
    onmessage: null,
    onbufferedamountlow: null,
    send(d) {
      if (dc.readyState !== 'open') {
        throw new Error('InvalidStateError');
      }
      const copy = typeof d === 'string' ? d : d.slice();
      dc.sent.push(copy);
      dc.bufferedAmount += typeof d === 'string' ? d.length : d.byteLength;
      dc.maxBuffered = Math.max(dc.maxBuffered, dc.bufferedAmount);
    },
    close() {
      dc.closed = true;
      dc.readyState = 'closed';
      dc.onclose?.({});
    },
    open() {
      dc.readyState = 'open';
      dc.onopen?.({});
    },
    arrive(data) {
      dc.onmessage?.({ data });
    },
    // The queue goes out: the low event when it crosses the threshold.
    drain() {
      const was = dc.bufferedAmount;
      dc.bufferedAmount = 0;
      if (was > dc.bufferedAmountLowThreshold) {
        dc.onbufferedamountlow?.({});
      }
    },
  };
  return dc;
}

const chEvents = (w, ev) => w.out.filter((m) => m.op === 'ch' && m.ev === ev);

describe('the worker holding the channel', () => {
  test('control messages go to the page in order, after the counts of the chunks before them; the chunks go to the store', async () => {
    const fs = syncStorage();
    const w = await worker({ storage: fs.storage });
    const dc = workerChannel();
    w.send({ op: 'channel', dc });
    expect(dc.binaryType).toBe('arraybuffer');
    // (Chromium can deliver a message before the open event.)
    dc.arrive('{"t":"meta"}');
    expect(w.out.map((m) => m.ev)).toEqual(['open', 'text']);
    dc.open();
    expect(chEvents(w, 'open').length).toBe(1);
    const data = bytes(5 * MiB + 9, 6);
    w.send({ op: 'open', entry: 'ch', size: data.byteLength,
      chunkSize: 256 * 1024 });
    await w.next((m) => m.reply === 'open');
    for (let off = 0; off < data.byteLength; off += 256 * 1024) {
      dc.arrive(data.slice(off, off + 256 * 1024).buffer);
    }
    dc.arrive('{"t":"end"}');
    const after = w.out.filter((m) => m.op === 'ch').map((m) => m.ev);
    expect(after.slice(-4)).toEqual(['arrived', 'arrived', 'arrived', 'text']);
    const counts = chEvents(w, 'arrived');
    expect(counts.map((m) => m.bytes)).toEqual([2 * MiB, 2 * MiB, MiB + 9]);
    expect(counts[2]).toMatchObject({ count: 5, largest: 256 * 1024,
      smallest: 9 });
    w.send({ op: 'digest' });
    expect((await w.next((m) => m.reply === 'digest')).sha256).toBe(sha(data));
    // The store's close is not the channel's.
    w.send({ op: 'close' });
    const { file } = await w.next((m) => m.reply === 'close');
    expect(sameBytes(new Uint8Array(await file.arrayBuffer()), data)).toBe(true);
    expect(dc.closed).toBe(false);
    w.send({ op: 'chsend', data: '{"t":"verdict"}' });
    expect(dc.sent).toEqual(['{"t":"verdict"}']);
    w.send({ op: 'chclose' });
    expect(dc.closed).toBe(true);
    expect(chEvents(w, 'close').length).toBe(1);
  });

  test('chunks no store takes are counted, never written', async () => {
    const fs = syncStorage();
    const w = await worker({ storage: fs.storage });
    const dc = workerChannel();
    w.send({ op: 'channel', dc });
    dc.open();
    dc.arrive(new ArrayBuffer(100));
    dc.arrive('{"t":"x"}');
    expect(chEvents(w, 'arrived')[0]).toMatchObject({ bytes: 100, count: 1 });
    w.send({ op: 'open', entry: 'small', size: 1000, chunkSize: 400 });
    await w.next((m) => m.reply === 'open');
    dc.arrive(new ArrayBuffer(401)); // bigger than announced
    dc.arrive(new ArrayBuffer(400));
    dc.arrive(new ArrayBuffer(400));
    dc.arrive(new ArrayBuffer(300)); // past the size
    dc.arrive('{"t":"end"}');
    expect(chEvents(w, 'arrived')[1]).toMatchObject({ bytes: 1501, count: 4,
      largest: 401, smallest: 300 });
    w.send({ op: 'close' });
    const { file } = await w.next((m) => m.reply === 'close');
    expect(file.size).toBe(800);
  });

  test('a file sent from here: within the water marks, whole, hashed', async () => {
    const w = await worker();
    const dc = workerChannel();
    w.send({ op: 'channel', dc });
    dc.open();
    const data = bytes(9 * MiB + 5, 12);
    w.send({ op: 'sendfile', file: new Blob([data]), chunkSize: 256 * 1024,
      blockSize: MiB, low: MiB, high: 2 * MiB });
    let reply = null;
    while (reply === null) {
      await new Promise((r) => setTimeout(r, 1));
      dc.drain();
      reply = w.out.find((m) => m.reply === 'sendfile') ?? null;
    }
    expect(reply.error).toBeUndefined();
    expect(reply.sha256).toBe(sha(data));
    expect(reply.sent).toBe(data.byteLength);
    expect(dc.bufferedAmountLowThreshold).toBe(MiB);
    expect(dc.maxBuffered).toBeLessThanOrEqual(2 * MiB);
    expect(dc.sent.every((c) => c.byteLength <= 256 * 1024)).toBe(true);
    const got = new Uint8Array(await new Blob(dc.sent).arrayBuffer());
    expect(sameBytes(got, data)).toBe(true);
    const sent = chEvents(w, 'sent').map((m) => m.sent);
    expect(sent.length).toBe(10);
    expect(sent[sent.length - 1]).toBe(data.byteLength);
  });

  test('a control message while a file is being sent stops it first', async () => {
    const w = await worker();
    const dc = workerChannel();
    w.send({ op: 'channel', dc });
    dc.open();
    w.send({ op: 'sendfile', file: new Blob([bytes(8 * MiB, 1)]),
      chunkSize: 256 * 1024, blockSize: MiB, low: MiB, high: 2 * MiB });
    await until(() => dc.bufferedAmount >= 1.5 * MiB);
    w.send({ op: 'chsend', data: '{"t":"cancel"}' });
    const reply = await w.next((m) => m.reply === 'sendfile');
    expect(reply).toMatchObject({ stopped: true, closed: false });
    dc.drain();
    await new Promise((r) => setTimeout(r, 20));
    expect(dc.sent[dc.sent.length - 1]).toBe('{"t":"cancel"}');
  });

  test('the channel closing stops a file being sent', async () => {
    const w = await worker();
    const dc = workerChannel();
    w.send({ op: 'channel', dc });
    dc.open();
    w.send({ op: 'sendfile', file: new Blob([bytes(8 * MiB, 1)]),
      chunkSize: 256 * 1024, blockSize: MiB, low: MiB, high: 2 * MiB });
    await until(() => dc.bufferedAmount >= 1.5 * MiB);
    dc.close();
    const reply = await w.next((m) => m.reply === 'sendfile');
    expect(reply).toMatchObject({ stopped: false, closed: true });
  });

  test('a poll answers with the send queue', async () => {
    const w = await worker();
    const dc = workerChannel();
    w.send({ op: 'channel', dc });
    dc.open();
    dc.bufferedAmount = 1234;
    w.send({ op: 'chpoll' });
    expect(chEvents(w, 'buffered')[0].buffered).toBe(1234);
  });
});
