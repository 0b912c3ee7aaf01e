// session.js: the two ends of one transfer as state machines over a data
// channel (the protocol of protocol.js). No WebRTC in here: a session gets
// an open channel-like object (send(), bufferedAmount, events) and the raw
// message payloads, so tests drive two sessions against each other through
// fakes (test/transfer-session.test.js).
//
// Sender:   new -> offered -> sending -> verifying -> done
// Receiver: waiting -> offered -> accepting -> receiving -> verifying -> done
// and from any of those: declined, cancelled (by 'me' or 'partner'), or
// failed ({code, message}). Terminal states ignore whatever still arrives.

import { AbortedError, ChannelClosedError, HIGH_WATER_MARK, LOW_WATER_MARK,
  sendWithBackpressure, waitForDrain } from './backpressure.js';
import { mainThreadSource, mainThreadStore } from './pipeline.js';
import { createMeter } from './progress.js';
import { decode, encode, ERR, ProtocolError, safeMediaType,
  sanitizeFileName } from './protocol.js';

// Receiver: a transfer that sends nothing for this long has failed.
export const IDLE_TIMEOUT_MS = 30000;
// Sender: no verdict this long after `end`, or no byte leaving the send
// queue for this long, has failed.
export const VERDICT_TIMEOUT_MS = 60000;
export const STALL_TIMEOUT_MS = 30000;

export const TERMINAL = new Set(['done', 'declined', 'cancelled', 'failed']);

// Milliseconds that only go forward (for timeouts).
const monotonic = () => globalThis.performance?.now?.() ?? Date.now();

// Messages for failures, by code (the protocol's and the session's own).
const MESSAGES = {
  connection: 'The connection was lost during the transfer.',
  timeout: 'The transfer stopped: nothing arrived for too long.',
  hash_mismatch: 'The file arrived damaged: its SHA-256 does not match ' +
    'the sender\'s. Nothing was saved; send it again.',
  storage: 'The file could not be stored on this device.',
  read: 'The file could not be read.',
};

export function failureMessage(code, detail) {
  const base = MESSAGES[code] ?? 'The transfer failed: the other app sent ' +
    'something this app does not understand.';
  return detail ? `${base} (${detail})` : base;
}

class Session {
  constructor({ onChange = () => {}, onFatal = () => {}, now } = {}) {
    this.state = 'new';
    this.error = null;
    this.cancelledBy = null;
    this.reason = '';
    this.meter = null;
    this.progress = null;
    this.onChange = onChange;
    this.onFatal = onFatal;
    this.now = now;
    this.timer = null;
    this.startedAt = null;
    this.finishedAt = null;
  }

  get terminal() {
    return TERMINAL.has(this.state);
  }

  set(state, extra = {}) {
    this.state = state;
    Object.assign(this, extra);
    if (TERMINAL.has(state)) {
      this.clearTimer();
      this.finishedAt ??= this.clock();
      this.release();
    }
    this.onChange(this.snapshot(), { progressOnly: false });
  }

  clock() {
    return this.now ? this.now() : (globalThis.performance?.now?.() ??
      Date.now());
  }

  startMeter(total) {
    this.meter = createMeter(total, this.now ? { now: this.now } : {});
    this.startedAt = this.clock();
    this.progress = this.meter.snapshot();
  }

