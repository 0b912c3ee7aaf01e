import { describe, expect, test } from 'vitest';

import {
  blockRanges, chunkCount, chunkSizeFor, chunkSizeForConnection,
  FALLBACK_CHUNK_SIZE, readChunks, splitBlock,
} from '../src/transfer/chunking.js';
import { MAX_CHUNK_SIZE } from '../src/transfer/protocol.js';
import { bytes, sameBytes } from './transfer-fakes.js';

describe('chunk size from sctp.maxMessageSize', () => {
  test("Chromium's 262144 gives 256 KiB chunks", () => {
    expect(chunkSizeFor(262144)).toBe(262144);
  });
  test('a smaller limit is obeyed', () => {
    expect(chunkSizeFor(65536)).toBe(65536);
    expect(chunkSizeFor(16384)).toBe(16384);
    expect(chunkSizeFor(1000.7)).toBe(1000);
  });
  test('a larger limit is capped at 256 KiB', () => {
    expect(chunkSizeFor(1073741823)).toBe(MAX_CHUNK_SIZE);
    expect(chunkSizeFor(Infinity)).toBe(MAX_CHUNK_SIZE);
  });
  test('no or a nonsense limit falls back to 64 KiB', () => {
    for (const v of [undefined, null, NaN, 0, -5, 0.5, '262144', -Infinity]) {
      expect(chunkSizeFor(v)).toBe(FALLBACK_CHUNK_SIZE);
    }
    expect(FALLBACK_CHUNK_SIZE).toBe(65536);
  });
  test('read from a connection, with or without an SCTP transport', () => {
    expect(chunkSizeForConnection({ sctp: { maxMessageSize: 262144 } }))
      .toBe(262144);
    expect(chunkSizeForConnection({ sctp: null })).toBe(FALLBACK_CHUNK_SIZE);
    expect(chunkSizeForConnection(undefined)).toBe(FALLBACK_CHUNK_SIZE);
  });
});

describe('chunks and blocks', () => {
  test('chunkCount', () => {
    expect(chunkCount(0, 10)).toBe(0);
    expect(chunkCount(1, 10)).toBe(1);
    expect(chunkCount(10, 10)).toBe(1);
    expect(chunkCount(11, 10)).toBe(2);
    expect(chunkCount(200 * 1000 * 1000, 262144)).toBe(763);
  });

  test('blocks tile the file exactly, in whole chunks but the last', () => {
    for (const size of [0, 1, 99, 100, 101, 4000, 4001, 12345]) {
      const r = blockRanges(size, 100, 4);
      let pos = 0;
      for (const [a, b] of r) {
        expect(a).toBe(pos);
        expect(b - a).toBeGreaterThan(0);
        expect(b - a).toBeLessThanOrEqual(400);
        if (b !== size) {
          expect((b - a) % 100).toBe(0);
        }
        pos = b;
      }
      expect(pos).toBe(size);
    }
  });

  test('splitBlock makes views, not copies', () => {
    const block = bytes(250);
    const parts = splitBlock(block, 100);
    expect(parts.map((p) => p.byteLength)).toEqual([100, 100, 50]);
    expect(parts[1].buffer).toBe(block.buffer);
    expect(parts[2][0]).toBe(block[200]);
  });

  test('readChunks yields the file in order, blocks first to onBlock', async () => {
    const data = bytes(1_000_003, 7);
    const blob = new Blob([data]);
    const seen = [];
    const blocks = [];
    for await (const c of readChunks(blob, 65536, { chunksPerBlock: 3,
      onBlock: (b) => blocks.push(b.byteLength) })) {
      expect(c.byteLength).toBeLessThanOrEqual(65536);
      seen.push(new Uint8Array(c));
    }
    const joined = new Uint8Array(await new Blob(seen).arrayBuffer());
    expect(sameBytes(joined, data)).toBe(true);
    expect(seen.length).toBe(chunkCount(data.byteLength, 65536));
    expect(blocks.reduce((a, b) => a + b, 0)).toBe(data.byteLength);
    expect(blocks[0]).toBe(3 * 65536);
  });

  test('readChunks of an empty file yields nothing', async () => {
    const out = [];
    for await (const c of readChunks(new Blob([]), 1024)) {
      out.push(c);
    }
    expect(out).toEqual([]);
  });

  test('a file that shrinks while read is an error, not a short transfer', async () => {
    const file = {
      size: 1000,
      slice: (a, b) => ({ arrayBuffer: async () =>
        new ArrayBuffer(Math.max(0, Math.min(b, 600) - a)) }),
    };
    const read = async () => {
      for await (const c of readChunks(file, 100, { chunksPerBlock: 2 })) {
        void c;
      }
    };
    await expect(read()).rejects.toThrow(/changed while it was being read/);
  });
});
