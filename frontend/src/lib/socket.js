// socket.js: the one Socket.IO connection of a logged-in session. The
// client reconnects by itself; this module gives it the current access
// token on every (re)connect, refreshes an expired one when the server
// refuses the CONNECT, and re-joins the rooms the open screens want after
// every connect.
import { io } from 'socket.io-client';
import { ApiError, errorFromAck } from './errors.js';
import { retryDelayMs } from './timing.js';

export const ACK_TIMEOUT_MS = 10_000;

export function roomKey(kind, id) {
  return `${kind}:${id}`;
}

// The event that joins (or leaves) a room and its payload.
export function roomEvent(kind, id, leave = false) {
  if (kind === 'event') {
    return [leave ? 'leave_event_room' : 'join_event_room', { eventId: Number(id) }];
  }
  return [leave ? 'leave_private_room' : 'join_private_room', { matchId: Number(id) }];
}

// Whether a CONNECT_ERROR means the token (not the network) was refused.
export function isAuthRefusal(err) {
  return !!err && /token|unauthori[sz]ed|jwt|auth/i.test(String(err.message || ''));
}

const NOT_CONNECTED =
  'Not connected to the live server yet. Please try again in a moment.';

export function createSocketManager({
  getToken,
  refresh,
  onAuthLost = () => {},
  ioImpl = io,
  url = undefined,
  setTimer = (fn, ms) => setTimeout(fn, ms),
  clearTimer = (t) => clearTimeout(t),
} = {}) {
  let socket = null;
  let status = 'idle'; // idle | connecting | connected | reconnecting
  let authFailures = 0;
  let authTimer = null;
  const rooms = new Map(); // key -> room {kind, id, count, state, error, result}
  const handlers = new Map(); // event name -> Set of functions
  const dispatchers = new Map(); // event name -> the function on the socket
  const watchers = new Set();
  let snapshot = { status, rooms: {} };

  function changed() {
    const r = {};
    for (const [k, room] of rooms) {
      r[k] = { state: room.state, error: room.error, result: room.result };
    }
    snapshot = { status, rooms: r };
    for (const w of [...watchers]) w();
  }

  function setStatus(s) {
    if (status !== s) {
      status = s;
      changed();
    }
  }

  function dispatcher(ev) {
    let d = dispatchers.get(ev);
    if (!d) {
      d = (...args) => {
        for (const fn of [...(handlers.get(ev) || [])]) {
          try {
            fn(...args);
          } catch (e) {
            console.error(`handler of '${ev}' failed:`, e);
          }
        }
      };
      dispatchers.set(ev, d);
    }
    return d;
  }

  function join(room) {
    if (!socket || !socket.connected) return;
    const [ev, payload] = roomEvent(room.kind, room.id);
    room.state = 'joining';
    changed();
    const s = socket;
    s.timeout(ACK_TIMEOUT_MS).emit(ev, payload, (err, ack) => {
      if (rooms.get(roomKey(room.kind, room.id)) !== room || s !== socket) return;
      if (err) {
        room.state = 'error';
        room.error = new ApiError({ code: 'timeout', message: 'The live server did not answer. Retrying…' });
        changed();
        setTimer(() => {
          if (rooms.get(roomKey(room.kind, room.id)) === room && room.state === 'error') join(room);
        }, 2_000);
        return;
      }
      if (ack && ack.ok) {
        room.state = 'joined';
        room.error = null;
        room.result = ack;
      } else {
        room.state = 'error';
        room.error = errorFromAck(ack);
      }
      changed();
    });
  }

  function onConnect() {
    authFailures = 0;
    setStatus('connected');
    for (const room of rooms.values()) join(room);
  }

  function onDisconnect(reason) {
    for (const room of rooms.values()) {
      room.state = 'joining';
      room.result = null;
    }
    changed();
    setStatus(socket ? 'reconnecting' : 'idle');
    // The server closed us on purpose (it is stopping): the client does not
    // come back by itself then.
    if (reason === 'io server disconnect' && socket) socket.connect();
  }

  async function onConnectError(err) {
    if (!socket) return;
    setStatus('reconnecting');
    if (socket.active) return; // a network failure: the client retries itself
    // Refused by the server: the token expired (or was never good). Get a
    // fresh one and try again, backing off if that keeps failing.
    const s = socket;
    authFailures += 1;
    const again = () => {
      authTimer = null;
      if (s === socket && !s.connected) s.connect();
    };
    let token = null;
    try {
      token = isAuthRefusal(err) || authFailures > 1 ? await refresh() : getToken();
    } catch {
      // No network for the refresh: wait and try again.
      authTimer = setTimer(again, retryDelayMs(authFailures));
      return;
    }
    if (s !== socket) return;
    if (!token) {
      onAuthLost();
      return;
    }
    if (authFailures <= 1) again();
    else authTimer = setTimer(again, retryDelayMs(authFailures - 2));
  }

  function connect() {
    if (socket) return socket;
    status = 'connecting';
    socket = ioImpl(url, {
      // A function, so every reconnect sends the token current then.
      auth: (cb) => cb({ token: getToken() }),
    });
    socket.on('connect', onConnect);
    socket.on('disconnect', onDisconnect);
    socket.on('connect_error', onConnectError);
    for (const ev of handlers.keys()) socket.on(ev, dispatcher(ev));
    changed();
    return socket;
  }

  function disconnect() {
    if (authTimer) clearTimer(authTimer);
    authTimer = null;
    const s = socket;
    socket = null;
    rooms.clear();
    if (s) {
      s.removeAllListeners();
      s.disconnect();
    }
    status = 'idle';
    changed();
  }

  // Subscribe to a server event for as long as the returned function is
  // not called; survives reconnects and a new socket after a new login.
  function on(ev, fn) {
    let set = handlers.get(ev);
    if (!set) {
      set = new Set();
      handlers.set(ev, set);
      if (socket) socket.on(ev, dispatcher(ev));
    }
    set.add(fn);
    return () => {
      set.delete(fn);
    };
  }

  // Ask for a room while the returned function is not called. Counted, and
  // the leave waits a moment, so a screen that re-mounts keeps its room.
  function want(kind, id) {
    const key = roomKey(kind, id);
    let room = rooms.get(key);
    if (room) {
      room.count += 1;
      if (room.leaveTimer) {
        clearTimer(room.leaveTimer);
        room.leaveTimer = null;
      }
    } else {
      room = { kind, id: Number(id), count: 1, state: 'joining', error: null, result: null, leaveTimer: null };
      rooms.set(key, room);
      if (socket && socket.connected) join(room);
      else changed();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      room.count -= 1;
      if (room.count > 0) return;
      room.leaveTimer = setTimer(() => {
        if (rooms.get(key) !== room || room.count > 0) return;
        rooms.delete(key);
        if (socket && socket.connected) {
          const [ev, payload] = roomEvent(kind, id, true);
          socket.emit(ev, payload);
        }
        changed();
      }, 50);
    };
  }

  // Emit with an ack; resolves the ack's result, throws ApiError otherwise.
  async function request(ev, payload) {
    if (!socket || !socket.connected) {
      throw new ApiError({ code: 'not_connected', message: NOT_CONNECTED });
    }
    let ack;
    try {
      ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(ev, payload);
    } catch {
      throw new ApiError({ code: 'timeout', message: 'The live server did not answer. Please try again.' });
    }
    if (!ack || !ack.ok) throw errorFromAck(ack);
    return ack;
  }

  return {
    connect,
    disconnect,
    on,
    want,
    request,
    get socket() {
      return socket;
    },
    get connected() {
      return !!socket && socket.connected;
    },
    subscribe(fn) {
      watchers.add(fn);
      return () => watchers.delete(fn);
    },
    getSnapshot: () => snapshot,
  };
}
