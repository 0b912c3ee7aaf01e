// The two ends of a transfer against each other over fake channels: the
// whole protocol, cancels from either side, damaged data, protocol errors,
// lost connections and timeouts.
import crypto from 'node:crypto';

import { describe, expect, test } from 'vitest';

import { encode } from '../src/transfer/protocol.js';
import { createHasher } from '../src/transfer/hash.js';
import { ReceiverSession, SenderSession } from '../src/transfer/session.js';
import { createSink } from '../src/transfer/sink.js';
import { bytes, channelPair, sameBytes, until } from './transfer-fakes.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const sha = (d) => crypto.createHash('sha256').update(d).digest('hex');
const memorySink = (info) => createSink(info, { storage: {} });

// A sink that records what happened to it.
function spySink(inner = null) {
  const log = { writes: 0, aborted: false, closed: false };
  return {
    log,
    factory: async (info) => {
      const s = inner ?? await memorySink(info);
      return {
        kind: 'spy',
        get error() {
          return s.error;
        },
        write(c) {
          log.writes += 1;
          s.write(c);
        },
        async close() {
          log.closed = true;
          return s.close();
        },
        async abort() {
          log.aborted = true;
          return s.abort();
        },
        discard: async () => {},
      };
    },
  };
}

// A sender and a receiver joined by a pair of fake channels.
function setup({ size = 2 * MiB + 5, rate = 256 * KiB, chunkSize = 64 * KiB,
  sink = memorySink, marks = {}, sender: sOpts = {}, receiver: rOpts = {} } = {}) {
  const data = bytes(size, size + 11);
  const file = new File([data], 'heat 3.mp4', { type: 'video/mp4' });
  const [a, b] = channelPair({ rate });
  const states = { send: [], receive: [] };
  const fatal = { send: 0, receive: 0 };
  const sentByReceiver = [];
  const sender = new SenderSession({ channel: a, file, id: 'T1', chunkSize,
    createHasher, ...marks, ...sOpts,
    onChange: (s, { progressOnly }) => {
      if (!progressOnly) {
        states.send.push(s.state);
      }
    },
    onFatal: () => {
      fatal.send += 1;
    } });
  const receiver = new ReceiverSession({
    send: (d) => {
      sentByReceiver.push(d);
      b.send(d);
    },
    createSink: sink, createHasher, ...rOpts,
    onChange: (s, { progressOnly }) => {
      if (!progressOnly) {
        states.receive.push(s.state);
      }
    },
    onFatal: () => {
      fatal.receive += 1;
    },
  });
  a.onmessage = (e) => sender.handle(e.data);
  b.onmessage = (e) => receiver.handle(e.data);
  a.addEventListener('close', () => sender.channelClosed());
  b.addEventListener('close', () => receiver.channelClosed());
  return { data, file, a, b, sender, receiver, states, fatal, sentByReceiver };
}

const textsOf = (list) => list.filter((d) => typeof d === 'string')
  .map((d) => JSON.parse(d));

