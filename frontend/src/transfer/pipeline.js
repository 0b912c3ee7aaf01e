// pipeline.js: the work around the channel, off the main thread where the
// browser allows. A sender's *source* reads the file, hashes it and hands
// out chunks; a receiver's *store* hashes the chunks and writes them down.
// In a browser with module workers both run in transfer.worker.js (reads,
// SHA-256 and OPFS writes through a synchronous access handle happen there,
// in parallel with the channel; blocks move between the threads without a
// copy); elsewhere, and whenever the worker cannot start, on the main thread
// (chunking.js + hash.js + sink.js). Tests use the main-thread ones.
//
//   source: {chunks: async iterable of Uint8Array, digest(): Promise<hex>,
//            close()}
//   store:  {kind: 'opfs'|'memory', error, write(Uint8Array),
//            digest(): Promise<hex> (of everything written),
//            close(): Promise<File>, abort(): Promise, discard(): Promise}

import { readChunks, splitBlock } from './chunking.js';
import { createHasher } from './hash.js';
import { createSink, OPFS_PREFIX } from './sink.js';

// Blocks the sender's worker may have read ahead of the channel.
const READ_AHEAD = 3;
const BLOCK_CHUNKS = 4;
// The receiver hands chunks to its worker this many at a time (1 MiB): a
// message per 256 KiB chunk wakes the worker four times as often (measured
// here: about the same CPU, but on a busy machine the page's thread spent
// three times as long in postMessage, the wakeups pre-empting it).
export const WRITE_BATCH = 4;

/* ---- main thread -------------------------------------------------------- */

export async function mainThreadSource(file, chunkSize,
  { hasher = createHasher } = {}) {
  const h = await hasher();
  let closed = false;
  return {
    chunks: readChunks(file, chunkSize, { chunksPerBlock: BLOCK_CHUNKS,
      onBlock: (b) => {
        if (!closed) {
          h.update(b);
        }
      } }),
    digest: async () => h.digest(),
    close() {
      closed = true;
    },
  };
}

export async function mainThreadStore(info, { sink = createSink,
  hasher = createHasher } = {}) {
  const h = await hasher();
  const s = await sink(info);
  return {
    kind: s.kind,
    get error() {
      return s.error;
    },
    write(chunk) {
      h.update(chunk);
      s.write(chunk);
    },
    digest: async () => h.digest(),
    close: () => s.close(),
    abort: () => s.abort(),
    discard: async () => s.discard?.(),
  };
}

/* ---- worker ------------------------------------------------------------- */

// A worker and a promise-per-reply helper; null when none can start.
function startWorker() {
  if (typeof Worker === 'undefined') {
    return null;
  }
  let worker;
  try {
    worker = new Worker(new URL('./transfer.worker.js', import.meta.url),
      { type: 'module' });
  } catch {
    return null;
  }
  const waiting = new Map(); // op -> [{resolve, reject}]
  let onOther = () => {};
  let failure = null;
  const fail = (err) => {
    failure ??= err;
    for (const list of waiting.values()) {
      for (const w of list) {
        w.reject(failure);
      }
    }
    waiting.clear();
    onOther({ op: 'error', message: failure.message });
  };
  worker.onmessage = (e) => {
    const m = e.data;
    if (m?.op === 'error') {
      fail(new Error(m.message));
      return;
    }
    const list = waiting.get(m?.reply);
    if (list && list.length > 0) {
      list.shift().resolve(m);
    } else {
      onOther(m);
    }
  };
  worker.onerror = (e) => {
    e.preventDefault?.();
    fail(new Error(e.message || 'the transfer worker failed'));
  };
  return {
    post: (msg, transfer) => worker.postMessage(msg, transfer ?? []),
    // Send `msg` and wait for the reply to it ({reply: msg.op}); after a
    // failure only with force (abort still cleans up).
    ask(msg, transfer, { force = false } = {}) {
      if (failure && !force) {
        return Promise.reject(failure);
      }
      return new Promise((resolve, reject) => {
        if (!waiting.has(msg.op)) {
          waiting.set(msg.op, []);
        }
        waiting.get(msg.op).push({ resolve, reject });
        worker.postMessage(msg, transfer ?? []);
      });
    },
    set onOther(fn) {
      onOther = fn;
    },
    get failure() {
      return failure;
    },
    terminate: () => worker.terminate(),
  };
}

