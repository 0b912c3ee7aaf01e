// transfer-fakes.js: fakes for the transfer tests (not a test file itself):
// a pair of data channels that deliver asynchronously and drain at a set
// rate, so backpressure and ordering are exercised in node.
import { utf8Length } from '../src/transfer/protocol.js';

export const SEND_QUEUE_LIMIT = 16 * 1024 * 1024;

// One end of a channel. send() queues (a copy of) the data; pump() delivers
// up to `rate` bytes to the other end each macrotask, firing
// 'bufferedamountlow' when bufferedAmount crosses the threshold, as the
// browser does. Like Chromium, it throws past 16 MiB queued.
export class FakeChannel extends EventTarget {
  constructor({ rate = 1024 * 1024, label = 'fake' } = {}) {
    super();
    this.label = label;
    this.rate = rate;
    this.readyState = 'open';
    this.bufferedAmount = 0;
    this.bufferedAmountLowThreshold = 0;
    this.maxBuffered = 0;
    this.sentFrames = 0;
    this.queue = [];
    this.peer = null;
    this.scheduled = false;
    this.paused = false;
    this.onmessage = null;
    this.tamper = null; // (data) => data, to corrupt frames in transit
  }

  send(data) {
    if (this.readyState !== 'open') {
      const e = new Error('InvalidStateError: channel not open');
      e.name = 'InvalidStateError';
      throw e;
    }
    let copy;
    let n;
    if (typeof data === 'string') {
      copy = data;
      n = utf8Length(data);
    } else if (data instanceof ArrayBuffer) {
      copy = data.slice(0);
      n = data.byteLength;
    } else if (ArrayBuffer.isView(data)) {
      copy = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
      n = data.byteLength;
    } else {
      throw new TypeError('cannot send that');
    }
    if (this.bufferedAmount + n > SEND_QUEUE_LIMIT) {
      const e = new Error('OperationError: send queue is full');
      e.name = 'OperationError';
      throw e;
    }
    this.bufferedAmount += n;
    this.maxBuffered = Math.max(this.maxBuffered, this.bufferedAmount);
    this.sentFrames += 1;
    this.queue.push({ data: copy, n });
    this.schedule();
  }

  schedule() {
    if (this.scheduled || this.paused) {
      return;
    }
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.pump();
    }, 0);
  }

  pump() {
    if (this.readyState !== 'open' || this.paused) {
      return;
    }
    let budget = this.rate;
    while (this.queue.length > 0 && budget > 0) {
      const { data, n } = this.queue.shift();
      budget -= n;
      const before = this.bufferedAmount;
      this.bufferedAmount -= n;
      if (before > this.bufferedAmountLowThreshold &&
        this.bufferedAmount <= this.bufferedAmountLowThreshold) {
        this.dispatchEvent(new Event('bufferedamountlow'));
      }
      const out = this.tamper ? this.tamper(data) : data;
      if (out !== undefined) {
        this.peer?.deliver(out);
      }
    }
    if (this.queue.length > 0) {
      this.schedule();
    }
  }

  deliver(data) {
    const ev = new Event('message');
    ev.data = data;
    this.dispatchEvent(ev);
    this.onmessage?.(ev);
  }

  close() {
    for (const ch of [this, this.peer]) {
      if (ch && ch.readyState !== 'closed') {
        ch.readyState = 'closed';
        ch.queue = [];
        ch.dispatchEvent(new Event('close'));
        ch.onclose?.(new Event('close'));
      }
    }
  }

  open() {
    this.readyState = 'open';
    this.dispatchEvent(new Event('open'));
    this.onopen?.(new Event('open'));
  }
}

export function channelPair(opts = {}) {
  const a = new FakeChannel({ ...opts, label: 'a' });
  const b = new FakeChannel({ ...opts, label: 'b' });
  a.peer = b;
  b.peer = a;
  return [a, b];
}

// Deterministic pseudo-random bytes (xorshift32).
export function bytes(n, seed = 1) {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i += 1) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export const tick = () => new Promise((r) => setTimeout(r, 0));

// Wait until cond() holds (polling every macrotask), at most `ms`.
export async function until(cond, ms = 5000) {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) {
      throw new Error('timed out waiting for a condition');
    }
    await tick();
  }
}

// Byte-equality of two views (vitest's toEqual walks typed arrays element
// by element: far too slow for megabytes).
export function sameBytes(a, b) {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength)
    .equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/* ---- a fake signaling server and fake WebRTC for the controller ---------- */

