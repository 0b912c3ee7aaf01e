// fakes.js: a tiny fake fetch and a fake socket.io-client for the app's
// unit tests (no network).

// A fetch answering from a list of handlers, in order; records calls.
export function fakeFetch(...answers) {
  const calls = [];
  const fn = async (url, init = {}) => {
    calls.push({ url, ...init, headers: { ...(init.headers || {}) } });
    const a = answers.shift();
    if (!a) throw new Error(`unexpected fetch ${init.method || 'GET'} ${url}`);
    if (a instanceof Error) throw a;
    const body = a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
    return {
      status: a.status,
      ok: a.status >= 200 && a.status < 300,
      text: async () => body,
    };
  };
  fn.calls = calls;
  fn.pending = () => answers.length;
  return fn;
}

export const json = (status, body) => ({ status, body });
export const apiError = (status, code, message, details) => ({ status, body: { error: { code, message, ...(details ? { details } : {}) } } });

// A socket.io-client Socket look-alike: records emits, lets the test play
// the server (connect, disconnect, connect_error, acks).
export class FakeSocket {
  constructor(opts) {
    this.opts = opts;
    this.connected = false;
    this.active = true;
    this.handlers = new Map();
    this.emitted = [];
    this.connects = 0;
    this.disconnected = false;
    this.ackTimeout = null;
  }
  on(ev, fn) {
    if (!this.handlers.has(ev)) this.handlers.set(ev, []);
    this.handlers.get(ev).push(fn);
    return this;
  }
  removeAllListeners() {
    this.handlers.clear();
    return this;
  }
  fire(ev, ...args) {
    for (const fn of this.handlers.get(ev) || []) fn(...args);
  }
  timeout(ms) {
    this.ackTimeout = ms;
    return this;
  }
  emit(ev, payload, ack) {
    this.emitted.push({ ev, payload, ack });
    return this;
  }
  async emitWithAck(ev, payload) {
    return new Promise((resolve, reject) => this.emitted.push({ ev, payload, ack: (err, v) => (err ? reject(err) : resolve(v)) }));
  }
  connect() {
    this.connects += 1;
    this.active = true;
    return this;
  }
  disconnect() {
    this.disconnected = true;
    this.connected = false;
    this.active = false;
    return this;
  }
  // Server side
  async token() {
    return new Promise((resolve) => this.opts.auth((d) => resolve(d.token)));
  }
  serverConnect() {
    this.connected = true;
    this.fire('connect');
  }
  serverDrop(reason = 'transport close') {
    this.connected = false;
    this.fire('disconnect', reason);
  }
  serverRefuse(message = 'invalid or expired token') {
    this.connected = false;
    this.active = false;
    const err = new Error(message);
    this.fire('connect_error', err);
  }
  lastEmit(ev) {
    return [...this.emitted].reverse().find((e) => e.ev === ev);
  }
}

export function fakeIo() {
  const sockets = [];
  const io = (url, opts) => {
    const s = new FakeSocket(opts);
    sockets.push(s);
    return s;
  };
  io.sockets = sockets;
  return io;
}

export const flush = () => new Promise((r) => setTimeout(r, 0));