  setTimer(ms, fn) {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      fn();
    }, ms);
  }

  clearTimer() {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  // Send a control message; false when the channel refused it.
  sendControl(type, fields) {
    try {
      this.channelSend(encode(type, fields));
      return true;
    } catch {
      return false;
    }
  }

  // A failure. notify: tell the peer with an `error` message first.
  fail(code, message, { notify = false } = {}) {
    if (this.terminal) {
      return;
    }
    if (notify) {
      this.sendControl('error', { code,
        message: String(message).slice(0, 500) });
    }
    this.cleanup();
    this.set('failed', { error: { code, message } });
    this.onFatal(this.error);
  }

  // A protocol error seen here: tell the peer, fail, close.
  protocolError(e) {
    const code = e instanceof ProtocolError ? e.code : ERR.MALFORMED;
    this.fail(code, failureMessage(code, e.message), { notify: true });
  }

  // The channel closed under us.
  channelClosed() {
    if (!this.terminal) {
      this.cleanup();
      this.set('failed', { error: { code: 'connection',
        message: failureMessage('connection') } });
    }
  }

  cleanup() {}

  // Called once on reaching a terminal state: free workers and the like.
  release() {}

  // The peer's `cancel`, `error`: common to both sides.
  handlePeerEnd(msg) {
    if (msg.t === 'cancel') {
      this.cleanup();
      this.set('cancelled', { cancelledBy: 'partner', reason: msg.reason });
      return true;
    }
    if (msg.t === 'error') {
      this.cleanup();
      this.set('failed', { error: { code: 'peer_error',
        message: `The other app stopped the transfer: ${msg.message}` } });
      this.onFatal(this.error);
      return true;
    }
    return false;
  }

  checkId(msg) {
    if (msg.id !== this.id) {
      throw new ProtocolError(ERR.WRONG_TRANSFER,
        `a ${msg.t} message for transfer ${msg.id}, not ${this.id}`);
    }
  }

  unexpected(msg) {
    return new ProtocolError(ERR.UNEXPECTED_MESSAGE,
      `a ${msg.t} message while ${this.state}`);
  }
}

// The sending end. channel: open RTCDataChannel-like; file: Blob/File;
// createSource(file, chunkSize): the reader and hasher (pipeline.js), by
// default on the main thread with createHasher (hash.js).
export class SenderSession extends Session {
  constructor({ channel, file, id, chunkSize, createHasher, createSource,
    low = LOW_WATER_MARK,
    high = HIGH_WATER_MARK, onChange, onFatal, now,
    verdictTimeoutMs = VERDICT_TIMEOUT_MS, stallTimeoutMs = STALL_TIMEOUT_MS }) {
    super({ onChange, onFatal, now });
    this.verdictTimeoutMs = verdictTimeoutMs;
    this.stallTimeoutMs = stallTimeoutMs;
    this.role = 'send';
    this.channel = channel;
    this.file = file;
    this.id = id;
    this.chunkSize = chunkSize;
    this.createSource = createSource ?? ((f, cs) => mainThreadSource(f, cs,
      createHasher ? { hasher: createHasher } : {}));
    this.source = null;
    this.low = low;
    this.high = high;
    this.sent = 0;
    this.sha256 = null;
    this.abort = null;
    this.lastAcked = 0;
    this.lastAckedAt = 0;
    this.info = { name: sanitizeFileName(file.name), size: file.size,
      type: file.type ?? '' };
  }

  channelSend(data) {
    this.channel.send(data);
  }

  snapshot() {
    return {
      role: 'send', state: this.state, id: this.id, file: this.info,
      progress: this.progress, error: this.error,
      cancelledBy: this.cancelledBy, reason: this.reason,
      sha256: this.sha256, durationMs: this.duration(),
    };
  }

  duration() {
    return this.startedAt !== null && this.finishedAt !== null ?
      this.finishedAt - this.startedAt : null;
  }

  // Offer the file: meta first.
  async start() {
    if (this.state !== 'new') {
      throw new Error('the transfer has started already');
    }
    try {
      this.source = await this.createSource(this.file, this.chunkSize);
    } catch (e) {
      this.fail('read', failureMessage('read', e.message));
      return;
    }
    if (this.terminal) {
      this.source.close();
      return;
    }
    const ok = this.sendControl('meta', { id: this.id, name: this.info.name,
      size: this.info.size, type: this.info.type.slice(0, 255),
      chunkSize: this.chunkSize });
    if (!ok) {
      this.channelClosed();
      return;
    }
    this.set('offered');
  }

