import { describe, expect, test, vi } from 'vitest';

import {
  createMeter, ETA_WARMUP_MS, formatBytes, formatEta, formatSpeed, throttle,
} from '../src/transfer/progress.js';

// A meter on a fake clock.
function meter(total, opts = {}) {
  let t = 0;
  const m = createMeter(total, { now: () => t, ...opts });
  return { m, at: (ms) => { t = ms; } };
}

const MB = 1e6;

describe('progress, speed, time left', () => {
  test('starts at zero with no speed and no time left', () => {
    const { m } = meter(100 * MB);
    const s = m.snapshot();
    expect(s).toMatchObject({ bytes: 0, total: 100 * MB, fraction: 0,
      speed: null, eta: null });
  });

  test('a steady rate is measured exactly', () => {
    const { m, at } = meter(100 * MB);
    for (let i = 1; i <= 20; i += 1) {
      at(i * 250);
      m.update(i * 250 * 10_000); // 10 MB/s
    }
    const s = m.snapshot();
    expect(s.speed).toBeCloseTo(10 * MB, 0);
    expect(s.fraction).toBeCloseTo(0.5, 5);
    expect(s.eta).toBeCloseTo(5, 5);
    expect(s.averageSpeed).toBeCloseTo(10 * MB, 0);
  });

  test('speed is smoothed: a jump shows partly, then converges', () => {
    const { m, at } = meter(1000 * MB);
    let bytes = 0;
    let t = 0;
    const step = (rate, ms) => {
      for (let k = 0; k < ms / 250; k += 1) {
        t += 250;
        bytes += rate * 0.25;
        at(t);
        m.update(bytes);
      }
    };
    step(10 * MB, 5000);
    expect(m.snapshot().speed).toBeCloseTo(10 * MB, 0);
    step(30 * MB, 500);
    const mid = m.snapshot().speed;
    expect(mid).toBeGreaterThan(12 * MB);
    expect(mid).toBeLessThan(25 * MB);
    step(30 * MB, 10000);
    expect(m.snapshot().speed / MB).toBeCloseTo(30, 0);
  });

  test('samples shorter than the minimum window do not move the speed', () => {
    const { m, at } = meter(10 * MB);
    at(10);
    m.update(5 * MB); // a burst 10 ms in: not a 500 MB/s speed
    expect(m.snapshot().speed).toBeNull();
    at(300);
    m.update(5 * MB);
    expect(m.snapshot().speed).toBeCloseTo(5 * MB / 0.3, -3);
  });

  test('no time left during the warm-up, even with a speed', () => {
    const { m, at } = meter(100 * MB);
    at(500);
    m.update(5 * MB);
    expect(m.snapshot().speed).not.toBeNull();
    expect(m.snapshot().eta).toBeNull();
    at(ETA_WARMUP_MS);
    m.update(10 * MB);
    expect(m.snapshot().eta).not.toBeNull();
  });

  test('no time left while the speed is zero (a stall)', () => {
    const { m, at } = meter(100 * MB);
    at(2000);
    m.update(0);
    expect(m.snapshot().speed).toBe(0);
    expect(m.snapshot().eta).toBeNull();
  });

  test('done is 100% with no time left; bytes never go back or past total', () => {
    const { m, at } = meter(1000);
    at(300);
    m.update(600);
    at(600);
    m.update(500);
    expect(m.snapshot().bytes).toBe(600);
    at(900);
    m.update(5000);
    expect(m.snapshot()).toMatchObject({ bytes: 1000, fraction: 1, eta: 0 });
  });

  test('an empty file is complete at once', () => {
    const { m } = meter(0);
    expect(m.update(0)).toMatchObject({ fraction: 1, eta: 0 });
  });
});

describe('formatting', () => {
  test('bytes in decimal units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1500)).toBe('1.50 kB');
    expect(formatBytes(20 * MB)).toBe('20.0 MB');
    expect(formatBytes(209_715_200)).toBe('210 MB');
    expect(formatBytes(2.5e9)).toBe('2.50 GB');
    expect(formatBytes(-1)).toBe('–');
  });
  test('speed in MB/s', () => {
    expect(formatSpeed(35.2 * MB)).toBe('35.2 MB/s');
    expect(formatSpeed(0.5 * MB)).toBe('0.50 MB/s');
    expect(formatSpeed(null)).toBe('– MB/s');
  });
  test('time left', () => {
    expect(formatEta(null)).toBe('estimating…');
    expect(formatEta(0.2)).toBe('1 s');
    expect(formatEta(59)).toBe('59 s');
    expect(formatEta(125)).toBe('2 min 05 s');
    expect(formatEta(3720)).toBe('1 h 02 min');
    expect(formatEta(Infinity)).toBe('estimating…');
  });
});

describe('throttle', () => {
  test('runs at most once per interval and always runs the last call', () => {
    vi.useFakeTimers();
    try {
      let t = 0;
      const calls = [];
      const f = throttle((x) => calls.push(x), 200, { now: () => t });
      f(1);
      f(2);
      f(3);
      expect(calls).toEqual([1]);
      t = 200;
      vi.advanceTimersByTime(200);
      expect(calls).toEqual([1, 3]);
      f(4);
      f.cancel();
      t = 1000;
      vi.advanceTimersByTime(1000);
      expect(calls).toEqual([1, 3]);
      f(5);
      expect(calls).toEqual([1, 3, 5]);
      f(6);
      f.flush();
      expect(calls).toEqual([1, 3, 5, 6]);
    } finally {
      vi.useRealTimers();
    }
  });
});