// The relay of services/signaling for one match: what a socket emits with
// an ack reaches the other member's socket as {matchId, fromUserId, ...}.
// `refuse(event, payload)` may return an error object to refuse with.
export class FakeRelay {
  constructor() {
    this.sockets = new Map(); // userId -> FakeSocket
    this.log = [];
    this.refuse = () => null;
  }

  socket(userId) {
    const s = new FakeSocket(this, userId);
    this.sockets.set(userId, s);
    return s;
  }
}

export class FakeSocket {
  constructor(relay, userId) {
    this.relay = relay;
    this.userId = userId;
    this.handlers = new Map();
  }

  on(ev, fn) {
    if (!this.handlers.has(ev)) {
      this.handlers.set(ev, new Set());
    }
    this.handlers.get(ev).add(fn);
  }

  off(ev, fn) {
    this.handlers.get(ev)?.delete(fn);
  }

  listenerCount(ev) {
    return this.handlers.get(ev)?.size ?? 0;
  }

  timeout() {
    return { emit: (ev, payload, cb) => this.emitAck(ev, payload, cb) };
  }

  emit(ev, payload, cb) {
    this.emitAck(ev, payload, (err, ack) => cb?.(ack));
  }

  emitAck(ev, payload, cb) {
    this.relay.log.push({ from: this.userId, ev, payload });
    setTimeout(() => {
      const refusal = this.relay.refuse(ev, payload, this.userId);
      if (refusal) {
        cb(null, { ok: false, error: refusal });
        return;
      }
      const other = [...this.relay.sockets.values()]
        .find((s) => s !== this && s.attached !== false);
      if (!other) {
        cb(null, { ok: false, error: { code: 'partner_offline',
          message: 'partner offline' } });
        return;
      }
      cb(null, { ok: true });
      const { matchId, ...rest } = payload;
      for (const fn of other.handlers.get(ev) ?? []) {
        fn({ matchId, fromUserId: this.userId, ...rest });
      }
    }, 0);
  }
}

// Fake RTCPeerConnections that "connect" once the offerer has the answer:
// the channels become a FakeChannel pair.
export function fakeWebRTC({ connect = true, rate = 4 * 1024 * 1024 } = {}) {
  const bySdp = new Map();
  const made = [];
  let n = 0;
  class FakePC {
    constructor(config) {
      this.config = config;
      this.sctp = { maxMessageSize: 262144 };
      this.connectionState = 'new';
      this.added = [];
      this.closed = false;
      this.channel = null;
      this.remote = null;
      made.push(this);
    }

    createDataChannel(label, opts) {
      this.channel = new FakeChannel({ rate, label });
      this.channel.readyState = 'connecting';
      this.channel.options = opts;
      return this.channel;
    }

    async createOffer() {
      n += 1;
      return { type: 'offer', sdp: `offer-${n}` };
    }

    async createAnswer() {
      n += 1;
      return { type: 'answer', sdp: `answer-${n}` };
    }

    async setLocalDescription(d) {
      this.local = d;
      bySdp.set(d.sdp, this);
      setTimeout(() => {
        for (let i = 0; i < 2; i += 1) {
          const c = { candidate: `candidate:${i} 1 udp 1 127.0.0.1 ${5000 + i} typ host`,
            sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'u' };
          this.onicecandidate?.({ candidate: { ...c, toJSON: () => c } });
        }
        this.onicecandidate?.({ candidate: null });
      }, 0);
    }

    async setRemoteDescription(d) {
      this.remote = d;
      const peer = bySdp.get(d.sdp);
      if (d.type === 'answer' && connect && peer && !this.closed) {
        setTimeout(() => this.link(peer), 0);
      }
    }

    link(peer) {
      const mine = this.channel;
      const theirs = new FakeChannel({ rate, label: 'answerer' });
      mine.peer = theirs;
      theirs.peer = mine;
      this.peer = peer;
      peer.peer = this;
      this.connectionState = 'connected';
      peer.connectionState = 'connected';
      peer.channel = theirs;
      mine.open();
      peer.ondatachannel?.({ channel: theirs });
    }

    async addIceCandidate(c) {
      this.added.push(c);
    }

    close() {
      this.closed = true;
      this.connectionState = 'closed';
      this.channel?.close();
    }
  }
  return { RTCPeerConnection: FakePC, made };
}
