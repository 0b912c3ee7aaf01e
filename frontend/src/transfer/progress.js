// progress.js: progress, speed and time-left of a transfer (pure;
// unit-tested in test/transfer-progress.test.js). Speed is smoothed with an
// exponentially weighted moving average over time, so it neither jumps with
// every chunk nor lags for long; the time left stays null until the speed
// means something.

// Smoothing time constant: a change of speed shows at 63% after this long.
export const SPEED_TAU_MS = 2000;
// Rate samples are taken over at least this long (chunks arrive in bursts).
export const MIN_SAMPLE_MS = 250;
// No time-left estimate before this long, nor before this share is done.
export const ETA_WARMUP_MS = 1000;
export const ETA_MIN_FRACTION = 0.01;

// A meter for `total` bytes; `now` gives milliseconds (performance.now).
// update(bytes) records the bytes done so far (monotonic) and returns
// snapshot(): {bytes, total, fraction, speed, eta, elapsedMs, averageSpeed}
// with speed and averageSpeed in bytes/s (null until known) and eta in
// seconds (null until meaningful, 0 when done).
export function createMeter(total, { now = defaultNow, tauMs = SPEED_TAU_MS,
  minSampleMs = MIN_SAMPLE_MS, warmupMs = ETA_WARMUP_MS } = {}) {
  const start = now();
  let bytes = 0;
  let speed = null;
  let sampleAt = start;
  let sampleBytes = 0;
  let lastAt = start;

  function snapshot() {
    const elapsedMs = lastAt - start;
    const fraction = total > 0 ? Math.min(1, bytes / total) : 1;
    let eta = null;
    if (bytes >= total) {
      eta = 0;
    } else if (speed !== null && speed > 0 && elapsedMs >= warmupMs &&
      fraction >= ETA_MIN_FRACTION) {
      eta = (total - bytes) / speed;
    }
    return {
      bytes,
      total,
      fraction,
      speed,
      eta,
      elapsedMs,
      averageSpeed: elapsedMs > 0 ? bytes / (elapsedMs / 1000) : null,
    };
  }

  function update(done) {
    const t = now();
    lastAt = t;
    if (Number.isFinite(done) && done > bytes) {
      bytes = Math.min(done, total);
    }
    const dt = t - sampleAt;
    if (dt >= minSampleMs) {
      const rate = (bytes - sampleBytes) / (dt / 1000);
      if (speed === null) {
        speed = rate;
      } else {
        const a = 1 - Math.exp(-dt / tauMs);
        speed += a * (rate - speed);
      }
      sampleAt = t;
      sampleBytes = bytes;
    }
    return snapshot();
  }

  return { update, snapshot };
}

function defaultNow() {
  return globalThis.performance?.now?.() ?? Date.now();
}

const MB = 1000 * 1000;

// "734 B", "12.3 kB", "45.6 MB", "1.23 GB" (decimal units, as phones show
// file sizes).
export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) {
    return '–';
  }
  if (n < 1000) {
    return `${Math.round(n)} B`;
  }
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u += 1;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[u]}`;
}

// "35.2 MB/s" (null: "– MB/s").
export function formatSpeed(bytesPerSecond) {
  if (bytesPerSecond === null || !Number.isFinite(bytesPerSecond)) {
    return '– MB/s';
  }
  const v = bytesPerSecond / MB;
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} MB/s`;
}

// "8 s", "2 min 05 s", "1 h 02 min"; null: "estimating…".
export function formatEta(seconds) {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) {
    return 'estimating…';
  }
  const s = Math.ceil(seconds);
  if (s < 60) {
    return `${s} s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  }
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

// A throttle for UI updates: fn runs at most every `ms` (the last call
// always runs, late). flush() runs a pending call now; cancel() drops it.
export function throttle(fn, ms, { setTimer = setTimeout,
  clearTimer = clearTimeout, now = defaultNow } = {}) {
  let last = -Infinity;
  let timer = null;
  let pending = null;
  const run = () => {
    timer = null;
    last = now();
    const args = pending;
    pending = null;
    fn(...args);
  };
  const wrapped = (...args) => {
    pending = args;
    if (timer !== null) {
      return;
    }
    const wait = last + ms - now();
    if (wait <= 0) {
      run();
    } else {
      timer = setTimer(run, wait);
    }
  };
  wrapped.flush = () => {
    if (timer !== null) {
      clearTimer(timer);
      run();
    }
  };
  wrapped.cancel = () => {
    if (timer !== null) {
      clearTimer(timer);
    }
    timer = null;
    pending = null;
  };
  return wrapped;
}