describe('a whole transfer', () => {
  test('metadata first, then the bytes, verified by SHA-256 on both sides', async () => {
    const t = setup();
    await t.sender.start();
    await until(() => t.receiver.state === 'offered');
    expect(t.receiver.snapshot().file).toEqual({ name: 'heat 3.mp4',
      size: t.data.byteLength, type: 'video/mp4' });
    expect(t.receiver.chunkSize).toBe(64 * KiB);
    await t.receiver.accept();
    await until(() => t.sender.terminal && t.receiver.terminal);
    expect(t.sender.state).toBe('done');
    expect(t.receiver.state).toBe('done');
    expect(t.states.send).toEqual(['offered', 'sending', 'verifying', 'done']);
    expect(t.states.receive).toEqual(['offered', 'accepting', 'receiving',
      'verifying', 'done']);
    const want = sha(t.data);
    expect(t.sender.sha256).toBe(want);
    expect(t.receiver.sha256).toBe(want);
    const got = t.receiver.snapshot().result;
    expect(got.name).toBe('heat 3.mp4');
    expect(got.type).toBe('video/mp4');
    expect(sameBytes(new Uint8Array(await got.arrayBuffer()), t.data)).toBe(true);
    expect(t.receiver.snapshot().progress).toMatchObject({ fraction: 1,
      eta: 0 });
    expect(t.fatal).toEqual({ send: 0, receive: 0 });
    expect(textsOf(t.sentByReceiver).map((m) => m.t))
      .toEqual(['accept', 'verdict']);
  });

  test('an empty file goes through too', async () => {
    const t = setup({ size: 0 });
    await t.sender.start();
    await until(() => t.receiver.state === 'offered');
    await t.receiver.accept();
    await until(() => t.sender.terminal && t.receiver.terminal);
    expect([t.sender.state, t.receiver.state]).toEqual(['done', 'done']);
    expect(t.receiver.sha256).toBe(sha(new Uint8Array(0)));
  });

  test('the send queue stays under the high mark all the way', async () => {
    const t = setup({ size: 6 * MiB, rate: 128 * KiB,
      marks: { low: 512 * KiB, high: 1 * MiB } });
    await t.sender.start();
    await until(() => t.receiver.state === 'offered');
    await t.receiver.accept();
    await until(() => t.sender.terminal && t.receiver.terminal, 20000);
    expect(t.receiver.state).toBe('done');
    expect(t.a.maxBuffered).toBeLessThanOrEqual(1 * MiB);
  });

  test('decline: the sender learns why, nothing is sent', async () => {
    const t = setup();
    await t.sender.start();
    await until(() => t.receiver.state === 'offered');
    t.receiver.decline('no space');
    await until(() => t.sender.terminal);
    expect(t.sender.state).toBe('declined');
    expect(t.sender.reason).toBe('no space');
    expect(t.receiver.state).toBe('declined');
    expect(t.a.sentFrames).toBe(1); // the meta only
  });
});

describe('cancel', () => {
  test('by the sender mid-transfer: both cancelled, the partial file dropped', async () => {
    const spy = spySink();
    const t = setup({ size: 8 * MiB, rate: 128 * KiB, sink: spy.factory,
      marks: { low: 512 * KiB, high: 1 * MiB } });
    await t.sender.start();
    await until(() => t.receiver.state === 'offered');
    await t.receiver.accept();
    await until(() => t.receiver.received > 1 * MiB);
    t.sender.cancel('Changed my mind');
    expect(t.sender.state).toBe('cancelled');
    expect(t.sender.cancelledBy).toBe('me');
    await until(() => t.receiver.terminal);
    expect(t.receiver.state).toBe('cancelled');
    expect(t.receiver.cancelledBy).toBe('partner');
    expect(t.receiver.reason).toBe('Changed my mind');
    expect(spy.log.aborted).toBe(true);
    expect(spy.log.closed).toBe(false);
    expect(t.receiver.snapshot().result).toBeNull();
    // the chunks still queued arrive after the cancel and are dropped
    // quietly: no error either way
    await new Promise((r) => setTimeout(r, 50));
    expect(textsOf(t.sentByReceiver).map((m) => m.t)).toEqual(['accept']);
    expect(t.fatal).toEqual({ send: 0, receive: 0 });
    expect(t.receiver.received).toBeLessThan(8 * MiB);
  });

  test('by the receiver mid-transfer: the sender stops sending', async () => {
    const t = setup({ size: 16 * MiB, rate: 128 * KiB,
      marks: { low: 256 * KiB, high: 512 * KiB } });
    await t.sender.start();
    await until(() => t.receiver.state === 'offered');
    await t.receiver.accept();
    await until(() => t.receiver.received > 1 * MiB);
    t.receiver.cancel('Wrong video');
    expect(t.receiver.state).toBe('cancelled');
    await until(() => t.sender.terminal);
    expect(t.sender.state).toBe('cancelled');
    expect(t.sender.cancelledBy).toBe('partner');
    expect(t.sender.reason).toBe('Wrong video');
    const frames = t.a.sentFrames;
    await new Promise((r) => setTimeout(r, 50));
    expect(t.a.sentFrames).toBe(frames);
    expect(t.sender.sent).toBeLessThan(16 * MiB);
  });

  test('by the sender before the receiver answered', async () => {
    const t = setup();
    await t.sender.start();
    await until(() => t.receiver.state === 'offered');
    t.sender.cancel('');
    await until(() => t.receiver.terminal);
    expect(t.receiver.state).toBe('cancelled');
    // accepting afterwards does nothing
    await t.receiver.accept();
    expect(t.receiver.state).toBe('cancelled');
  });

  test('a second cancel, or a cancel after done, changes nothing', async () => {
    const t = setup({ size: 1000 });
    await t.sender.start();
    await until(() => t.receiver.state === 'offered');
    await t.receiver.accept();
    await until(() => t.sender.terminal && t.receiver.terminal);
    t.sender.cancel('late');
    t.receiver.cancel('late');
    expect([t.sender.state, t.receiver.state]).toEqual(['done', 'done']);
  });
});

