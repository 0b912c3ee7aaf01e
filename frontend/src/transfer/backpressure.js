// backpressure.js: the sender's loop that keeps an RTCDataChannel's send
// queue between two marks (pure: works on anything shaped like a channel;
// unit-tested in test/transfer-backpressure.test.js with a fake one).
//
// Chromium queues at most 16 MiB per channel and throws "send queue is
// full" past it. Measured here (../../../../shared/FACTS.md), the best
// throughput comes from 256 KiB chunks, `bufferedAmountLowThreshold` at
// 4 MiB and refilling to 8 MiB: the queue never runs dry while the loop
// waits, and never gets near the limit.

export const LOW_WATER_MARK = 4 * 1024 * 1024;
export const HIGH_WATER_MARK = 8 * 1024 * 1024;
export const SEND_QUEUE_LIMIT = 16 * 1024 * 1024;
// Re-check bufferedAmount this often while waiting, in case a
// bufferedamountlow event is missed (it fires only on the crossing).
export const DRAIN_POLL_MS = 500;

export class ChannelClosedError extends Error {
  constructor(message = 'the data channel closed') {
    super(message);
    this.name = 'ChannelClosedError';
  }
}

export class AbortedError extends Error {
  constructor(message = 'the transfer was stopped') {
    super(message);
    this.name = 'AbortedError';
  }
}

const isOpen = (ch) => ch.readyState === undefined || ch.readyState === 'open';

// Resolves once channel.bufferedAmount <= low; rejects with
// ChannelClosedError if the channel closes first, AbortedError when
// `signal` aborts.
export function waitForDrain(channel, low, { signal, pollMs = DRAIN_POLL_MS,
  setTimer = setTimeout, clearTimer = clearTimeout } = {}) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortedError());
      return;
    }
    if (!isOpen(channel)) {
      reject(new ChannelClosedError());
      return;
    }
    if (channel.bufferedAmount <= low) {
      resolve();
      return;
    }
    let timer = null;
    const done = (err) => {
      channel.removeEventListener('bufferedamountlow', check);
      channel.removeEventListener('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (timer !== null) {
        clearTimer(timer);
      }
      if (err) {
        reject(err);
      } else {
        resolve();
      }
    };
    function check() {
      if (!isOpen(channel)) {
        done(new ChannelClosedError());
      } else if (channel.bufferedAmount <= low) {
        done(null);
      } else {
        timer = setTimer(check, pollMs);
      }
    }
    function onClose() {
      done(new ChannelClosedError());
    }
    function onAbort() {
      done(new AbortedError());
    }
    channel.addEventListener('bufferedamountlow', check);
    channel.addEventListener('close', onClose);
    signal?.addEventListener('abort', onAbort);
    timer = setTimer(check, pollMs);
  });
}

// Send every chunk of `chunks` (an iterable or async iterable of
// Uint8Array/ArrayBuffer) on `channel`, never letting bufferedAmount go
// past `high`: when the next chunk would, wait until the queue has drained
// to `low`, then refill. Calls onSent(byteLength) after each send.
// Resolves with the number of bytes sent; rejects with ChannelClosedError,
// AbortedError, or whatever reading a chunk threw.
export async function sendWithBackpressure(channel, chunks, { low = LOW_WATER_MARK,
  high = HIGH_WATER_MARK, signal, onSent = () => {}, pollMs,
  setTimer, clearTimer } = {}) {
  if (!(low >= 0 && high > low && high <= SEND_QUEUE_LIMIT)) {
    throw new RangeError(`bad water marks: low ${low}, high ${high}`);
  }
  channel.bufferedAmountLowThreshold = low;
  let sent = 0;
  for await (const chunk of chunks) {
    const n = chunk.byteLength;
    if (n > high - low) {
      throw new RangeError(`a chunk of ${n} bytes does not fit between ` +
        'the water marks');
    }
    while (channel.bufferedAmount + n > high) {
      await waitForDrain(channel, low, { signal, pollMs, setTimer, clearTimer });
    }
    if (signal?.aborted) {
      throw new AbortedError();
    }
    if (!isOpen(channel)) {
      throw new ChannelClosedError();
    }
    channel.send(chunk);
    sent += n;
    onSent(n);
  }
  return sent;
}
