// cache.js: small in-memory caches of read-mostly answers (rating stats,
// events by id), emptied on logout.
const caches = new Set();

export function createCache(ttlMs = 60_000) {
  const map = new Map();
  const cache = {
    // The cached promise for key, or a new one from load().
    get(key, load, now = Date.now()) {
      const hit = map.get(key);
      if (hit && hit.until > now) return hit.value;
      const value = load();
      map.set(key, { value, until: now + ttlMs });
      // A failure is not remembered.
      Promise.resolve(value).catch(() => {
        if (map.get(key)?.value === value) map.delete(key);
      });
      return value;
    },
    set(key, value, now = Date.now()) {
      map.set(key, { value: Promise.resolve(value), until: now + ttlMs });
    },
    delete(key) {
      map.delete(key);
    },
    clear() {
      map.clear();
    },
    get size() {
      return map.size;
    },
  };
  caches.add(cache);
  return cache;
}

export function clearAllCaches() {
  for (const c of caches) c.clear();
}