  handle(data) {
    if (this.terminal) {
      return;
    }
    let msg;
    try {
      msg = decode(data);
      if (msg.t === 'chunk') {
        throw new ProtocolError(ERR.UNEXPECTED_MESSAGE,
          'binary data sent to the sender');
      }
      if (msg.t !== 'error') {
        this.checkId(msg);
      }
    } catch (e) {
      this.protocolError(e);
      return;
    }
    if (this.handlePeerEnd(msg)) {
      return;
    }
    if (msg.t === 'accept' && this.state === 'offered') {
      this.startMeter(this.info.size);
      this.set('sending');
      this.lastAckedAt = this.clock();
      this.pump();
    } else if (msg.t === 'decline' && this.state === 'offered') {
      this.set('declined', { reason: msg.reason });
    } else if (msg.t === 'verdict' && this.state === 'verifying') {
      if (msg.ok && msg.sha256 === this.sha256) {
        this.progress = this.meter.update(this.info.size);
        this.set('done');
      } else {
        this.set('failed', { error: { code: 'hash_mismatch',
          message: 'The video arrived damaged (its SHA-256 does not match ' +
            'the file sent). Send it again.' } });
        this.onFatal(this.error);
      }
    } else {
      this.protocolError(this.unexpected(msg));
    }
  }

  async pump() {
    this.abort = new AbortController();
    try {
      if (typeof this.source.send === 'function') {
        // The source sends by itself (the channel is in its worker).
        await this.source.send({ low: this.low, high: this.high,
          signal: this.abort.signal,
          onSent: (total) => {
            this.sent = total;
            this.tick();
          } });
      } else {
        await sendWithBackpressure(this.channel, this.source.chunks, {
          low: this.low,
          high: this.high,
          signal: this.abort.signal,
          onSent: (n) => {
            this.sent += n;
            this.tick();
          },
        });
      }
      // The end message, too, waits for room under the high mark.
      while (this.state === 'sending' &&
        this.channel.bufferedAmount + 512 > this.high) {
        await waitForDrain(this.channel, this.low,
          { signal: this.abort.signal });
      }
      if (this.state !== 'sending') {
        return;
      }
      const sha256 = await this.source.digest();
      if (this.state !== 'sending') {
        return;
      }
      this.sha256 = sha256;
      if (!this.sendControl('end', { id: this.id, size: this.info.size,
        sha256: this.sha256 })) {
        this.channelClosed();
        return;
      }
      this.set('verifying');
      this.setTimer(this.verdictTimeoutMs, () => this.fail('timeout',
        'No answer from the receiver after the last byte.', { notify: true }));
    } catch (e) {
      if (this.state !== 'sending') {
        return;
      }
      if (e instanceof ChannelClosedError) {
        this.channelClosed();
      } else if (e instanceof AbortedError) {
        // cancel() or a failure stopped us: the state says which
      } else {
        this.fail('read', failureMessage('read', e.message), { notify: true });
      }
    }
  }

  // Bytes that have left the send queue: what the partner has (about).
  acked() {
    const buffered = this.channel.bufferedAmount ?? 0;
    return Math.max(0, this.sent - buffered);
  }

  // Refresh progress (called per chunk and by the owner's timer); fails a
  // transfer whose send queue has not moved for STALL_TIMEOUT_MS.
  tick() {
    if (this.meter === null || this.terminal) {
      return;
    }
    const acked = this.acked();
    const t = this.clock();
    if (acked > this.lastAcked) {
      this.lastAcked = acked;
      this.lastAckedAt = t;
    } else if (this.state === 'sending' && acked < this.sent &&
      t - this.lastAckedAt > this.stallTimeoutMs) {
      this.fail('timeout', failureMessage('timeout'), { notify: true });
      return;
    }
    this.progress = this.meter.update(acked);
    this.onChange(this.snapshot(), { progressOnly: true });
  }

