// data.js: shared cached reads (rating stats, events by id) and the hooks
// over them.
import { useEffect, useState } from 'react';
import { useApi } from './context.jsx';
import { createCache } from './lib/cache.js';

export const statsCache = createCache(60_000);
export const eventCache = createCache(5 * 60_000);

export function loadStats(api, userId) {
  return statsCache.get(userId, () => api.get(`/api/ratings/stats/${userId}`));
}

export function loadEvent(api, eventId) {
  return eventCache.get(eventId, () => api.get(`/api/events/${eventId}`));
}

// undefined while loading, null when it failed.
// `fresh`: ask again rather than trust the cache (screens whose point is
// the current figure: history, profiles).
function useCached(loader, key, cache, fresh) {
  const api = useApi();
  const [value, setValue] = useState(undefined);
  useEffect(() => {
    if (!key) return undefined;
    let live = true;
    if (fresh) cache.delete(key);
    setValue(undefined);
    loader(api, key).then(
      (v) => live && setValue(v),
      () => live && setValue(null),
    );
    return () => {
      live = false;
    };
  }, [api, loader, key, cache, fresh]);
  return value;
}

export function useStats(userId, { fresh = false } = {}) {
  return useCached(loadStats, userId, statsCache, fresh);
}

export function useEventInfo(eventId) {
  return useCached(loadEvent, eventId, eventCache, false);
}
