// timing.js: when to refresh the access token, and how long to wait
// before trying again after a failure. Pure: tested in node.

// Milliseconds from now until the token obtained now, living `expiresIn`
// seconds, should be refreshed: shortly before it runs out (a fifth of its
// life, at most a minute early), never sooner than `minMs`.
export function refreshDelayMs(expiresIn, { leadMs = 60_000, leadFraction = 0.2, minMs = 1_000 } = {}) {
  const life = Number(expiresIn) * 1000;
  if (!Number.isFinite(life) || life <= 0) return minMs;
  const lead = Math.min(leadMs, life * leadFraction);
  return Math.max(minMs, Math.round(life - lead));
}

// The moment (ms since 1970) the token should be refreshed.
export function refreshAt(expiresIn, now = Date.now(), opts) {
  return now + refreshDelayMs(expiresIn, opts);
}

// Whether a token refreshed on schedule at `dueAt` is now overdue (a tab
// that slept: timers do not run while a phone is locked).
export function refreshOverdue(dueAt, now = Date.now()) {
  return !(dueAt > now);
}

// Exponential backoff for a refresh that failed for want of a network:
// 2 s, 4 s, 8 s ... at most a minute.
export function retryDelayMs(attempt, { baseMs = 2_000, maxMs = 60_000 } = {}) {
  const n = Math.max(0, Math.floor(Number(attempt) || 0));
  return Math.min(maxMs, baseMs * 2 ** Math.min(n, 20));
}
