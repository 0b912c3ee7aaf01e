// transfer.worker.js: the heavy part of a transfer, off the main thread
// (pipeline.js starts one worker per transfer and talks to it).
//
// Sender:   {op:'read', file, blockSize, credit} -> {op:'block', data} per
//           block read (transferred), as long as credit lasts ({op:'more'}
//           adds one), then {op:'end', sha256}. The file is read as a
//           stream (file.stream()), with a BYOB reader where it can:
//           measured here, that costs less than half the CPU of reading it
//           slice by slice.
// Receiver: {op:'open', entry, size} -> {reply:'open', kind}: an OPFS file
//           written through a synchronous access handle in 16 MiB writes
//           (a write per 256 KiB chunk costs about twice the CPU of 4 MiB
//           ones; 16 MiB ones a little less again in incognito), or a Blob
//           (folded every 32 MiB) when OPFS, the handle or the quota is
//           missing;
//           {op:'write', data} (an ArrayBuffer or an array of them, in
//           order; transferred; no reply); {op:'digest'} ->
//           {reply:'digest', sha256}; {op:'close'} -> {reply:'close', file};
//           {op:'abort'} -> {reply:'abort'}.
// Channel:  {op:'channel', dc} hands the page's RTCDataChannel over (it
//           must be transferred in the task that created or received it):
//           then the chunks never touch the page's thread. The worker
//           posts {op:'ch', ev, buffered (its bufferedAmount)} with ev
//           'open', 'close', 'text' ({data}: a control message, in order),
//           'arrived' ({bytes, count, largest, smallest}: binary messages
//           since the last report, every 2 MiB and before any text; written
//           to the store only when one is open and they fit what it
//           announced), 'sent' (after each block), 'buffered' (the
//           answer to {op:'chpoll'}); while a file is being sent each
//           also has {sent} (bytes handed to the channel so far).
//           {op:'chsend', data} sends a control message (stopping a file
//           being sent first: only cancel and error go out while one is);
//           {op:'chclose'}; {op:'sendfile', file, chunkSize, blockSize,
//           low, high} reads, sends (within the water marks) and hashes the
//           file -> {reply:'sendfile', sha256, sent} or {reply:'sendfile',
//           error, closed, stopped}; {op:'stop'}. The open above takes
//           {chunkSize} too. (The channel's ops are named apart from the
//           store's: the store's close is not the channel's.)
// {op:'ping'} -> {reply:'ping'}. A failure posts {op:'error', message}
// once; every later request (but the channel's) is refused.
import { createSHA256 } from 'hash-wasm';

const QUOTA_MARGIN = 64 * 1024 * 1024;
const WRITE_BLOCK = 16 * 1024 * 1024;

let hasher = null;
let failed = null;
// sender
let reading = null;
// receiver
let access = null;
let fileHandle = null;
let dir = null;
let entry = null;
let parts = null;
let offset = 0;
let wbuf = null;
let wused = 0;
let capacity = 0;
let announced = 0;
// memory: chunks folded into a Blob every FOLD_BYTES, so the browser's blob
// store holds them rather than this worker's heap
const FOLD_BYTES = 32 * 1024 * 1024;
let folded = null;
let partsBytes = 0;
// channel
let channel = null;
let channelOpen = false;
let sending = null; // {stopped, wake, sent}
// what a store open here takes from the channel: {size, chunkSize, written}
let intake = null;
const REPORT_BYTES = 2 * 1024 * 1024;
const DRAIN_POLL_MS = 500;
let arrived = { bytes: 0, count: 0, largest: 0, smallest: 0 };

function foldParts() {
  folded = new Blob([folded ?? new Blob([]), ...parts]);
  parts = [];
  partsBytes = 0;
}

function fail(e) {
  if (failed) {
    return;
  }
  failed = e?.message ?? String(e);
  self.postMessage({ op: 'error', message: failed });
}

async function newHasher() {
  const h = await createSHA256();
  h.init();
  return h;
}

