// pipeline.js's worker store against a fake Worker: chunks go to the worker
// WRITE_BATCH at a time, transferred, and whatever is gathered goes before
// the digest and the close; an abort drops it.
import { afterEach, describe, expect, test, vi } from 'vitest';

import { AbortedError, ChannelClosedError } from '../src/transfer/backpressure.js';
import { prepareChannelWorker, WRITE_BATCH,
  workerStore } from '../src/transfer/pipeline.js';

// A Worker that answers the store's requests and records what it got.
class FakeWorker {
  static last = null;

  constructor() {
    this.got = [];
    this.onmessage = null;
    FakeWorker.last = this;
  }

  postMessage(msg, transfer = []) {
    this.got.push({ msg, transfer });
    const reply = (m) => queueMicrotask(() => this.onmessage?.({ data: m }));
    if (msg.op === 'open') {
      reply({ reply: 'open', kind: 'opfs' });
    } else if (msg.op === 'digest') {
      reply({ reply: 'digest', sha256: 'f'.repeat(64) });
    } else if (msg.op === 'close') {
      reply({ reply: 'close', file: new Blob(['x']) });
    } else if (msg.op === 'abort') {
      reply({ reply: 'abort' });
    } else if (msg.op === 'ping') {
      reply({ reply: 'ping' });
    }
  }

  terminate() {
    this.terminated = true;
  }

  // What the worker tells the page.
  tell(m) {
    this.onmessage?.({ data: m });
  }
}

const chunk = (n, fill) => new Uint8Array(n).fill(fill);

afterEach(() => {
  delete globalThis.Worker;
  delete globalThis.RTCDataChannel;
  vi.useRealTimers();
});

describe('the worker store', () => {
  test('hands chunks over in batches, the rest before the digest', async () => {
    globalThis.Worker = FakeWorker;
    const store = await workerStore({ id: 'T1', name: 'a.mp4', size: 10,
      type: 'video/mp4' });
    const w = FakeWorker.last;
    const n = WRITE_BATCH + 2;
    const sent = [];
    for (let i = 0; i < n; i += 1) {
      const c = chunk(100 + i, i);
      sent.push(c.buffer);
      store.write(c);
    }
    const writes = () => w.got.filter((g) => g.msg.op === 'write');
    expect(writes().length).toBe(1);
    expect(writes()[0].msg.data).toEqual(sent.slice(0, WRITE_BATCH));
    expect(writes()[0].transfer).toEqual(sent.slice(0, WRITE_BATCH));
    expect(await store.digest()).toBe('f'.repeat(64));
    expect(writes().length).toBe(2);
    expect(writes()[1].msg.data).toEqual(sent.slice(WRITE_BATCH));
    // the rest went before the digest was asked for
    const ops = w.got.map((g) => g.msg.op);
    expect(ops.lastIndexOf('write')).toBeLessThan(ops.indexOf('digest'));
    const file = await store.close();
    expect(file.name).toBe('a.mp4');
  });

  test('a view on part of a buffer is copied, not the whole buffer sent', async () => {
    globalThis.Worker = FakeWorker;
    const store = await workerStore({ id: 'T2', name: 'b', size: 4, type: '' });
    const big = new Uint8Array([1, 2, 3, 4, 5, 6]);
    store.write(big.subarray(1, 5));
    await store.digest();
    const [write] = FakeWorker.last.got.filter((g) => g.msg.op === 'write');
    expect(new Uint8Array(write.msg.data[0])).toEqual(new Uint8Array([2, 3, 4, 5]));
    expect(big.byteLength).toBe(6);
  });

  test('an abort drops the chunks not handed over yet', async () => {
    globalThis.Worker = FakeWorker;
    const store = await workerStore({ id: 'T3', name: 'c', size: 10, type: '' });
    store.write(chunk(10, 1));
    await store.abort();
    const ops = FakeWorker.last.got.map((g) => g.msg.op);
    expect(ops).not.toContain('write');
    expect(ops).toContain('abort');
  });
});

