// session.js: who is logged in. The access token lives in memory only; the
// refresh token is the httpOnly cookie sc_refresh. Restores a session on
// load through POST /api/auth/refresh, refreshes the token shortly before
// it expires (serialised across tabs: reusing a rotated refresh token
// revokes the whole family), connects the one socket, and on logout clears
// the token, the socket and the caches, in every tab.
import { createApi } from './api.js';
import { clearAllCaches } from './cache.js';
import { createSocketManager } from './socket.js';
import { refreshAt, refreshOverdue, retryDelayMs } from './timing.js';

export const SESSION_ENDED = 'Your session has ended. Please log in again.';

export function createSession({
  fetchImpl,
  ioImpl,
  locks = globalThis.navigator?.locks,
  channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('sc-session') : null,
  win = typeof window === 'undefined' ? null : window,
} = {}) {
  let token = null;
  let dueAt = 0;
  let timer = null;
  let failures = 0;
  let inflight = null;
  let state = { status: 'loading', user: null, notice: null, unreachable: false };
  const watchers = new Set();

  function set(patch) {
    state = { ...state, ...patch };
    for (const w of [...watchers]) w();
  }

  const api = createApi({
    fetchImpl,
    getToken: () => token,
    refresh: () => refresh(),
    onUnauthorized: () => {
      if (state.status === 'authed') clear(SESSION_ENDED);
    },
  });

  const sockets = createSocketManager({
    getToken: () => token,
    refresh: () => refresh(),
    onAuthLost: () => clear(SESSION_ENDED),
    ioImpl,
  });

  function schedule(ms) {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      refresh().catch(() => {});
    }, ms);
  }

  function apply(data) {
    token = data.accessToken;
    dueAt = refreshAt(data.expiresIn);
    failures = 0;
    schedule(dueAt - Date.now());
    const first = state.status !== 'authed';
    set({ status: 'authed', user: data.user, notice: null, unreachable: false });
    if (first) sockets.connect();
  }

  function clear(notice = null) {
    token = null;
    dueAt = 0;
    if (timer) clearTimeout(timer);
    timer = null;
    sockets.disconnect();
    clearAllCaches();
    set({ status: 'anon', user: null, notice, unreachable: false });
  }

  async function locked(fn) {
    if (locks && typeof locks.request === 'function') {
      return locks.request('sc-refresh', fn);
    }
    return fn();
  }

  // A fresh access token: resolves it, or null when the session is gone
  // (the refresh cookie was refused); rejects (ApiError) when the server
  // cannot be reached. Single-flight within the tab, locked across tabs.
  function refresh() {
    if (inflight) return inflight;
    inflight = (async () => {
      try {
        const data = await locked(() => api.post('/api/auth/refresh', undefined, { auth: false }));
        apply(data);
        return token;
      } catch (err) {
        if (err.status === 401) {
          if (state.status !== 'anon') clear(state.status === 'authed' ? SESSION_ENDED : null);
          return null;
        }
        // Offline or the auth service down: keep the session, try again.
        if (state.status === 'authed') schedule(retryDelayMs(failures++));
        throw err;
      } finally {
        inflight = null;
      }
    })();
    return inflight;
  }

  // Whether the last restore failed for want of a network (then it is
  // tried again when the browser is back online).
  let restoreFailed = false;

  async function restore() {
    if (state.unreachable) set({ status: 'loading', unreachable: false });
    try {
      await refresh();
      restoreFailed = false;
    } catch {
      restoreFailed = true;
      // Offline (or the auth service down): we do not know yet whether
      // the visitor is logged in; `unreachable` lets screens say so.
      if (state.status === 'loading') set({ status: 'anon', unreachable: true });
    }
  }

  async function login(loginName, password) {
    const data = await api.post('/api/auth/login', { login: loginName, password }, { auth: false });
    apply(data);
    channel?.postMessage({ type: 'login' });
    return data.user;
  }

  async function logout() {
    try {
      await api.post('/api/auth/logout', undefined, { auth: false });
    } catch {
      // The local session ends whatever the server says.
    }
    clear(null);
    channel?.postMessage({ type: 'logout' });
  }

  if (channel) {
    channel.onmessage = (e) => {
      const type = e.data && e.data.type;
      if (type === 'logout' && state.status === 'authed') clear(null);
      if (type === 'login' && state.status === 'anon') restore();
    };
  }

  if (win) {
    // A phone that slept missed its timer: refresh when it comes back.
    const wake = () => {
      if (state.status === 'authed' && refreshOverdue(dueAt)) refresh().catch(() => {});
      if (state.status === 'anon' && restoreFailed && win.navigator?.onLine !== false) {
        restoreFailed = false;
        restore();
      }
    };
    win.document?.addEventListener?.('visibilitychange', wake);
    win.addEventListener?.('online', wake);
    win.addEventListener?.('focus', wake);
  }

  return {
    api,
    sockets,
    restore,
    retry: () => restore(),
    login,
    logout,
    refresh,
    getToken: () => token,
    setUser: (user) => set({ user }),
    subscribe(fn) {
      watchers.add(fn);
      return () => watchers.delete(fn);
    },
    getState: () => state,
  };
}
