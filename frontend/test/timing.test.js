import { describe, expect, it } from 'vitest';
import { refreshAt, refreshDelayMs, refreshOverdue, retryDelayMs } from '../src/lib/timing.js';

describe('refreshDelayMs', () => {
  it('refreshes a 15-minute token one minute before it expires', () => {
    expect(refreshDelayMs(900)).toBe(840_000);
  });

  it('refreshes a short-lived token a fifth of its life early', () => {
    expect(refreshDelayMs(30)).toBe(24_000);
    expect(refreshDelayMs(100)).toBe(80_000);
  });

  it('never waits less than the minimum, even for a token that is gone', () => {
    expect(refreshDelayMs(0)).toBe(1_000);
    expect(refreshDelayMs(-5)).toBe(1_000);
    expect(refreshDelayMs(1)).toBe(1_000);
    expect(refreshDelayMs(0.5, { minMs: 250 })).toBe(400);
  });

  it('treats a missing or non-numeric lifetime as expired', () => {
    expect(refreshDelayMs(undefined)).toBe(1_000);
    expect(refreshDelayMs('soon')).toBe(1_000);
    expect(refreshDelayMs(NaN)).toBe(1_000);
  });

  it('accepts the lifetime as a numeric string', () => {
    expect(refreshDelayMs('900')).toBe(840_000);
  });

  it('always refreshes before the token expires for any sane lifetime', () => {
    for (const s of [5, 10, 60, 300, 900, 3600, 86_400]) {
      const d = refreshDelayMs(s);
      expect(d).toBeLessThan(s * 1000);
      expect(d).toBeGreaterThanOrEqual(s * 1000 * 0.8 - 1);
    }
  });
});

describe('refreshAt and refreshOverdue', () => {
  it('gives the moment to refresh from now', () => {
    expect(refreshAt(900, 1_000_000)).toBe(1_840_000);
  });

  it('says a refresh is overdue once its moment has passed (a phone that slept)', () => {
    const due = refreshAt(900, 0);
    expect(refreshOverdue(due, due - 1)).toBe(false);
    expect(refreshOverdue(due, due)).toBe(true);
    expect(refreshOverdue(due, due + 3_600_000)).toBe(true);
    expect(refreshOverdue(0, 5)).toBe(true);
  });
});

describe('retryDelayMs', () => {
  it('backs off exponentially up to a minute', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n))).toEqual([2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    expect(retryDelayMs(1000)).toBe(60_000);
  });

  it('treats a bad attempt number as the first', () => {
    expect(retryDelayMs(-3)).toBe(2000);
    expect(retryDelayMs(undefined)).toBe(2000);
  });
});
