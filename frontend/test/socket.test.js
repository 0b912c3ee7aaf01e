import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../src/lib/errors.js';
import { createSocketManager, isAuthRefusal, roomEvent } from '../src/lib/socket.js';
import { fakeIo, flush } from './fakes.js';

function setup({ refresh } = {}) {
  let token = 'tok1';
  const io = fakeIo();
  const timers = [];
  const onAuthLost = vi.fn();
  const m = createSocketManager({
    getToken: () => token,
    refresh: refresh || (async () => (token = `tok${Number(token.slice(3)) + 1}`)),
    onAuthLost,
    ioImpl: io,
    setTimer: (fn, ms) => (timers.push({ fn, ms }), timers.length),
    clearTimer: (t) => {
      if (timers[t - 1]) timers[t - 1].fn = () => {};
    },
  });
  const runTimers = () => {
    const list = timers.splice(0);
    for (const t of list) t.fn();
    return list;
  };
  return { m, io, timers, runTimers, onAuthLost, setToken: (t) => (token = t) };
}

const joins = (s) => s.emitted.filter((e) => e.ev.startsWith('join_')).map((e) => [e.ev, e.payload]);

describe('socket manager', () => {
  it('gives the current token on every (re)connect', async () => {
    const { m, io, setToken } = setup();
    m.connect();
    const s = io.sockets[0];
    await expect(s.token()).resolves.toBe('tok1');
    setToken('tok9');
    await expect(s.token()).resolves.toBe('tok9');
    expect(m.connect()).toBe(s); // one socket per session
  });

  it('joins the rooms the screens want once connected, and again after every reconnect', () => {
    const { m, io } = setup();
    m.connect();
    const s = io.sockets[0];
    m.want('event', 21);
    expect(joins(s)).toEqual([]); // not connected yet
    s.serverConnect();
    expect(joins(s)).toEqual([['join_event_room', { eventId: 21 }]]);
    m.want('match', 5);
    expect(joins(s)).toHaveLength(2);
    s.serverDrop();
    expect(m.getSnapshot().status).toBe('reconnecting');
    s.serverConnect();
    expect(joins(s).slice(2)).toEqual([
      ['join_event_room', { eventId: 21 }],
      ['join_private_room', { matchId: 5 }],
    ]);
  });

  it('reports a room as joined or refused from the ack', () => {
    const { m, io } = setup();
    m.connect();
    const s = io.sockets[0];
    s.serverConnect();
    m.want('event', 3);
    m.want('match', 9);
    s.lastEmit('join_event_room').ack(null, { ok: true, eventId: 3, users: [{ id: 1 }] });
    s.lastEmit('join_private_room').ack(null, { ok: false, error: { code: 'not_found', message: 'no such match' } });
    const rooms = m.getSnapshot().rooms;
    expect(rooms['event:3']).toMatchObject({ state: 'joined', result: { users: [{ id: 1 }] } });
    expect(rooms['match:9'].state).toBe('error');
    expect(rooms['match:9'].error).toBeInstanceOf(ApiError);
    expect(rooms['match:9'].error.message).toBe('no such match');
  });

  it('leaves a room when the last screen wanting it lets go, not when one re-mounts', () => {
    const { m, io, runTimers } = setup();
    m.connect();
    const s = io.sockets[0];
    s.serverConnect();
    const release1 = m.want('event', 4);
    release1();
    const release2 = m.want('event', 4); // StrictMode: unmount and mount again
    runTimers();
    expect(s.emitted.filter((e) => e.ev === 'leave_event_room')).toHaveLength(0);
    expect(joins(s)).toHaveLength(1);
    release2();
    release2(); // twice is harmless
    runTimers();
    expect(s.emitted.filter((e) => e.ev === 'leave_event_room').map((e) => e.payload)).toEqual([{ eventId: 4 }]);
    s.serverDrop();
    s.serverConnect();
    expect(joins(s)).toHaveLength(1); // not re-joined
  });

  it('refreshes an expired token when the server refuses the connection, then connects again', async () => {
    const { m, io } = setup();
    m.connect();
    const s = io.sockets[0];
    s.serverRefuse('invalid or expired token');
    await flush();
    expect(s.connects).toBe(1);
    await expect(s.token()).resolves.toBe('tok2');
  });

  it('leaves a network failure to the client, which reconnects by itself', async () => {
    const refresh = vi.fn(async () => 'x');
    const { m, io } = setup({ refresh });
    m.connect();
    const s = io.sockets[0];
    s.fire('connect_error', new Error('xhr poll error')); // still active
    await flush();
    expect(refresh).not.toHaveBeenCalled();
    expect(s.connects).toBe(0);
  });

  it('ends the session when the token cannot be refreshed', async () => {
    const { m, io, onAuthLost } = setup({ refresh: async () => null });
    m.connect();
    io.sockets[0].serverRefuse();
    await flush();
    expect(onAuthLost).toHaveBeenCalledTimes(1);
    expect(io.sockets[0].connects).toBe(0);
  });

  it('backs off when a fresh token keeps being refused', async () => {
    const { m, io, timers } = setup();
    m.connect();
    const s = io.sockets[0];
    s.serverRefuse();
    await flush();
    expect(s.connects).toBe(1);
    s.serverRefuse();
    await flush();
    expect(s.connects).toBe(1);
    expect(timers.at(-1).ms).toBe(2000);
    timers.at(-1).fn();
    expect(s.connects).toBe(2);
  });

  it('connects again by itself when the server closed the connection on purpose', () => {
    const { m, io } = setup();
    m.connect();
    const s = io.sockets[0];
    s.serverConnect();
    s.serverDrop('io server disconnect');
    expect(s.connects).toBe(1);
  });

  it('delivers server events to subscribers across a new socket after a new login', () => {
    const { m, io } = setup();
    const got = [];
    const off = m.on('event_message', (msg) => got.push(msg.id));
    m.connect();
    io.sockets[0].fire('event_message', { id: 1 });
    m.disconnect();
    m.connect();
    io.sockets[1].fire('event_message', { id: 2 });
    off();
    io.sockets[1].fire('event_message', { id: 3 });
    expect(got).toEqual([1, 2]);
  });

  it('asks with an ack and turns a refusal into an ApiError', async () => {
    const { m, io } = setup();
    m.connect();
    const s = io.sockets[0];
    await expect(m.request('send_event_message', { eventId: 1, content: 'hi' })).rejects.toMatchObject({ code: 'not_connected' });
    s.serverConnect();
    const ok = m.request('send_event_message', { eventId: 1, content: 'hi' });
    s.lastEmit('send_event_message').ack(null, { ok: true, message: { id: 5 } });
    await expect(ok).resolves.toMatchObject({ message: { id: 5 } });
    const bad = m.request('send_event_message', { eventId: 1, content: 'hi' });
    s.lastEmit('send_event_message').ack(null, { ok: false, error: { code: 'rate_limited', message: 'slow down' } });
    await expect(bad).rejects.toMatchObject({ code: 'rate_limited', message: 'slow down' });
    const late = m.request('send_event_message', { eventId: 1, content: 'hi' });
    s.lastEmit('send_event_message').ack(new Error('operation has timed out'));
    await expect(late).rejects.toMatchObject({ code: 'timeout' });
  });

  it('closes the socket and forgets the rooms on disconnect', () => {
    const { m, io } = setup();
    m.connect();
    io.sockets[0].serverConnect();
    m.want('event', 1);
    m.disconnect();
    expect(io.sockets[0].disconnected).toBe(true);
    expect(m.getSnapshot()).toEqual({ status: 'idle', rooms: {} });
    expect(m.socket).toBeNull();
  });
});

describe('socket helpers', () => {
  it('names the join and leave events of each kind of room', () => {
    expect(roomEvent('event', '3')).toEqual(['join_event_room', { eventId: 3 }]);
    expect(roomEvent('match', 8, true)).toEqual(['leave_private_room', { matchId: 8 }]);
  });

  it('tells a refused token from a network error', () => {
    expect(isAuthRefusal(new Error('invalid or expired token'))).toBe(true);
    expect(isAuthRefusal(new Error('xhr poll error'))).toBe(false);
    expect(isAuthRefusal(null)).toBe(false);
  });
});