async function openStore(m) {
  hasher = await newHasher();
  entry = m.entry;
  try {
    const storage = self.navigator?.storage;
    if (typeof storage?.getDirectory !== 'function') {
      throw new Error('no OPFS');
    }
    const { quota, usage } = await storage.estimate();
    if (Number.isFinite(quota) && quota - (usage ?? 0) <
      m.size + QUOTA_MARGIN) {
      throw new Error('not enough quota');
    }
    dir = await storage.getDirectory();
    fileHandle = await dir.getFileHandle(entry, { create: true });
    if (typeof fileHandle.createSyncAccessHandle !== 'function') {
      await dir.removeEntry(entry).catch(() => {});
      throw new Error('no sync access handles');
    }
    access = await fileHandle.createSyncAccessHandle();
    access.truncate(0);
    capacity = 0;
    announced = m.size;
    return 'opfs';
  } catch {
    access = null;
    fileHandle = null;
    parts = [];
    return 'memory';
  } finally {
    intake = { size: m.size, chunkSize: m.chunkSize ?? Infinity, written: 0 };
  }
}

// Size the file ahead of the writes: to the announced size at the first
// write (on disk a sparse file; the quota was checked at open), never
// write by write. Chromium's in-memory OPFS (incognito) reallocates and
// copies the file at each growth: growing it write by write costs about
// twice the CPU, and even doubling it (16, 32, 64... MiB) cost the browser
// process about a third more CPU than sizing it once (measured here, 200
// MB) and held old and new copies at once while it grew.
function reserve(end) {
  if (end <= capacity) {
    return;
  }
  capacity = Math.max(end, announced);
  access.truncate(capacity);
}

// Write wbuf[0, wused) at the end of the file.
function flushBlock() {
  reserve(offset + wused);
  let done = 0;
  while (done < wused) {
    const n = access.write(wbuf.subarray(done, wused), { at: offset + done });
    if (!(n > 0)) {
      throw new Error('the disk took no more bytes (is it full?)');
    }
    done += n;
  }
  offset += wused;
  wused = 0;
}

function write(data) {
  if (failed) {
    return;
  }
  try {
    const u8 = new Uint8Array(data);
    hasher.update(u8);
    if (access) {
      wbuf ??= new Uint8Array(WRITE_BLOCK);
      let off = 0;
      while (off < u8.byteLength) {
        const n = Math.min(WRITE_BLOCK - wused, u8.byteLength - off);
        wbuf.set(u8.subarray(off, off + n), wused);
        wused += n;
        off += n;
        if (wused === WRITE_BLOCK) {
          flushBlock();
        }
      }
    } else {
      parts.push(data);
      offset += u8.byteLength;
      partsBytes += u8.byteLength;
      if (partsBytes >= FOLD_BYTES) {
        foldParts();
      }
    }
  } catch (e) {
    fail(e);
  }
}

async function closeStore() {
  intake = null;
  if (access) {
    if (wused > 0) {
      flushBlock();
    }
    wbuf = null;
    if (capacity !== offset) {
      access.truncate(offset);
    }
    access.flush();
    access.close();
    access = null;
    return fileHandle.getFile();
  }
  foldParts();
  const f = new File([folded], 'video');
  parts = null;
  folded = null;
  return f;
}

async function abortStore() {
  intake = null;
  parts = null;
  folded = null;
  if (access) {
    try {
      access.close();
    } catch {
      // closed already
    }
    access = null;
  }
  if (dir && fileHandle) {
    await dir.removeEntry(entry).catch(() => {});
  }
}

// The sender's reading loop: a block while there is credit.
function startReading(m) {
  reading = { file: m.file, blockSize: m.blockSize, credit: m.credit,
    pos: 0, busy: false, done: false, reader: null, byob: false, left: null };
  pump();
}

// A reader of the file's stream: a BYOB one where the stream is a byte
// stream (Chromium's and node's Blob streams are), which reads straight
// into our block (measured here: a third less CPU than copying the
// stream's own 64 KiB pieces into it), else a default one.
function openReader(r) {
  const stream = r.file.stream();
  try {
    r.reader = stream.getReader({ mode: 'byob' });
    r.byob = true;
  } catch {
    r.reader = stream.getReader();
    r.byob = false;
  }
}

function shrunk(r, filled) {
  return new Error('the file changed while it was being read ' +
    `(it ended after ${r.pos + filled} of ${r.file.size} bytes)`);
}

