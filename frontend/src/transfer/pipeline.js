// pipeline.js: the work around the channel, off the main thread where the
// browser allows. A sender's *source* reads the file, hashes it and hands
// out chunks; a receiver's *store* hashes the chunks and writes them down.
// In a browser with module workers both run in transfer.worker.js (reads,
// SHA-256 and OPFS writes through a synchronous access handle happen there,
// in parallel with the channel; blocks move between the threads without a
// copy); elsewhere, and whenever the worker cannot start, on the main thread
// (chunking.js + hash.js + sink.js). Tests use the main-thread ones.
//
// Where the browser can transfer an RTCDataChannel to a worker (Chromium
// can), the channel itself goes there (prepareChannelWorker, then adopt()
// on the channel as it is created or received): the chunks then never
// touch the page's thread; the page gets a ChannelProxy that carries the
// control messages, counts of what arrived and the send queue's size.
//
//   source: {chunks: async iterable of Uint8Array, digest(): Promise<hex>,
//            close()}, or, on a ChannelProxy, {chunks: null,
//            send({low, high, signal, onSent(total)}): Promise<bytes sent>,
//            digest(), close()}
//   store:  {kind: 'opfs'|'memory', error, write(Uint8Array),
//            digest(): Promise<hex> (of everything written),
//            close(): Promise<File>, abort(): Promise, discard(): Promise}

import { AbortedError, ChannelClosedError } from './backpressure.js';
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
  let onCrash = () => {};
  worker.onerror = (e) => {
    e.preventDefault?.();
    fail(new Error(e.message || 'the transfer worker failed'));
    onCrash();
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
    set onCrash(fn) {
      onCrash = fn;
    },
    get failure() {
      return failure;
    },
    terminate: () => worker.terminate(),
  };
}

// A worker that answered a ping, or null (none starts, or it failed).
async function answeringWorker() {
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
  return w;
}

// The sender's source in a worker: it reads blocks of whole chunks, hashes
// them and transfers them here, at most READ_AHEAD ahead.
export async function workerSource(file, chunkSize) {
  const w = await answeringWorker();
  if (w === null) {
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
// With `shared` (a ChannelProxy's worker) the chunks come from the channel
// in the worker, write() is not used, and the worker is the proxy's to end.
export async function workerStore(info, { shared = null } = {}) {
  const w = shared ?? startWorker();
  if (w === null) {
    return null;
  }
  const terminate = () => {
    if (!shared) {
      w.terminate();
    }
  };
  const entry = `${OPFS_PREFIX}${info.id}`;
  let opened;
  try {
    opened = await w.ask({ op: 'open', entry, size: info.size,
      chunkSize: info.chunkSize });
  } catch (e) {
    if (shared) {
      throw e;
    }
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
  if (!shared) {
    w.onOther = (m) => {
      if (m?.op === 'error') {
        error ??= new Error(m.message);
      }
    };
  }
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
        terminate();
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
        terminate();
      }
      if (opened.kind === 'opfs') {
        await removeEntry();
      }
    },
    discard: () => (opened.kind === 'opfs' ? removeEntry() : Promise.resolve()),
  };
}

/* ---- the channel in the worker ---------------------------------------- */

// A ChannelProxy asks its worker for bufferedAmount at most this often.
const POLL_MS = 50;
const now = () => globalThis.performance?.now?.() ?? Date.now();

// What a ChannelProxy's worker does after the page lets go of the channel
// (its close, or the partner's): a moment for the last message to leave.
const RELEASE_MS = 2000;

// The page's side of a channel transferred to the worker: what session.js
// and controller.js use of an RTCDataChannel (readyState, bufferedAmount,
// send(text), close(), onopen, onclose, onmessage (control messages only),
// 'bufferedamountlow' and 'close' listeners), plus onarrived(bytes,
// {count, largest, smallest}) for the binary messages the worker took,
// createSource() and createStore() in the same worker.
export class ChannelProxy {
  constructor(w, label) {
    this.w = w;
    this.label = label;
    this.readyState = 'connecting';
    this.binaryType = 'arraybuffer';
    this.bufferedAmountLowThreshold = 0;
    this.buffered = 0;
    this.sent = 0;
    this.polling = false;
    this.heardAt = -Infinity;
    this.onopen = null;
    this.onclose = null;
    this.onmessage = null;
    this.onarrived = null;
    this.onsent = null;
    this.listeners = { bufferedamountlow: new Set(), close: new Set() };
    this.storeError = null;
    this.released = false;
    w.onOther = (m) => this.fromWorker(m);
    w.onCrash = () => this.closed();
  }