  cancel(reason = '') {
    if (this.terminal) {
      return;
    }
    this.sendControl('cancel', { id: this.id, reason: reason.slice(0, 200) });
    this.cleanup();
    this.set('cancelled', { cancelledBy: 'me', reason });
  }

  cleanup() {
    this.clearTimer();
    this.abort?.abort();
  }

  release() {
    this.source?.close();
  }
}

// The receiving end. send(data): the channel's send; createStore(info):
// the hasher and writer (pipeline.js), by default on the main thread with
// createSink (sink.js) and createHasher (hash.js).
export class ReceiverSession extends Session {
  constructor({ send, createSink, createHasher, createStore, onChange,
    onFatal, now, idleMs = IDLE_TIMEOUT_MS }) {
    super({ onChange, onFatal, now });
    this.role = 'receive';
    this.channelSend = send;
    const deps = {};
    if (createSink) {
      deps.sink = createSink;
    }
    if (createHasher) {
      deps.hasher = createHasher;
    }
    this.createStore = createStore ?? ((info) => mainThreadStore(info, deps));
    this.idleMs = idleMs;
    this.state = 'waiting';
    this.id = null;
    this.info = null;
    this.chunkSize = 0;
    this.received = 0;
    this.store = null;
    this.sha256 = null;
    this.result = null;
  }

  snapshot() {
    return {
      role: 'receive', state: this.state, id: this.id, file: this.info,
      progress: this.progress, error: this.error,
      cancelledBy: this.cancelledBy, reason: this.reason,
      sha256: this.sha256, result: this.result,
      storage: this.store?.kind ?? null,
      durationMs: this.startedAt !== null && this.finishedAt !== null ?
        this.finishedAt - this.startedAt : null,
    };
  }

  handle(data) {
    if (this.terminal) {
      return;
    }
    let msg;
    try {
      msg = decode(data);
      if (msg.t === 'chunk') {
        this.chunk(msg.data);
        return;
      }
      if (msg.t === 'meta' && this.state === 'waiting') {
        this.id = msg.id;
        this.chunkSize = msg.chunkSize;
        this.info = { name: sanitizeFileName(msg.name), size: msg.size,
          type: safeMediaType(msg.type) };
        this.set('offered');
        return;
      }
      if (msg.t !== 'error') {
        if (this.id === null) {
          throw this.unexpected(msg);
        }
        this.checkId(msg);
      }
      if (this.handlePeerEnd(msg)) {
        return;
      }
      if (msg.t === 'end' && this.state === 'receiving') {
        if (msg.size !== this.info.size || this.received !== this.info.size) {
          throw new ProtocolError(ERR.SIZE_MISMATCH, `the sender ended ` +
            `after ${this.received} of ${this.info.size} bytes`);
        }
        this.end(msg);
        return;
      }
      throw this.unexpected(msg);
    } catch (e) {
      this.protocolError(e);
    }
  }

  chunk(data) {
    this.check(data.byteLength, data.byteLength, data.byteLength);
    // (A worker store takes the buffer over: count it first.)
    this.received += data.byteLength;
    this.store.write(data);
    this.stored();
  }

  // Binary messages that the channel's worker took (and stored, when they
  // fit): `bytes` in all, {count, largest, smallest} of them.
  arrived(bytes, { largest = bytes, smallest = bytes } = {}) {
    if (this.terminal) {
      return;
    }
    try {
      this.check(bytes, largest, smallest);
    } catch (e) {
      this.protocolError(e);
      return;
    }
    this.received += bytes;
    this.stored();
  }