// The next block of the file: blockSize bytes (less at the end), read
// into a fresh buffer (it is transferred away).
async function readBlock(r) {
  if (r.reader === null) {
    openReader(r);
  }
  const want = Math.min(r.blockSize, r.file.size - r.pos);
  let filled = 0;
  if (r.byob) {
    let buf = new ArrayBuffer(want);
    while (filled < want) {
      const { done, value } = await r.reader.read(
        new Uint8Array(buf, filled, want - filled));
      if (done) {
        throw shrunk(r, filled);
      }
      // The read transferred our buffer: carry on in the one it returned.
      buf = value.buffer;
      filled += value.byteLength;
    }
    return buf;
  }
  const block = new Uint8Array(want);
  while (filled < want) {
    if (r.left === null || r.left.byteLength === 0) {
      const { done, value } = await r.reader.read();
      if (done) {
        throw shrunk(r, filled);
      }
      r.left = value;
    }
    const n = Math.min(want - filled, r.left.byteLength);
    block.set(r.left.subarray(0, n), filled);
    r.left = r.left.subarray(n);
    filled += n;
  }
  return block.buffer;
}

async function pump() {
  const r = reading;
  if (!r || r.busy || r.done || failed) {
    return;
  }
  r.busy = true;
  try {
    hasher ??= await newHasher();
    while (r.credit > 0 && r.pos < r.file.size && !failed && reading === r) {
      const buf = await readBlock(r);
      hasher.update(new Uint8Array(buf));
      r.pos += buf.byteLength;
      r.credit -= 1;
      self.postMessage({ op: 'block', data: buf }, [buf]);
    }
    if (r.pos >= r.file.size && !r.done && reading === r) {
      r.done = true;
      r.reader?.cancel().catch(() => {});
      self.postMessage({ op: 'end', sha256: hasher.digest('hex') });
    }
  } catch (e) {
    fail(e);
  } finally {
    r.busy = false;
  }
  if (r.credit > 0 && !r.done && !failed && reading === r) {
    pump();
  }
}

/* ---- the channel -------------------------------------------------------- */

// (While a file is being sent, every event tells how much has been.)
function post(ev, fields) {
  const m = { op: 'ch', ev, ...fields, buffered: channel?.bufferedAmount ?? 0 };
  if (sending) {
    m.sent ??= sending.sent;
  }
  self.postMessage(m);
}

function reportArrived() {
  if (arrived.count > 0) {
    post('arrived', arrived);
    arrived = { bytes: 0, count: 0, largest: 0, smallest: 0 };
  }
}

// A binary message: written when a store takes it (the page's session
// checks the counts and fails the transfer on anything out of place).
function binary(data) {
  const n = data.byteLength;
  const a = arrived;
  a.smallest = a.count === 0 ? n : Math.min(a.smallest, n);
  a.largest = Math.max(a.largest, n);
  a.count += 1;
  a.bytes += n;
  const s = intake;
  if (s && n > 0 && n <= s.chunkSize && s.written + n <= s.size) {
    s.written += n;
    write(data);
  }
  if (a.bytes >= REPORT_BYTES) {
    reportArrived();
  }
}

function adopt(dc) {
  channel = dc;
  dc.binaryType = 'arraybuffer';
  const opened = () => {
    if (!channelOpen) {
      channelOpen = true;
      post('open');
    }
  };
  dc.onopen = opened;
  dc.onclose = () => {
    reportArrived();
    sending?.wake?.();
    post('close');
  };
  dc.onmessage = (e) => {
    // (A message can come before the open event here.)
    opened();
    if (typeof e.data === 'string') {
      reportArrived();
      post('text', { data: e.data });
    } else if (e.data instanceof ArrayBuffer) {
      binary(e.data);
    }
  };
  dc.onbufferedamountlow = () => sending?.wake?.();
  if (dc.readyState === 'open') {
    opened();
  }
}

// Until the send queue is down to `low`, the channel closes or the send is
// stopped (an event, or a poll in case one is missed).
function drain(s, low) {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (channel.bufferedAmount <= low) {
        s.wake?.();
      }
    }, DRAIN_POLL_MS);
    s.wake = () => {
      s.wake = null;
      clearInterval(timer);
      resolve();
    };
  });
}

class Stop extends Error {}

