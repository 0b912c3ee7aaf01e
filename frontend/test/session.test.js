import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createCache } from '../src/lib/cache.js';
import { createSession, SESSION_ENDED } from '../src/lib/session.js';
import { apiError, fakeFetch, fakeIo, json } from './fakes.js';

const user = { id: 7, username: 'ana' };
const tokenAnswer = (t, expiresIn = 900) => json(200, { accessToken: t, expiresIn, user });

function setup(...answers) {
  const fetchImpl = fakeFetch(...answers);
  const io = fakeIo();
  const posted = [];
  const channel = { postMessage: (m) => posted.push(m), onmessage: null };
  const session = createSession({ fetchImpl, ioImpl: io, locks: null, channel, win: null });
  return { session, fetchImpl, io, posted, channel };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('session', () => {
  it('logs in, keeps the token in memory and connects one socket with it', async () => {
    const { session, fetchImpl, io } = setup(tokenAnswer('a1'));
    expect(session.getState().status).toBe('loading');
    await session.login('ana', 'secret-password');
    expect(fetchImpl.calls[0].url).toBe('/api/auth/login');
    expect(JSON.parse(fetchImpl.calls[0].body)).toEqual({ login: 'ana', password: 'secret-password' });
    expect(session.getState()).toMatchObject({ status: 'authed', user });
    expect(session.getToken()).toBe('a1');
    expect(io.sockets).toHaveLength(1);
    await expect(io.sockets[0].token()).resolves.toBe('a1');
  });

  it('refreshes the token one minute before it expires, and the socket reconnects with the new one', async () => {
    const { session, fetchImpl, io } = setup(tokenAnswer('a1'), tokenAnswer('a2'), tokenAnswer('a3'));
    await session.login('ana', 'pw');
    await vi.advanceTimersByTimeAsync(839_999);
    expect(fetchImpl.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetchImpl.calls).toHaveLength(2);
    expect(fetchImpl.calls[1].url).toBe('/api/auth/refresh');
    expect(fetchImpl.calls[1].method).toBe('POST');
    expect(fetchImpl.calls[1].headers.Authorization).toBeUndefined();
    expect(session.getToken()).toBe('a2');
    await expect(io.sockets[0].token()).resolves.toBe('a2');
    // And again, on the new token's schedule.
    await vi.advanceTimersByTimeAsync(840_000);
    expect(session.getToken()).toBe('a3');
    expect(io.sockets).toHaveLength(1);
  });

  it('ends the session when the refresh cookie is refused', async () => {
    const { session, io } = setup(tokenAnswer('a1'), apiError(401, 'refresh_token_reused', 'log in again'));
    const cache = createCache();
    cache.set('k', 1);
    await session.login('ana', 'pw');
    await vi.advanceTimersByTimeAsync(840_000);
    expect(session.getState()).toMatchObject({ status: 'anon', user: null, notice: SESSION_ENDED });
    expect(session.getToken()).toBeNull();
    expect(io.sockets[0].disconnected).toBe(true);
    expect(cache.size).toBe(0);
  });

  it('keeps the session through a refresh that fails for want of a network, and tries again', async () => {
    const { session, fetchImpl } = setup(tokenAnswer('a1'), new TypeError('Failed to fetch'), tokenAnswer('a2'));
    await session.login('ana', 'pw');
    await vi.advanceTimersByTimeAsync(840_000);
    expect(session.getState().status).toBe('authed');
    expect(session.getToken()).toBe('a1');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(fetchImpl.calls).toHaveLength(3);
    expect(session.getToken()).toBe('a2');
  });

  it('refreshes once for many callers at the same time', async () => {
    const { session, fetchImpl } = setup(tokenAnswer('a1'), tokenAnswer('a2'));
    await session.login('ana', 'pw');
    const all = await Promise.all([session.refresh(), session.refresh(), session.refresh()]);
    expect(all).toEqual(['a2', 'a2', 'a2']);
    expect(fetchImpl.calls).toHaveLength(2);
  });

  it('serialises refreshes across tabs with a Web Lock', async () => {
    const fetchImpl = fakeFetch(tokenAnswer('a1'));
    const names = [];
    const locks = { request: async (name, fn) => (names.push(name), fn()) };
    const session = createSession({ fetchImpl, ioImpl: fakeIo(), locks, channel: null, win: null });
    await session.restore();
    expect(names).toEqual(['sc-refresh']);
    expect(session.getState().status).toBe('authed');
  });

  it('retries a request that met an expired token after refreshing it', async () => {
    const { session, fetchImpl } = setup(tokenAnswer('a1'), apiError(401, 'unauthorized', 'expired'), tokenAnswer('a2'), json(200, { items: [] }));
    await session.login('ana', 'pw');
    await expect(session.api.get('/api/events')).resolves.toEqual({ items: [] });
    expect(fetchImpl.calls.map((c) => c.url)).toEqual(['/api/auth/login', '/api/events', '/api/auth/refresh', '/api/events']);
    expect(fetchImpl.calls[3].headers.Authorization).toBe('Bearer a2');
  });

  it('restores a session from the refresh cookie on load', async () => {
    const { session, io } = setup(tokenAnswer('r1'));
    await session.restore();
    expect(session.getState()).toMatchObject({ status: 'authed', user });
    expect(io.sockets).toHaveLength(1);
  });

  it('is logged out, quietly, when there is no session to restore', async () => {
    const { session, io } = setup(apiError(401, 'invalid_refresh_token', 'no session'));
    await session.restore();
    expect(session.getState()).toMatchObject({ status: 'anon', notice: null, unreachable: false });
    expect(io.sockets).toHaveLength(0);
  });

  it('says the server could not be reached when restoring offline', async () => {
    const { session } = setup(new TypeError('Failed to fetch'), tokenAnswer('r1'));
    await session.restore();
    expect(session.getState()).toMatchObject({ status: 'anon', unreachable: true });
    await session.retry();
    expect(session.getState()).toMatchObject({ status: 'authed', unreachable: false });
  });

  it('logs out: tells the server, forgets the token, closes the socket, empties caches, tells other tabs', async () => {
    const { session, fetchImpl, io, posted } = setup(tokenAnswer('a1'), { status: 204 });
    const cache = createCache();
    await session.login('ana', 'pw');
    cache.set('stats', { count: 1 });
    await session.logout();
    expect(fetchImpl.calls[1].url).toBe('/api/auth/logout');
    expect(session.getToken()).toBeNull();
    expect(session.getState()).toMatchObject({ status: 'anon', user: null });
    expect(io.sockets[0].disconnected).toBe(true);
    expect(cache.size).toBe(0);
    expect(posted).toContainEqual({ type: 'logout' });
    // No refresh is left scheduled.
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(fetchImpl.calls).toHaveLength(2);
  });

  it('logs out locally even when the server cannot be reached', async () => {
    const { session } = setup(tokenAnswer('a1'), new TypeError('Failed to fetch'));
    await session.login('ana', 'pw');
    await session.logout();
    expect(session.getState().status).toBe('anon');
  });

  it('follows a logout in another tab', async () => {
    const { session, channel, io } = setup(tokenAnswer('a1'));
    await session.login('ana', 'pw');
    channel.onmessage({ data: { type: 'logout' } });
    expect(session.getState().status).toBe('anon');
    expect(io.sockets[0].disconnected).toBe(true);
  });

  it('tells subscribers about every change', async () => {
    const { session } = setup(tokenAnswer('a1'));
    const seen = [];
    const off = session.subscribe(() => seen.push(session.getState().status));
    await session.login('ana', 'pw');
    session.setUser({ ...user, displayName: 'Ana' });
    off();
    await session.logout().catch(() => {});
    expect(seen).toEqual(['authed', 'authed']);
    expect(session.getState().status).toBe('anon');
  });
});