  check(bytes, largest, smallest) {
    if (this.state !== 'receiving') {
      throw new ProtocolError(ERR.UNEXPECTED_MESSAGE,
        `binary data while ${this.state}`);
    }
    if (smallest === 0 || largest > this.chunkSize) {
      const n = smallest === 0 ? 0 : largest;
      throw new ProtocolError(ERR.TOO_LARGE, `a chunk of ${n} ` +
        `bytes (the sender announced at most ${this.chunkSize})`);
    }
    if (this.received + bytes > this.info.size) {
      throw new ProtocolError(ERR.TOO_LARGE, `more than the ${this.info.size} ` +
        'bytes announced');
    }
  }

  stored() {
    if (this.store.error) {
      this.storageFailed(this.store.error);
      return;
    }
    this.progress = this.meter.update(this.received);
    this.armIdle();
    this.onChange(this.snapshot(), { progressOnly: true });
  }

  // Note that the sender was heard from. One timer watches for silence
  // (re-armed from the last time heard when it fires), not a new timer per
  // chunk: that cost the main thread a clearTimeout and a setTimeout for
  // every 256 KiB.
  armIdle() {
    this.heardAt = monotonic();
    if (this.timer === null) {
      this.watchIdle(this.idleMs);
    }
  }

  watchIdle(ms) {
    this.setTimer(ms, () => {
      const quiet = monotonic() - this.heardAt;
      if (quiet >= this.idleMs) {
        this.fail('timeout', failureMessage('timeout'), { notify: true });
      } else {
        this.watchIdle(this.idleMs - quiet);
      }
    });
  }

  storageFailed(e) {
    const message = failureMessage('storage', e?.message);
    this.sendControl('cancel', { id: this.id,
      reason: 'The receiver could not store the file.' });
    this.cleanup();
    this.set('failed', { error: { code: 'storage', message } });
    this.onFatal(this.error);
  }

  // The last byte is in and counted: compare the hashes, finish the file,
  // send the verdict.
  async end(msg) {
    this.clearTimer();
    this.progress = this.meter.update(this.received);
    this.set('verifying');
    let file = null;
    let ok = false;
    try {
      this.sha256 = await this.store.digest();
      if (this.state !== 'verifying') {
        return;
      }
      ok = this.sha256 === msg.sha256;
      if (ok) {
        file = await this.store.close();
      } else {
        await this.store.abort();
      }
    } catch (e) {
      if (this.state === 'verifying') {
        this.storageFailed(e);
      }
      return;
    }
    if (this.state !== 'verifying') {
      await this.store.discard?.();
      return;
    }
    this.sendControl('verdict', { id: this.id, ok, sha256: this.sha256 });
    if (ok) {
      this.set('done', { result: file });
    } else {
      this.set('failed', { error: { code: 'hash_mismatch',
        message: failureMessage('hash_mismatch') } });
    }
  }

  async accept() {
    if (this.state !== 'offered') {
      return;
    }
    this.set('accepting');
    let store;
    try {
      store = await this.createStore({ ...this.info, id: this.id,
        chunkSize: this.chunkSize });
    } catch (e) {
      if (this.state === 'accepting') {
        this.storageFailed(e);
      }
      return;
    }
    if (this.state !== 'accepting') {
      await store.abort();
      return;
    }
    this.store = store;
    this.startMeter(this.info.size);
    if (!this.sendControl('accept', { id: this.id })) {
      this.channelClosed();
      return;
    }
    this.set('receiving');
    this.armIdle();
  }

  decline(reason = '') {
    if (this.state !== 'offered') {
      return;
    }
    this.sendControl('decline', { id: this.id, reason: reason.slice(0, 200) });
    this.set('declined', { cancelledBy: 'me', reason });
  }

  cancel(reason = '') {
    if (this.terminal) {
      return;
    }
    if (this.id !== null) {
      this.sendControl('cancel', { id: this.id, reason: reason.slice(0, 200) });
    }
    this.cleanup();
    this.set('cancelled', { cancelledBy: 'me', reason });
  }

  cleanup() {
    this.clearTimer();
    if (this.store && this.state !== 'done') {
      this.store.abort().catch(() => {});
    }
  }
}