// The sender's loop: blocks read one ahead, their chunks sent between the
// water marks, each block hashed once sent (while the queue drains).
async function sendFile(m) {
  const s = { stopped: false, wake: null, sent: 0 };
  sending = s;
  const r = { file: m.file, blockSize: m.blockSize, pos: 0, reader: null,
    byob: false, left: null };
  const open = () => channel.readyState === 'open';
  const room = async (n) => {
    while (!s.stopped && open() && channel.bufferedAmount + n > m.high) {
      await drain(s, m.low);
    }
    if (s.stopped) {
      throw new Stop();
    }
    if (!open()) {
      throw new Stop('closed');
    }
  };
  let next = null;
  try {
    const h = await newHasher();
    channel.bufferedAmountLowThreshold = m.low;
    let sent = 0;
    next = r.file.size > 0 ? readBlock(r) : null;
    while (next !== null) {
      const buf = await next;
      r.pos += buf.byteLength;
      next = r.pos < r.file.size ? readBlock(r) : null;
      next?.catch(() => {});
      const u8 = new Uint8Array(buf);
      for (let off = 0; off < u8.byteLength; off += m.chunkSize) {
        const chunk = u8.subarray(off, Math.min(u8.byteLength,
          off + m.chunkSize));
        await room(chunk.byteLength);
        channel.send(chunk);
        sent += chunk.byteLength;
        s.sent = sent;
      }
      h.update(u8);
      post('sent', { sent });
    }
    // The end message, too, waits for room under the high mark.
    await room(512);
    r.reader?.cancel().catch(() => {});
    self.postMessage({ reply: 'sendfile', sha256: h.digest('hex'), sent,
      buffered: channel.bufferedAmount });
  } catch (e) {
    r.reader?.cancel().catch(() => {});
    const stop = e instanceof Stop;
    self.postMessage({ reply: 'sendfile', error: e?.message ?? String(e),
      stopped: stop && s.stopped, closed: stop && !s.stopped });
  } finally {
    if (sending === s) {
      sending = null;
    }
  }
}

function stopSending() {
  if (sending) {
    sending.stopped = true;
    sending.wake?.();
  }
}

// The channel's requests: handled at once, whatever else is pending.
function channelRequest(m) {
  switch (m.op) {
    case 'channel':
      adopt(m.dc);
      return true;
    case 'chsend':
      stopSending();
      try {
        channel?.send(m.data);
      } catch {
        // closed: its close event tells the page
      }
      return true;
    case 'chpoll':
      post('buffered');
      return true;
    case 'stop':
      stopSending();
      return true;
    case 'chclose':
      stopSending();
      try {
        channel?.close();
      } catch {
        // closed already
      }
      return true;
    case 'sendfile':
      sendFile(m);
      return true;
    default:
      return false;
  }
}

// Requests are handled one at a time, in order (a write must not overtake
// the open before it).
let chain = Promise.resolve();

self.onmessage = (e) => {
  const m = e.data;
  if (m?.op === 'write') {
    // The hot path: in order behind whatever is pending (the open).
    chain = chain.then(() => {
      if (Array.isArray(m.data)) {
        for (const data of m.data) {
          write(data);
        }
      } else {
        write(m.data);
      }
    });
    return;
  }
  if (channelRequest(m ?? {})) {
    return;
  }
  if (m?.op === 'more') {
    if (reading) {
      reading.credit += 1;
      pump();
    }
    return;
  }
  chain = chain.then(async () => {
    if (m?.op === 'abort') {
      // Always: it releases the access handle and removes the file.
      await abortStore().catch(() => {});
      self.postMessage({ reply: 'abort' });
      return;
    }
    if (failed) {
      self.postMessage({ op: 'error', message: failed });
      return;
    }
    try {
      switch (m?.op) {
        case 'ping':
          // (and compile the hasher now, not when the bytes come)
          hasher ??= await newHasher();
          self.postMessage({ reply: 'ping' });
          break;
        case 'open':
          self.postMessage({ reply: 'open', kind: await openStore(m) });
          break;
        case 'digest':
          self.postMessage({ reply: 'digest', sha256: hasher.digest('hex') });
          break;
        case 'close':
          self.postMessage({ reply: 'close', file: await closeStore() });
          break;
        case 'read':
          startReading(m);
          break;
        default:
          fail(new Error(`unknown request ${JSON.stringify(m?.op)}`));
      }
    } catch (err) {
      fail(err);
    }
  });
};