// The sender's source in a worker: it reads blocks of whole chunks, hashes
// them and transfers them here, at most READ_AHEAD ahead.
export async function workerSource(file, chunkSize) {
  const w = startWorker();
  if (w === null) {
    return null;
  }
  try {
    await w.ask({ op: 'ping' });
  } catch {
    w.terminate();
    return null;
  }
  const queue = [];
  let wake = null;
  let sha = null;
  w.onOther = (m) => {
    queue.push(m);
    wake?.();
  };
  const next = async () => {
    while (queue.length === 0) {
      await new Promise((r) => {
        wake = r;
      });
      wake = null;
    }
    return queue.shift();
  };
  let closed = false;
  async function* chunks() {
    w.post({ op: 'read', file, blockSize: chunkSize * BLOCK_CHUNKS,
      credit: READ_AHEAD });
    for (;;) {
      const m = await next();
      if (m.op === 'block') {
        w.post({ op: 'more' });
        yield* splitBlock(new Uint8Array(m.data), chunkSize);
      } else if (m.op === 'end') {
        sha = m.sha256;
        return;
      } else if (m.op === 'error') {
        throw new Error(m.message);
      }
    }
  }
  return {
    kind: 'worker',
    chunks: chunks(),
    async digest() {
      if (sha === null) {
        throw new Error('the file was not read to its end');
      }
      return sha;
    },
    close() {
      if (!closed) {
        closed = true;
        w.terminate();
      }
    },
  };
}

// The receiver's store in a worker: chunks are transferred there (no copy),
// WRITE_BATCH at a time (the rest before digest and close), hashed and
// written to OPFS through a synchronous access handle, or kept there in
// memory.
export async function workerStore(info) {
  const w = startWorker();
  if (w === null) {
    return null;
  }
  const entry = `${OPFS_PREFIX}${info.id}`;
  let opened;
  try {
    opened = await w.ask({ op: 'open', entry, size: info.size });
  } catch {
    w.terminate();
    return null;
  }
  let error = null;
  let state = 'open';
  let batch = [];
  // Hand the chunks gathered so far to the worker (transferred).
  const flush = () => {
    if (batch.length > 0) {
      const list = batch;
      batch = [];
      w.post({ op: 'write', data: list }, list);
    }
  };
  w.onOther = (m) => {
    if (m?.op === 'error') {
      error ??= new Error(m.message);
    }
  };
  const removeEntry = async () => {
    try {
      const dir = await navigator.storage.getDirectory();
      await dir.removeEntry(entry);
    } catch {
      // gone already
    }
  };
  return {
    kind: opened.kind,
    get error() {
      return error ?? w.failure;
    },
    write(chunk) {
      if (state !== 'open') {
        throw new Error('the store is closed');
      }
      // The channel gave us a fresh ArrayBuffer: hand it over whole.
      const whole = chunk.byteOffset === 0 &&
        chunk.byteLength === chunk.buffer.byteLength;
      batch.push(whole ? chunk.buffer : chunk.slice().buffer);
      if (batch.length >= WRITE_BATCH) {
        flush();
      }
    },
    async digest() {
      flush();
      const m = await w.ask({ op: 'digest' });
      return m.sha256;
    },
    async close() {
      flush();
      state = 'closing';
      try {
        const m = await w.ask({ op: 'close' });
        state = 'closed';
        return new File([m.file], info.name, { type: info.type || m.file.type });
      } finally {
        w.terminate();
      }
    },
    async abort() {
      if (state === 'aborted') {
        return;
      }
      state = 'aborted';
      batch = [];
      try {
        await Promise.race([w.ask({ op: 'abort' }, [], { force: true }),
          new Promise((r) => setTimeout(r, 3000))]);
      } catch {
        // the worker is gone; the entry is removed below either way
      } finally {
        w.terminate();
      }
      if (opened.kind === 'opfs') {
        await removeEntry();
      }
    },
    discard: () => (opened.kind === 'opfs' ? removeEntry() : Promise.resolve()),
  };
}

// The factories the controller uses: the worker where it works, else the
// main thread.
export async function createSource(file, chunkSize) {
  return (await workerSource(file, chunkSize)) ??
    mainThreadSource(file, chunkSize);
}

export async function createStore(info) {
  return (await workerStore(info)) ?? mainThreadStore(info);
}
