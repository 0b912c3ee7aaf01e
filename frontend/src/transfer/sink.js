// sink.js: where a received file goes. In Chromium, a file in the origin
// private file system (navigator.storage.getDirectory() + createWritable):
// chunks are written to disk as they arrive, so a 2 GB video needs no 2 GB
// of memory, and the finished file is a disk-backed File. Elsewhere (no
// OPFS, no createWritable, not enough quota) the chunks go into a Blob,
// folded every 32 MiB so the browser's blob store holds them. Either way the result is offered as
// a blob: URL for an <a download>, and cleaned up afterwards.
//
// A sink: {kind: 'opfs'|'memory', write(Uint8Array), close() -> File,
// abort(), written}. write() never blocks the caller; writes are queued in
// order and the first failure is reported by close() (and by `error`).

// OPFS entries are named with this prefix plus the transfer id.
export const OPFS_PREFIX = 'spotlight-transfer-';
// Chunks are gathered into blocks this large before one disk write: one
// createWritable write per 256 KiB chunk costs more IPC than it needs.
export const WRITE_BLOCK = 4 * 1024 * 1024;
// Leftovers older than this (a tab closed mid-transfer) are removed.
export const STALE_MS = 24 * 60 * 60 * 1000;
// Quota kept free beyond the file itself.
const QUOTA_MARGIN = 64 * 1024 * 1024;

// The sink for one incoming file {id, name, size, type}: OPFS when it is
// there and has room, else memory. `env` overrides the globals (tests).
export async function createSink(file, env = {}) {
  const storage = env.storage ?? globalThis.navigator?.storage;
  const opfs = await tryOpfs(file, storage);
  return opfs ?? createMemorySink(file, env);
}

async function tryOpfs(file, storage) {
  if (typeof storage?.getDirectory !== 'function') {
    return null;
  }
  try {
    if (typeof storage.estimate === 'function') {
      const { quota, usage } = await storage.estimate();
      if (Number.isFinite(quota) && quota - (usage ?? 0) <
        file.size + QUOTA_MARGIN) {
        return null;
      }
    }
    const dir = await storage.getDirectory();
    const entry = `${OPFS_PREFIX}${file.id}`;
    const handle = await dir.getFileHandle(entry, { create: true });
    if (typeof handle.createWritable !== 'function') {
      await dir.removeEntry(entry).catch(() => {});
      return null;
    }
    const writable = await handle.createWritable({ keepExistingData: false });
    return createOpfsSink(file, dir, entry, handle, writable);
  } catch {
    return null;
  }
}

// Batches chunks into WRITE_BLOCK buffers and hands each to `flushBlock`
// (which returns a promise), strictly one after another.
function createBatcher(flushBlock, blockSize) {
  let buf = null;
  let used = 0;
  let chain = Promise.resolve();
  let error = null;
  let pendingBytes = 0;
  const emit = (block) => {
    pendingBytes += block.byteLength;
    chain = chain.then(() => (error ? undefined : flushBlock(block)))
      .catch((e) => {
        error ??= e;
      })
      .finally(() => {
        pendingBytes -= block.byteLength;
      });
  };
  return {
    push(chunk) {
      let off = 0;
      while (off < chunk.byteLength) {
        if (buf === null) {
          buf = new Uint8Array(blockSize);
          used = 0;
        }
        const n = Math.min(blockSize - used, chunk.byteLength - off);
        buf.set(chunk.subarray(off, off + n), used);
        used += n;
        off += n;
        if (used === blockSize) {
          emit(buf);
          buf = null;
        }
      }
    },
    async drain() {
      if (buf !== null && used > 0) {
        emit(buf.subarray(0, used));
      }
      buf = null;
      await chain;
      if (error) {
        throw error;
      }
    },
    get error() {
      return error;
    },
    get pendingBytes() {
      return pendingBytes;
    },
  };
}

function createOpfsSink(file, dir, entry, handle, writable) {
  let written = 0;
  let state = 'open';
  const batcher = createBatcher((block) => writable.write(block), WRITE_BLOCK);
  const remove = () => dir.removeEntry(entry).catch(() => {});
  return {
    kind: 'opfs',
    get written() {
      return written;
    },
    get error() {
      return batcher.error;
    },
    write(chunk) {
      if (state !== 'open') {
        throw new Error('the sink is closed');
      }
      batcher.push(chunk);
      written += chunk.byteLength;
    },
    async close() {
      if (state !== 'open') {
        throw new Error('the sink is closed');
      }
      state = 'closing';
      try {
        await batcher.drain();
        await writable.close();
        const f = await handle.getFile();
        state = 'closed';
        // A File named like the original (the OPFS one is named after the
        // transfer id), still backed by the file on disk.
        return new File([f], file.name, { type: file.type || f.type });
      } catch (e) {
        state = 'failed';
        await writable.abort?.().catch(() => {});
        await remove();
        throw e;
      }
    },
    async abort() {
      const was = state;
      state = 'aborted';
      if (was === 'open' || was === 'closing') {
        await writable.abort?.().catch(() => {});
      }
      await remove();
    },
    // Removes the file from disk once it is no longer offered.
    discard: remove,
  };
}

// Without OPFS the chunks are folded into a Blob every FOLD_BYTES: the
// browser's blob store then holds them (Chromium pages a large one to
// disk), not this page's heap.
export const FOLD_BYTES = 32 * 1024 * 1024;

function createMemorySink(file) {
  let parts = [];
  let pending = 0;
  let blob = new Blob([]);
  let written = 0;
  let state = 'open';
  const fold = () => {
    blob = new Blob([blob, ...parts]);
    parts = [];
    pending = 0;
  };
  return {
    kind: 'memory',
    get written() {
      return written;
    },
    error: null,
    write(chunk) {
      if (state !== 'open') {
        throw new Error('the sink is closed');
      }
      parts.push(chunk);
      written += chunk.byteLength;
      pending += chunk.byteLength;
      if (pending >= FOLD_BYTES) {
        fold();
      }
    },
    async close() {
      if (state !== 'open') {
        throw new Error('the sink is closed');
      }
      state = 'closed';
      fold();
      const out = new File([blob], file.name, { type: file.type });
      blob = null;
      return out;
    },
    async abort() {
      state = 'aborted';
      parts = [];
      blob = null;
    },
    async discard() {},
  };
}

// Remove our OPFS leftovers older than STALE_MS (a tab closed during a
// transfer leaves its file behind). Best effort; never throws.
export async function sweepStale(env = {}) {
  const storage = env.storage ?? globalThis.navigator?.storage;
  const now = env.now ?? Date.now();
  if (typeof storage?.getDirectory !== 'function') {
    return 0;
  }
  let removed = 0;
  try {
    const dir = await storage.getDirectory();
    if (typeof dir.entries !== 'function') {
      return 0;
    }
    for await (const [name, handle] of dir.entries()) {
      if (!name.startsWith(OPFS_PREFIX) || handle.kind !== 'file') {
        continue;
      }
      try {
        const f = await handle.getFile();
        if (now - f.lastModified > STALE_MS) {
          await dir.removeEntry(name);
          removed += 1;
        }
      } catch {
        // in use by another tab, or gone already
      }
    }
  } catch {
    // no OPFS here
  }
  return removed;
}
