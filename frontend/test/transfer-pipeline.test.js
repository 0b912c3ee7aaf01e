// pipeline.js's worker store against a fake Worker: chunks go to the worker
// WRITE_BATCH at a time, transferred, and whatever is gathered goes before
// the digest and the close; an abort drops it.
import { afterEach, describe, expect, test } from 'vitest';

import { WRITE_BATCH, workerStore } from '../src/transfer/pipeline.js';

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
    }
  }

  terminate() {}
}

const chunk = (n, fill) => new Uint8Array(n).fill(fill);

afterEach(() => {
  delete globalThis.Worker;
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
