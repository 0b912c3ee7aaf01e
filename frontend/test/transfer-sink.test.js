// Where received files go: the origin private file system (faked here with
// the same API shape) or memory.
import { describe, expect, test } from 'vitest';

import { createSink, FOLD_BYTES, OPFS_PREFIX, STALE_MS, sweepStale,
  WRITE_BLOCK } from '../src/transfer/sink.js';
import { bytes, sameBytes } from './transfer-fakes.js';

const MiB = 1024 * 1024;

// A fake navigator.storage with getDirectory() and createWritable().
function fakeStorage({ quota = 10 * 1024 * MiB, usage = 0, writable = true,
  failWriteAt = 0 } = {}) {
  const files = new Map(); // name -> {data: Uint8Array[], lastModified}
  const calls = { writes: [], removed: [], aborted: 0 };
  const dir = {
    async getFileHandle(name, { create } = {}) {
      if (!files.has(name)) {
        if (!create) {
          throw new Error('NotFoundError');
        }
        files.set(name, { parts: [], lastModified: Date.now() });
      }
      const handle = {
        kind: 'file',
        async getFile() {
          const f = files.get(name);
          if (!f) {
            throw new Error('NotFoundError');
          }
          return new File(f.parts, name, { lastModified: f.lastModified });
        },
      };
      if (writable) {
        handle.createWritable = async () => {
          const staged = [];
          return {
            async write(data) {
              calls.writes.push(data.byteLength);
              if (failWriteAt && calls.writes.length === failWriteAt) {
                throw new Error('QuotaExceededError');
              }
              staged.push(data.slice());
            },
            async close() {
              files.get(name).parts = staged;
            },
            async abort() {
              calls.aborted += 1;
            },
          };
        };
      }
      return handle;
    },
    async removeEntry(name) {
      calls.removed.push(name);
      files.delete(name);
    },
    async* entries() {
      for (const name of [...files.keys()]) {
        yield [name, await this.getFileHandle(name)];
      }
    },
  };
  return {
    storage: {
      getDirectory: async () => dir,
      estimate: async () => ({ quota, usage }),
    },
    files,
    calls,
  };
}

const info = (size) => ({ id: 'abc', name: 'heat 3.mp4', size,
  type: 'video/mp4' });

// Write `data` in 256 KiB chunks.
function feed(sink, data, chunk = 256 * 1024) {
  for (let off = 0; off < data.byteLength; off += chunk) {
    sink.write(data.subarray(off, off + chunk));
  }
}

describe('the OPFS sink', () => {
  test('streams to disk in 4 MiB writes and returns a named File', async () => {
    const fs = fakeStorage();
    const data = bytes(10 * MiB + 7, 9);
    const sink = await createSink(info(data.byteLength), { storage: fs.storage });
    expect(sink.kind).toBe('opfs');
    feed(sink, data);
    expect(sink.written).toBe(data.byteLength);
    const file = await sink.close();
    expect(fs.calls.writes).toEqual([WRITE_BLOCK, WRITE_BLOCK,
      data.byteLength - 2 * WRITE_BLOCK]);
    expect(file.name).toBe('heat 3.mp4');
    expect(file.type).toBe('video/mp4');
    expect(sameBytes(new Uint8Array(await file.arrayBuffer()), data)).toBe(true);
    expect(fs.files.has(`${OPFS_PREFIX}abc`)).toBe(true);
    await sink.discard();
    expect(fs.files.has(`${OPFS_PREFIX}abc`)).toBe(false);
  });

  test('abort drops the partial file', async () => {
    const fs = fakeStorage();
    const sink = await createSink(info(MiB), { storage: fs.storage });
    feed(sink, bytes(MiB / 2));
    await sink.abort();
    expect(fs.calls.aborted).toBe(1);
    expect(fs.files.size).toBe(0);
    expect(() => sink.write(new Uint8Array(1))).toThrow(/closed/);
  });

  test('a failed disk write surfaces as sink.error and on close', async () => {
    const fs = fakeStorage({ failWriteAt: 2 });
    const sink = await createSink(info(12 * MiB), { storage: fs.storage });
    feed(sink, bytes(12 * MiB));
    await expect(sink.close()).rejects.toThrow(/QuotaExceeded/);
    expect(sink.error).toBeTruthy();
    expect(fs.files.size).toBe(0);
  });

  test('too little quota: memory instead', async () => {
    const fs = fakeStorage({ quota: 100 * MiB, usage: 90 * MiB });
    const sink = await createSink(info(50 * MiB), { storage: fs.storage });
    expect(sink.kind).toBe('memory');
    expect(fs.files.size).toBe(0);
  });

  test('no createWritable (older Safari): memory, nothing left behind', async () => {
    const fs = fakeStorage({ writable: false });
    const sink = await createSink(info(MiB), { storage: fs.storage });
    expect(sink.kind).toBe('memory');
    expect(fs.files.size).toBe(0);
  });

  test('leftovers older than a day are swept, others kept', async () => {
    const fs = fakeStorage();
    fs.files.set(`${OPFS_PREFIX}old`, { parts: [], lastModified: 1000 });
    fs.files.set(`${OPFS_PREFIX}new`, { parts: [], lastModified: 1000 + STALE_MS });
    fs.files.set('someone-else', { parts: [], lastModified: 0 });
    const n = await sweepStale({ storage: fs.storage, now: 2000 + STALE_MS });
    expect(n).toBe(1);
    expect([...fs.files.keys()].sort()).toEqual(['someone-else',
      `${OPFS_PREFIX}new`]);
  });
});

describe('the memory sink', () => {
  test('keeps the chunks and joins them into a File', async () => {
    const sink = await createSink(info(3 * MiB), { storage: {} });
    expect(sink.kind).toBe('memory');
    const data = bytes(3 * MiB, 4);
    feed(sink, data);
    const file = await sink.close();
    expect(file.name).toBe('heat 3.mp4');
    expect(sameBytes(new Uint8Array(await file.arrayBuffer()), data)).toBe(true);
    await expect(sink.close()).rejects.toThrow(/closed/);
  });

  test('folds the chunks into a Blob as it goes, bytes intact', async () => {
    const data = bytes(FOLD_BYTES + 5 * MiB + 3, 6);
    const sink = await createSink(info(data.byteLength), { storage: {} });
    feed(sink, data);
    const file = await sink.close();
    expect(file.size).toBe(data.byteLength);
    expect(sameBytes(new Uint8Array(await file.arrayBuffer()), data)).toBe(true);
  });

  test('no navigator.storage at all is fine', async () => {
    const sink = await createSink(info(1), { storage: undefined });
    expect(['memory', 'opfs']).toContain(sink.kind);
  });
});
