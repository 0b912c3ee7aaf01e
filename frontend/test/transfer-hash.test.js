import crypto from 'node:crypto';

import { describe, expect, test } from 'vitest';

import { createHasher } from '../src/transfer/hash.js';
import { bytes } from './transfer-fakes.js';

const oneShot = (data) => crypto.createHash('sha256').update(data).digest('hex');

describe('incremental SHA-256 (hash-wasm)', () => {
  test('the empty input and "abc" give the published digests', async () => {
    let h = await createHasher();
    expect(h.digest()).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    h = await createHasher();
    h.update(new TextEncoder().encode('abc'));
    expect(h.digest()).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  test('pieces of any size hash like the whole, as node:crypto does', async () => {
    const data = bytes(3 * 1024 * 1024 + 17, 42);
    const h = await createHasher();
    let off = 0;
    let seed = 99;
    while (off < data.byteLength) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const n = Math.min(data.byteLength - off, 1 + (seed % 300000));
      h.update(data.subarray(off, off + n));
      off += n;
    }
    expect(h.bytes).toBe(data.byteLength);
    expect(h.digest()).toBe(oneShot(data));
  });

  test('ArrayBuffers and views of a larger buffer hash their own bytes', async () => {
    const data = bytes(100000, 5);
    const h = await createHasher();
    h.update(data.buffer.slice(0, 50000));
    h.update(data.subarray(50000));
    expect(h.digest()).toBe(oneShot(data));
  });

  test('two hashers at once do not mix', async () => {
    const x = bytes(70000, 1);
    const y = bytes(70000, 2);
    const [hx, hy] = await Promise.all([createHasher(), createHasher()]);
    for (let i = 0; i < 70000; i += 7000) {
      hx.update(x.subarray(i, i + 7000));
      hy.update(y.subarray(i, i + 7000));
    }
    expect(hx.digest()).toBe(oneShot(x));
    expect(hy.digest()).toBe(oneShot(y));
  });

  test('a finished hash refuses more input', async () => {
    const h = await createHasher();
    h.digest();
    expect(() => h.update(new Uint8Array(1))).toThrow(/finished/);
    expect(() => h.digest()).toThrow(/finished/);
  });
});