describe('the channel in a worker: the page\'s proxy', () => {
  // A proxy over a FakeWorker; `dc` is what was handed over.
  async function proxied() {
    globalThis.Worker = FakeWorker;
    globalThis.RTCDataChannel = class {};
    const prep = await prepareChannelWorker();
    const dc = { label: 'spotlight-transfer' };
    const p = prep.adopt(dc);
    const w = FakeWorker.last;
    return { p, w, dc };
  }
  const ch = (ev, fields = {}) => ({ op: 'ch', ev, buffered: 0, ...fields });

  test('no RTCDataChannel here: no worker for it', async () => {
    globalThis.Worker = FakeWorker;
    expect(await prepareChannelWorker()).toBeNull();
  });

  test('the channel is transferred, once; an unused worker is ended', async () => {
    globalThis.Worker = FakeWorker;
    globalThis.RTCDataChannel = class {};
    const prep = await prepareChannelWorker();
    const dc = { label: 'x' };
    expect(prep.adopt(dc)).not.toBeNull();
    const got = FakeWorker.last.got.find((g) => g.msg.op === 'channel');
    expect(got.transfer).toEqual([dc]);
    expect(prep.adopt({ label: 'y' })).toBeNull();
    prep.dispose();
    expect(FakeWorker.last.terminated).toBeUndefined();
    const unused = await prepareChannelWorker();
    unused.dispose();
    expect(FakeWorker.last.terminated).toBe(true);
  });

  test('open, control messages, counts and close reach the page', async () => {
    const { p, w } = await proxied();
    const seen = [];
    p.onopen = () => seen.push('open');
    p.onmessage = (e) => seen.push(`text ${e.data}`);
    p.onarrived = (n, c) => seen.push(`arrived ${n} ${c.count} ${c.largest}`);
    p.onclose = () => seen.push('close');
    p.addEventListener('close', () => seen.push('close listener'));
    expect(p.readyState).toBe('connecting');
    expect(() => p.send('x')).toThrow(/not open/);
    w.tell(ch('open'));
    expect(p.readyState).toBe('open');
    w.tell(ch('text', { data: '{"t":"meta"}' }));
    w.tell(ch('arrived', { bytes: 600, count: 2, largest: 400, smallest: 200 }));
    w.tell(ch('close'));
    expect(p.readyState).toBe('closed');
    expect(seen).toEqual(['open', 'text {"t":"meta"}', 'arrived 600 2 400',
      'close listener', 'close']);
  });

  test('send takes text only and posts it; the queue size is polled', async () => {
    const { p, w } = await proxied();
    w.tell(ch('open'));
    // (a value told just now is not asked for again)
    expect(p.bufferedAmount).toBe(0);
    expect(w.got.some((g) => g.msg.op === 'chpoll')).toBe(false);
    await new Promise((r) => setTimeout(r, 60));
    p.send('{"t":"accept"}');
    expect(() => p.send(new ArrayBuffer(4))).toThrow(TypeError);
    const ops = () => w.got.map((g) => g.msg);
    expect(ops()).toContainEqual({ op: 'chsend', data: '{"t":"accept"}' });
    expect(p.bufferedAmount).toBe(14);
    expect(p.bufferedAmount).toBe(14);
    expect(ops().filter((m) => m.op === 'chpoll').length).toBe(1);
    let low = 0;
    p.bufferedAmountLowThreshold = 10;
    p.addEventListener('bufferedamountlow', () => {
      low += 1;
    });
    w.tell(ch('buffered', { buffered: 0 }));
    expect(p.bufferedAmount).toBe(0);
    expect(low).toBe(1);
  });

  test('reading the queue size on each report does not start a stream of polls', async () => {
    const { p, w } = await proxied();
    w.tell(ch('open'));
    const src = p.createSource(new Blob(['abc']), 1024);
    // As the sender session does: each report of how far reads the queue.
    src.send({ low: 4, high: 8, onSent: () => p.bufferedAmount });
    await Promise.resolve();
    for (let i = 1; i <= 20; i += 1) {
      w.tell(ch('buffered', { buffered: 5, sent: i * 100 }));
    }
    const polls = w.got.filter((g) => g.msg.op === 'chpoll').length;
    expect(polls).toBeLessThanOrEqual(1);
  });

  test('close asks the worker, which ends a moment later', async () => {
    vi.useFakeTimers();
    const { p, w } = await proxied();
    w.tell(ch('open'));
    p.close();
    expect(w.got.at(-1).msg).toEqual({ op: 'chclose' });
    expect(w.terminated).toBeUndefined();
    vi.advanceTimersByTime(2000);
    expect(w.terminated).toBe(true);
  });

  test('the source: the worker sends, the page sees how far and the SHA-256', async () => {
    const { p, w } = await proxied();
    w.tell(ch('open'));
    const src = p.createSource(new Blob(['abc']), 256 * 1024);
    const seen = [];
    const sending = src.send({ low: 4, high: 8, onSent: (n) => seen.push(n) });
    await Promise.resolve();
    const req = w.got.find((g) => g.msg.op === 'sendfile').msg;
    expect(req).toMatchObject({ chunkSize: 256 * 1024, low: 4, high: 8 });
    expect(req.blockSize % req.chunkSize).toBe(0);
    w.tell(ch('sent', { sent: 2 }));
    w.tell({ reply: 'sendfile', sha256: 'a'.repeat(64), sent: 3, buffered: 3 });
    expect(await sending).toBe(3);
    expect(seen).toEqual([2, 3]);
    expect(await src.digest()).toBe('a'.repeat(64));
  });

  test('the source: stopped, closed, failed', async () => {
    const { p, w } = await proxied();
    w.tell(ch('open'));
    const src = p.createSource(new Blob(['abc']), 1024);
    const abort = new AbortController();
    const a = src.send({ low: 4, high: 8, signal: abort.signal });
    abort.abort();
    expect(w.got.at(-1).msg).toEqual({ op: 'stop' });
    w.tell({ reply: 'sendfile', error: 'stop', stopped: true, closed: false });
    await expect(a).rejects.toBeInstanceOf(AbortedError);
    const b = src.send({ low: 4, high: 8 });
    await Promise.resolve();
    w.tell({ reply: 'sendfile', error: 'closed', stopped: false, closed: true });
    await expect(b).rejects.toBeInstanceOf(ChannelClosedError);
    const c = src.send({ low: 4, high: 8 });
    await Promise.resolve();
    w.tell({ reply: 'sendfile', error: 'the file changed' });
    await expect(c).rejects.toThrow(/file changed/);
    await expect(src.digest()).rejects.toThrow(/not read/);
  });

  test('the store: opened in the same worker with the chunk size; its writes come from the channel', async () => {
    const { p, w } = await proxied();
    const store = await p.createStore({ id: 'T9', size: 10, chunkSize: 4,
      name: 'a.mp4', type: 'video/mp4' });
    expect(w.got.find((g) => g.msg.op === 'open').msg).toMatchObject({
      size: 10, chunkSize: 4 });
    expect(store.kind).toBe('opfs');
    expect(() => store.write(new Uint8Array(1))).toThrow();
    expect(store.error).toBeNull();
    const f = await store.close();
    expect(f.name).toBe('a.mp4');
    // The worker is the channel's: the store does not end it.
    expect(w.terminated).toBeUndefined();
    w.tell({ op: 'error', message: 'disk full' });
    expect(store.error.message).toMatch(/disk full/);
  });
});