describe('damaged data', () => {
  test('one flipped bit fails the SHA-256 check on both sides', async () => {
    const spy = spySink();
    const t = setup({ size: 1 * MiB, sink: spy.factory });
    let binary = 0;
    t.a.tamper = (d) => {
      if (typeof d !== 'string' && ++binary === 3) {
        const u = new Uint8Array(d);
        u[100] ^= 1;
      }
      return d;
    };
    await t.sender.start();
    await until(() => t.receiver.state === 'offered');
    await t.receiver.accept();
    await until(() => t.sender.terminal && t.receiver.terminal);
    expect(t.receiver.state).toBe('failed');
    expect(t.receiver.error.code).toBe('hash_mismatch');
    expect(t.receiver.error.message).toMatch(/SHA-256 does not match/);
    expect(t.sender.state).toBe('failed');
    expect(t.sender.error.code).toBe('hash_mismatch');
    expect(spy.log.aborted).toBe(true);
    expect(t.receiver.snapshot().result).toBeNull();
    const verdict = textsOf(t.sentByReceiver).find((m) => m.t === 'verdict');
    expect(verdict.ok).toBe(false);
  });
});

describe('protocol errors: clear, answered with `error`, never a hang', () => {
  // A receiver fed by hand; returns it and what it sent back.
  function lone(opts = {}) {
    const out = [];
    let fatal = 0;
    const r = new ReceiverSession({ send: (d) => out.push(d),
      createSink: memorySink, createHasher, onFatal: () => {
        fatal += 1;
      }, ...opts });
    return { r, out, fatal: () => fatal };
  }
  const meta = (over = {}) => encode('meta', { id: 'T1', name: 'a.mp4',
    size: 1000, type: 'video/mp4', chunkSize: 400, ...over });

  async function accepted() {
    const x = lone();
    x.r.handle(meta());
    await x.r.accept();
    expect(x.r.state).toBe('receiving');
    return x;
  }

  function expectError(x, code) {
    expect(x.r.state).toBe('failed');
    expect(x.r.error.code).toBe(code);
    expect(x.fatal()).toBe(1);
    const last = JSON.parse(x.out[x.out.length - 1]);
    expect(last).toMatchObject({ v: 1, t: 'error', code });
    expect(typeof last.message).toBe('string');
  }

  test('text that is not JSON', () => {
    const x = lone();
    x.r.handle('hello?');
    expectError(x, 'malformed');
  });

  test('another protocol version', () => {
    const x = lone();
    x.r.handle(JSON.stringify({ v: 2, t: 'meta' }));
    expectError(x, 'unsupported_version');
  });

  test('a file announced as text/html is received as octet-stream', () => {
    const x = lone();
    x.r.handle(meta({ name: 'clip.html', type: 'text/html' }));
    expect(x.r.snapshot().file).toEqual({ name: 'clip.html', size: 1000,
      type: 'application/octet-stream' });
  });

  test('binary data before accept', () => {
    const x = lone();
    x.r.handle(meta());
    x.r.handle(new ArrayBuffer(10));
    expectError(x, 'unexpected_message');
  });

  test('binary data before any metadata', () => {
    const x = lone();
    x.r.handle(new ArrayBuffer(10));
    expectError(x, 'unexpected_message');
  });

  test('an end before any metadata', () => {
    const x = lone();
    x.r.handle(encode('end', { id: 'T1', size: 0, sha256: 'a'.repeat(64) }));
    expectError(x, 'unexpected_message');
  });

  test('a second meta', async () => {
    const x = await accepted();
    x.r.handle(meta());
    expectError(x, 'unexpected_message');
  });

  test('a chunk bigger than announced', async () => {
    const x = await accepted();
    x.r.handle(new ArrayBuffer(401));
    expectError(x, 'too_large');
  });

  test('an empty chunk', async () => {
    const x = await accepted();
    x.r.handle(new ArrayBuffer(0));
    expectError(x, 'too_large');
  });

  test('more bytes than the size', async () => {
    const x = await accepted();
    x.r.handle(new ArrayBuffer(400));
    x.r.handle(new ArrayBuffer(400));
    x.r.handle(new ArrayBuffer(201));
    expectError(x, 'too_large');
  });

  test('an end before all the bytes', async () => {
    const x = await accepted();
    x.r.handle(new ArrayBuffer(400));
    x.r.handle(encode('end', { id: 'T1', size: 1000, sha256: 'a'.repeat(64) }));
    expectError(x, 'size_mismatch');
  });

  test('an end announcing another size', async () => {
    const x = await accepted();
    for (const n of [400, 400, 200]) {
      x.r.handle(new ArrayBuffer(n));
    }
    x.r.handle(encode('end', { id: 'T1', size: 999, sha256: 'a'.repeat(64) }));
    expectError(x, 'size_mismatch');
  });

  test('a message for another transfer', async () => {
    const x = await accepted();
    x.r.handle(encode('cancel', { id: 'T2', reason: '' }));
    expectError(x, 'wrong_transfer');
  });

  test("the peer's error: failed, and no error sent back", async () => {
    const x = await accepted();
    const before = x.out.length;
    x.r.handle(encode('error', { code: 'malformed', message: 'what?' }));
    expect(x.r.state).toBe('failed');
    expect(x.r.error.code).toBe('peer_error');
    expect(x.r.error.message).toMatch(/what\?/);
    expect(x.out.length).toBe(before);
  });

  test('after a failure nothing more is answered', async () => {
    const x = lone();
    x.r.handle('junk');
    const n = x.out.length;
    x.r.handle('more junk');
    x.r.handle(new ArrayBuffer(5));
    expect(x.out.length).toBe(n);
    expect(x.fatal()).toBe(1);
  });

  test('the sender refuses binary data and out-of-order answers', async () => {
    for (const bad of [new ArrayBuffer(3),
      encode('verdict', { id: 'T1', ok: true, sha256: 'a'.repeat(64) }),
      encode('accept', { id: 'T9' }),
      encode('meta', { id: 'T1', name: 'x', size: 1, type: '', chunkSize: 1 })]) {
      const out = [];
      let fatal = 0;
      const ch = { readyState: 'open', bufferedAmount: 0, send: (d) => out.push(d),
        addEventListener() {}, removeEventListener() {} };
      const s = new SenderSession({ channel: ch, file: new File(['abc'], 'a'),
        id: 'T1', chunkSize: 1024, createHasher, onFatal: () => {
          fatal += 1;
        } });
      await s.start();
      s.handle(bad);
      expect(s.state).toBe('failed');
      expect(fatal).toBe(1);
      expect(JSON.parse(out[out.length - 1]).t).toBe('error');
    }
  });

  // Counts of chunks a channel's worker took (the channel in a worker):
  // checked like chunks.
  test('counted chunks: progress, and an end after all of them verifies', async () => {
    const chunks = [bytes(400, 1), bytes(400, 2), bytes(200, 3)];
    const whole = new Uint8Array(1000);
    chunks.forEach((c, i) => whole.set(c, i * 400));
    const x = lone({ createStore: async () => ({ kind: 'worker',
      error: null,
      write() {
        throw new Error('not on this path');
      },
      digest: async () => sha(whole),
      close: async () => new File([whole], 'a.mp4'),
      abort: async () => {},
    }) });
    x.r.handle(meta());
    await x.r.accept();
    x.r.arrived(800, { count: 2, largest: 400, smallest: 400 });
    expect(x.r.received).toBe(800);
    expect(x.r.snapshot().progress.bytes).toBe(800);
    x.r.arrived(200, { count: 1, largest: 200, smallest: 200 });
    x.r.handle(encode('end', { id: 'T1', size: 1000, sha256: sha(whole) }));
    await until(() => x.r.terminal);
    expect(x.r.state).toBe('done');
    expect(JSON.parse(x.out[x.out.length - 1])).toMatchObject({ t: 'verdict',
      ok: true });
  });

  test('counted chunks before accept', () => {
    const x = lone();
    x.r.handle(meta());
    x.r.arrived(10, { count: 1, largest: 10, smallest: 10 });
    expectError(x, 'unexpected_message');
  });

  test('a counted chunk bigger than announced', async () => {
    const x = await accepted();
    x.r.arrived(801, { count: 2, largest: 401, smallest: 400 });
    expectError(x, 'too_large');
  });

  test('a counted empty chunk', async () => {
    const x = await accepted();
    x.r.arrived(400, { count: 2, largest: 400, smallest: 0 });
    expectError(x, 'too_large');
  });

  test('more counted bytes than the size', async () => {
    const x = await accepted();
    x.r.arrived(800, { count: 2, largest: 400, smallest: 400 });
    x.r.arrived(201, { count: 1, largest: 201, smallest: 201 });
    expectError(x, 'too_large');
  });

  test('counts after the end are ignored once failed', async () => {
    const x = await accepted();
    x.r.handle('nonsense');
    expectError(x, 'malformed');
    x.r.arrived(400, { count: 1, largest: 400, smallest: 400 });
    expect(x.fatal()).toBe(1);
  });
});

