import { describe, expect, test } from 'vitest';

import {
  AbortedError, ChannelClosedError, HIGH_WATER_MARK, LOW_WATER_MARK,
  SEND_QUEUE_LIMIT, sendWithBackpressure, waitForDrain,
} from '../src/transfer/backpressure.js';
import { readChunks } from '../src/transfer/chunking.js';
import { bytes, channelPair, FakeChannel, sameBytes } from './transfer-fakes.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function* repeat(chunk, n) {
  for (let i = 0; i < n; i += 1) {
    yield chunk;
  }
}

describe('the backpressure loop', () => {
  test('the marks are the measured ones and fit in Chromium\'s queue', () => {
    expect(LOW_WATER_MARK).toBe(4 * MiB);
    expect(HIGH_WATER_MARK).toBe(8 * MiB);
    expect(SEND_QUEUE_LIMIT).toBe(16 * MiB);
  });

  test('40 MiB through a slow channel never buffer past the high mark', async () => {
    const [a, b] = channelPair({ rate: 1 * MiB });
    let got = 0;
    b.onmessage = (e) => {
      got += e.data.byteLength;
    };
    const chunk = new Uint8Array(256 * KiB);
    const sentBefore = [];
    const sent = await sendWithBackpressure(a, repeat(chunk, 160), {
      onSent: () => sentBefore.push(a.bufferedAmount),
    });
    expect(sent).toBe(40 * MiB);
    expect(a.maxBuffered).toBeLessThanOrEqual(HIGH_WATER_MARK);
    // it did fill the queue (else it would not be fast on a real one)
    expect(a.maxBuffered).toBeGreaterThan(HIGH_WATER_MARK - 256 * KiB - 1);
    expect(Math.max(...sentBefore)).toBeLessThanOrEqual(HIGH_WATER_MARK);
    expect(a.bufferedAmountLowThreshold).toBe(LOW_WATER_MARK);
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toBe(40 * MiB);
  });

  test('a channel that drains fast never makes it wait', async () => {
    const [a] = channelPair({ rate: 64 * MiB });
    await sendWithBackpressure(a, repeat(new Uint8Array(256 * KiB), 64));
    expect(a.maxBuffered).toBeLessThanOrEqual(HIGH_WATER_MARK);
  });

  test('without backpressure the fake fails like Chromium does past 16 MiB', () => {
    const a = new FakeChannel();
    a.paused = true;
    const chunk = new Uint8Array(256 * KiB);
    expect(() => {
      for (let i = 0; i < 100; i += 1) {
        a.send(chunk);
      }
    }).toThrow(/send queue is full/);
    expect(a.bufferedAmount).toBe(16 * MiB);
  });

  test('bytes arrive complete and in order, other marks too', async () => {
    const [a, b] = channelPair({ rate: 300 * KiB });
    const data = bytes(3 * MiB + 123, 3);
    const parts = [];
    b.onmessage = (e) => parts.push(new Uint8Array(e.data));
    await sendWithBackpressure(a, readChunks(new Blob([data]), 64 * KiB),
      { low: 256 * KiB, high: 1 * MiB });
    expect(a.maxBuffered).toBeLessThanOrEqual(1 * MiB);
    await new Promise((r) => setTimeout(r, 100));
    expect(sameBytes(new Uint8Array(await new Blob(parts).arrayBuffer()), data))
      .toBe(true);
  });

  test('a missed bufferedamountlow event is caught by the poll', async () => {
    const a = new FakeChannel();
    a.paused = true;
    a.dispatchEvent = () => true; // swallow every event
    const p = sendWithBackpressure(a, repeat(new Uint8Array(MiB), 12),
      { pollMs: 5 });
    setTimeout(() => {
      a.paused = false;
      a.rate = 64 * MiB;
      a.schedule();
    }, 20);
    await expect(p).resolves.toBe(12 * MiB);
    expect(a.maxBuffered).toBeLessThanOrEqual(HIGH_WATER_MARK);
  });

  test('a channel that closes while waiting rejects', async () => {
    const [a] = channelPair();
    a.paused = true;
    const p = sendWithBackpressure(a, repeat(new Uint8Array(MiB), 20));
    setTimeout(() => a.close(), 10);
    await expect(p).rejects.toBeInstanceOf(ChannelClosedError);
  });

  test('aborting stops it, and no send follows', async () => {
    const [a] = channelPair();
    a.paused = true;
    const ac = new AbortController();
    const p = sendWithBackpressure(a, repeat(new Uint8Array(MiB), 20),
      { signal: ac.signal });
    setTimeout(() => ac.abort(), 10);
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    const frames = a.sentFrames;
    a.paused = false;
    a.schedule();
    await new Promise((r) => setTimeout(r, 20));
    expect(a.sentFrames).toBe(frames);
  });

  test('bad marks and oversized chunks are refused', async () => {
    const [a] = channelPair();
    await expect(sendWithBackpressure(a, [], { low: 8 * MiB, high: 4 * MiB }))
      .rejects.toThrow(RangeError);
    await expect(sendWithBackpressure(a, [], { high: 17 * MiB }))
      .rejects.toThrow(RangeError);
    await expect(sendWithBackpressure(a, [new Uint8Array(5 * MiB)]))
      .rejects.toThrow(/does not fit/);
  });

  test('waitForDrain resolves at once below the mark', async () => {
    const a = new FakeChannel();
    await expect(waitForDrain(a, 10)).resolves.toBeUndefined();
    a.readyState = 'closed';
    await expect(waitForDrain(a, 10)).rejects.toBeInstanceOf(ChannelClosedError);
  });
});