  fromWorker(m) {
    if (m?.op === 'error') {
      this.storeError ??= new Error(m.message);
      return;
    }
    if (m?.op !== 'ch') {
      return;
    }
    this.setBuffered(m.buffered);
    if (Number.isFinite(m.sent) && m.sent !== this.sent) {
      this.sent = m.sent;
      this.onsent?.(m.sent);
    }
    switch (m.ev) {
      case 'open':
        if (this.readyState === 'connecting') {
          this.readyState = 'open';
          this.onopen?.({ type: 'open' });
        }
        break;
      case 'close':
        this.closed();
        break;
      case 'text':
        this.onmessage?.({ type: 'message', data: m.data });
        break;
      case 'arrived':
        this.onarrived?.(m.bytes, { count: m.count, largest: m.largest,
          smallest: m.smallest });
        break;
      default:
        break;
    }
  }

  setBuffered(n) {
    if (!Number.isFinite(n)) {
      return;
    }
    const was = this.buffered;
    this.buffered = n;
    this.polling = false;
    this.heardAt = now();
    if (was > this.bufferedAmountLowThreshold &&
      n <= this.bufferedAmountLowThreshold) {
      for (const fn of [...this.listeners.bufferedamountlow]) {
        fn({ type: 'bufferedamountlow' });
      }
    }
  }

  closed() {
    if (this.readyState === 'closed') {
      return;
    }
    this.readyState = 'closed';
    for (const fn of [...this.listeners.close]) {
      fn({ type: 'close' });
    }
    this.onclose?.({ type: 'close' });
    this.release();
  }

  // The last value the worker told (asking it for a fresh one when that is
  // older than POLL_MS: reading it must not start a stream of messages).
  get bufferedAmount() {
    if (!this.polling && this.readyState === 'open' &&
      now() - this.heardAt >= POLL_MS) {
      this.polling = true;
      this.w.post({ op: 'chpoll' });
    }
    return this.buffered;
  }

  addEventListener(type, fn) {
    this.listeners[type]?.add(fn);
  }

  removeEventListener(type, fn) {
    this.listeners[type]?.delete(fn);
  }

  send(data) {
    if (this.readyState !== 'open') {
      const e = new Error('InvalidStateError: the channel is not open');
      e.name = 'InvalidStateError';
      throw e;
    }
    if (typeof data !== 'string') {
      throw new TypeError('only control messages go through the page');
    }
    this.buffered += data.length;
    this.w.post({ op: 'chsend', data });
  }

  close() {
    if (this.readyState !== 'closed') {
      this.readyState = 'closing';
      this.w.post({ op: 'chclose' });
    }
    this.release();
  }

  release() {
    if (!this.released) {
      this.released = true;
      setTimeout(() => this.w.terminate(), RELEASE_MS);
    }
  }

  // The sender's source: the worker reads, sends and hashes the file.
  createSource(file, chunkSize) {
    let sha = null;
    return {
      kind: 'channel-worker',
      chunks: null,
      send: async ({ low, high, signal, onSent = () => {} }) => {
        if (signal?.aborted) {
          throw new AbortedError();
        }
        const stop = () => this.w.post({ op: 'stop' });
        signal?.addEventListener('abort', stop);
        this.onsent = onSent;
        try {
          const m = await this.w.ask({ op: 'sendfile', file, chunkSize,
            blockSize: chunkSize * CHANNEL_BLOCK_CHUNKS, low, high });
          this.setBuffered(m.buffered);
          if (m.stopped) {
            throw new AbortedError();
          }
          if (m.closed) {
            throw new ChannelClosedError();
          }
          if (m.error) {
            throw new Error(m.error);
          }
          sha = m.sha256;
          onSent(m.sent);
          return m.sent;
        } finally {
          this.onsent = null;
          signal?.removeEventListener('abort', stop);
        }
      },
      async digest() {
        if (sha === null) {
          throw new Error('the file was not read to its end');
        }
        return sha;
      },
      close() {},
    };
  }

  // The receiver's store: the worker writes what the channel brings.
  async createStore(info) {
    const store = await workerStore(info, { shared: this.w });
    const proxy = this;
    return Object.create(store, {
      error: { get: () => proxy.storeError ?? proxy.w.failure },
      write: { value: () => {
        throw new Error('the chunks go to the worker');
      } },
    });
  }
}

// The sender reads this many chunks at a time when the worker sends.
const CHANNEL_BLOCK_CHUNKS = 16;

// A worker ready to take a channel: {adopt(dc): ChannelProxy, or null when
// the browser cannot transfer it (dc is then untouched), dispose()}; null
// when no worker starts. Call adopt() in the task that created or received
// the channel.
export async function prepareChannelWorker() {
  if (typeof RTCDataChannel === 'undefined') {
    return null;
  }
  const w = await answeringWorker();
  if (w === null) {
    return null;
  }
  let used = false;
  return {
    adopt(dc) {
      if (used) {
        return null;
      }
      try {
        w.post({ op: 'channel', dc }, [dc]);
      } catch {
        return null;
      }
      used = true;
      return new ChannelProxy(w, dc.label);
    },
    dispose() {
      if (!used) {
        w.terminate();
      }
    },
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