describe('lost connections and silence', () => {
  test('the channel closing mid-transfer fails both ends', async () => {
    const t = setup({ size: 8 * MiB, rate: 128 * KiB });
    await t.sender.start();
    await until(() => t.receiver.state === 'offered');
    await t.receiver.accept();
    await until(() => t.receiver.received > 1 * MiB);
    t.a.close();
    await until(() => t.sender.terminal && t.receiver.terminal);
    expect(t.sender.state).toBe('failed');
    expect(t.sender.error.code).toBe('connection');
    expect(t.receiver.state).toBe('failed');
    expect(t.receiver.error.code).toBe('connection');
  });

  test('a receiver that gets nothing for the idle time fails', async () => {
    const out = [];
    const r = new ReceiverSession({ send: (d) => out.push(d),
      createSink: memorySink, createHasher, idleMs: 40 });
    r.handle(encode('meta', { id: 'T1', name: 'a', size: 10, type: '',
      chunkSize: 10 }));
    await r.accept();
    await until(() => r.terminal);
    expect(r.state).toBe('failed');
    expect(r.error.code).toBe('timeout');
    expect(JSON.parse(out[out.length - 1])).toMatchObject({ t: 'error',
      code: 'timeout' });
  });

  test('a sender with no verdict after the end fails', async () => {
    const out = [];
    const ch = { readyState: 'open', bufferedAmount: 0, send: (d) => out.push(d),
      addEventListener() {}, removeEventListener() {} };
    const s = new SenderSession({ channel: ch, file: new File(['abcdef'], 'a'),
      id: 'T1', chunkSize: 4, createHasher, verdictTimeoutMs: 40 });
    await s.start();
    s.handle(encode('accept', { id: 'T1' }));
    await until(() => s.state === 'verifying');
    await until(() => s.terminal);
    expect(s.error.code).toBe('timeout');
  });

  test('a sender whose queue does not move fails as stalled', async () => {
    const t = setup({ size: 4 * MiB, marks: { low: 256 * KiB, high: 512 * KiB },
      sender: { stallTimeoutMs: 30 } });
    await t.sender.start();
    await until(() => t.receiver.state === 'offered');
    await t.receiver.accept();
    await until(() => t.receiver.received > 0);
    t.a.paused = true;
    await new Promise((r) => setTimeout(r, 80));
    t.sender.tick();
    await new Promise((r) => setTimeout(r, 80));
    t.sender.tick();
    expect(t.sender.state).toBe('failed');
    expect(t.sender.error.code).toBe('timeout');
  });
});

