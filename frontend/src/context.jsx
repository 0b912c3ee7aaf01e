// context.jsx: the session, the API client and the socket for every screen,
// plus the hooks screens use to read them.
import { createContext, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { createSession } from './lib/session.js';

const SessionContext = createContext(null);

let appSession = null;
export function getAppSession() {
  if (!appSession) appSession = createSession();
  return appSession;
}

export function SessionProvider({ session = getAppSession(), children }) {
  useEffect(() => {
    session.restore();
  }, [session]);
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export function useSessionObject() {
  return useContext(SessionContext);
}

// {status: 'loading'|'anon'|'authed', user, notice}
export function useSession() {
  const s = useSessionObject();
  return useSyncExternalStore(s.subscribe, s.getState);
}

export function useApi() {
  return useSessionObject().api;
}

export function useSockets() {
  return useSessionObject().sockets;
}

function useSocketSnapshot() {
  const m = useSockets();
  return useSyncExternalStore(m.subscribe, m.getSnapshot);
}

// 'idle' | 'connecting' | 'connected' | 'reconnecting'
export function useSocketStatus() {
  return useSocketSnapshot().status;
}

// Calls handler (always the latest one) for a server event while mounted.
export function useSocketEvent(ev, handler) {
  const m = useSockets();
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => m.on(ev, (...a) => ref.current(...a)), [m, ev]);
}

// Keeps the room joined while mounted and `enabled` (re-joined after every
// reconnect). Returns {state: 'joining'|'joined'|'error', error, result}.
export function useRoom(kind, id, enabled = true) {
  const m = useSockets();
  useEffect(() => {
    if (!enabled || !id) return undefined;
    return m.want(kind, id);
  }, [m, kind, id, enabled]);
  const snap = useSocketSnapshot();
  if (!enabled || !id) return { state: 'idle', error: null, result: null };
  return snap.rooms[`${kind}:${id}`] || { state: 'joining', error: null, result: null };
}

// navigator.onLine, kept current.
export function useOnline() {
  const [online, setOnline] = useState(() => (typeof navigator === 'undefined' ? true : navigator.onLine));
  useEffect(() => {
    const up = () => setOnline(true);
    const down = () => setOnline(false);
    window.addEventListener('online', up);
    window.addEventListener('offline', down);
    return () => {
      window.removeEventListener('online', up);
      window.removeEventListener('offline', down);
    };
  }, []);
  return online;
}

// Loads `load()` (a promise) when deps change: {data, error, loading,
// reload, setData}. Answers of an older load are dropped.
export function useLoad(load, deps) {
  const [st, setSt] = useState({ data: undefined, error: null, loading: true });
  const gen = useRef(0);
  const run = useCallback(() => {
    const g = ++gen.current;
    setSt((s) => ({ ...s, loading: true, error: null }));
    Promise.resolve()
      .then(load)
      .then(
        (data) => {
          if (g === gen.current) setSt({ data, error: null, loading: false });
        },
        (error) => {
          if (g === gen.current) setSt({ data: undefined, error, loading: false });
        },
      );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    run();
    return () => {
      gen.current += 1;
    };
  }, [run]);
  const setData = useCallback((f) => setSt((s) => ({ ...s, data: typeof f === 'function' ? f(s.data) : f })), []);
  return { ...st, reload: run, setData };
}