describe('storage failures', () => {
  test('no sink: the receiver fails and the sender is told', async () => {
    const t = setup({ sink: async () => {
      throw new Error('quota exceeded');
    } });
    await t.sender.start();
    await until(() => t.receiver.state === 'offered');
    await t.receiver.accept();
    expect(t.receiver.state).toBe('failed');
    expect(t.receiver.error.code).toBe('storage');
    expect(t.receiver.error.message).toMatch(/quota exceeded/);
    await until(() => t.sender.terminal);
    expect(t.sender.state).toBe('cancelled');
    expect(t.sender.reason).toMatch(/could not store/);
  });

  test('a write failing mid-way stops the transfer', async () => {
    let writes = 0;
    const bad = {
      kind: 'bad',
      error: null,
      write() {
        writes += 1;
        if (writes === 5) {
          this.error = new Error('disk full');
        }
      },
      close: async () => {
        throw new Error('unreachable');
      },
      abort: async () => {},
    };
    const t = setup({ size: 2 * MiB, sink: async () => bad });
    await t.sender.start();
    await until(() => t.receiver.state === 'offered');
    await t.receiver.accept();
    await until(() => t.sender.terminal && t.receiver.terminal);
    expect(t.receiver.error.code).toBe('storage');
    expect(t.receiver.error.message).toMatch(/disk full/);
    expect(t.sender.state).toBe('cancelled');
  });
});
