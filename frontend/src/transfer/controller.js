// controller.js: one match's video transfers, from the socket's signaling
// events to a snapshot the panel renders. Owns the RTCPeerConnection (one
// per transfer), its DataChannel and the session on it (session.js).
//
// Signaling (services/signaling/README.md): `webrtc_offer`, `webrtc_answer`
// and `webrtc_ice_candidate` {matchId, offer|answer|candidate}, relayed
// unchanged to the partner's sockets in the private room. Every signal
// carries the transfer id as `sid` inside the object, so signals of an
// older attempt are ignored:
//   offer     {sid, type: 'offer', sdp}
//   answer    {sid, type: 'answer', sdp}  or  {sid, decline: 'busy'}
//   candidate {sid, candidate, sdpMid, sdpMLineIndex, usernameFragment}
// The sender creates the connection and an ordered, reliable channel and
// sends the offer; the receiver answers; ICE candidates trickle both ways
// (held back until the offer or answer they belong to has gone out, and
// applied only once the remote description is set). Offers crossing
// (both pressed "Send video" at once): the member with the lower user id
// keeps theirs and answers the other `busy`; the other one receives first.
//
// Usage: const c = new TransferController({matchId, socket, me, partner,
// api}); c.subscribe(fn); c.start(); ... c.sendFile(file), c.accept(),
// c.decline(), c.cancel(), c.dismiss(); c.dispose() on unmount.

import { chunkSizeForConnection } from './chunking.js';
import { createSource as defaultCreateSource,
  createStore as defaultCreateStore,
  prepareChannelWorker } from './pipeline.js';
import { newTransferId, sanitizeFileName } from './protocol.js';
import { throttle } from './progress.js';
import { ReceiverSession, SenderSession, TERMINAL } from './session.js';
import { sweepStale } from './sink.js';

export const CONNECT_TIMEOUT_MS = 20000;
export const SIGNAL_ACK_TIMEOUT_MS = 10000;
export const FLUSH_TIMEOUT_MS = 3000;
// The panel's progress, speed and time left are redrawn at most this often
// (every redraw costs both pages style, layout and a frame: at 5 a second
// that was a visible share of a transfer's CPU).
export const PROGRESS_EVERY_MS = 500;
// An OPFS file stays this long after it is no longer offered (a download
// started from its link may still be reading it).
export const DISCARD_DELAY_MS = 60000;

const MAX_EARLY_SIDS = 4;
const MAX_EARLY_CANDIDATES = 100;
const CHANNEL_LABEL = 'spotlight-transfer';

const IDLE = Object.freeze({ phase: 'idle', role: null, file: null,
  progress: null, error: null, cancelledBy: null, reason: '', sha256: null,
  durationMs: null });

// Phase of the panel for a session state.
const PHASES = {
  send: { new: 'connecting', offered: 'offered', sending: 'transferring',
    verifying: 'verifying' },
  receive: { waiting: 'connecting', offered: 'incoming',
    accepting: 'accepting', receiving: 'transferring',
    verifying: 'verifying' },
};

export class TransferController {
  constructor({ matchId, socket, me, partner, api, env = {} }) {
    this.matchId = matchId;
    this.socket = socket;
    this.me = me;
    this.partner = partner;
    this.api = api;
    this.env = {
      RTCPeerConnection: env.RTCPeerConnection ?? globalThis.RTCPeerConnection,
      // Where the reading, hashing and writing happen (pipeline.js); a
      // test may pass createHasher/createSink for the main-thread ones.
      createSource: env.createSource ?? (env.createHasher ? undefined :
        defaultCreateSource),
      createStore: env.createStore ?? (env.createHasher || env.createSink ?
        undefined : defaultCreateStore),
      createHasher: env.createHasher,
      createSink: env.createSink,
      // A worker to take the channel itself (pipeline.js), where the
      // browser can transfer one; not with a test's RTCPeerConnection.
      prepareChannel: env.prepareChannel ?? (env.RTCPeerConnection ||
        env.createHasher || env.createSink ? null : prepareChannelWorker),
      URL: env.URL ?? globalThis.URL,
      connectTimeoutMs: env.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
      newId: env.newId ?? newTransferId,
    };
    this.state = IDLE;
    this.received = null; // {name, size, url, sha256, storage, discard}
    this.conn = null;
    this.early = new Map();
    this.listeners = new Set();
    this.iceCache = null;
    this.disposed = false;
    this.handlers = {
      webrtc_offer: (p) => this.onOffer(p),
      webrtc_answer: (p) => this.onAnswer(p),
      webrtc_ice_candidate: (p) => this.onCandidate(p),
    };
    this.emitProgress = throttle(() => this.publish(), PROGRESS_EVERY_MS);
    this.snapshot = this.buildSnapshot();
  }

  /* ---- the store the panel reads ---------------------------------------- */

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  getSnapshot() {
    return this.snapshot;
  }

  buildSnapshot() {
    return { ...this.state, received: this.received,
      partnerName: partnerName(this.partner) };
  }

  publish() {
    if (this.disposed) {
      return;
    }
    this.snapshot = this.buildSnapshot();
    for (const fn of this.listeners) {
      fn(this.snapshot);
    }
  }

  setState(next) {
    this.state = { ...IDLE, ...next };
    this.emitProgress.cancel();
    this.publish();
  }

  get busy() {
    return !['idle', 'done', 'declined', 'cancelled', 'failed']
      .includes(this.state.phase);
  }

  /* ---- life cycle -------------------------------------------------------- */

  start() {
    for (const [ev, fn] of Object.entries(this.handlers)) {
      this.socket?.on(ev, fn);
    }
    this.onBeforeUnload = (e) => {
      if (this.busy) {
        e.preventDefault();
        e.returnValue = '';
      }
    };
    globalThis.addEventListener?.('beforeunload', this.onBeforeUnload);
    sweepStale().catch(() => {});
  }

  dispose() {
    this.disposed = true;
    for (const [ev, fn] of Object.entries(this.handlers)) {
      this.socket?.off(ev, fn);
    }
    globalThis.removeEventListener?.('beforeunload', this.onBeforeUnload);
    this.emitProgress.cancel();
    const conn = this.conn;
    if (conn) {
      // Tell the partner (the cancel is flushed before the close), or just
      // close when there is no transfer on the channel yet.
      conn.session?.cancel('The other person left the page.');
      this.closeConn(conn, { flush: Boolean(conn.session) });
    }
    this.dropReceived();
    this.listeners.clear();
  }

  /* ---- what the person does -------------------------------------------- */

  // Send `file` (a File): connect, offer it, send it once accepted.
  async sendFile(file) {
    if (this.busy || this.disposed) {
      return;
    }
    const sid = this.env.newId();
    const info = { name: sanitizeFileName(file.name), size: file.size,
      type: file.type ?? '' };
    this.setState({ phase: 'connecting', role: 'send', file: info });
    const conn = await this.openConn(sid, 'send');
    if (conn === null) {
      return;
    }
    conn.file = file;
    const dc = conn.pc.createDataChannel(CHANNEL_LABEL, { ordered: true });
    this.wireChannel(conn, dc);
    try {
      const offer = await conn.pc.createOffer();
      await conn.pc.setLocalDescription(offer);
      if (conn !== this.conn) {
        return;
      }
      const sent = await this.signal(conn, 'webrtc_offer', { offer: { sid,
        type: offer.type, sdp: offer.sdp } });
      if (sent) {
        this.flushLocalCandidates(conn);
      }
    } catch (e) {
      this.connFailed(conn, 'Could not start the connection: ' +
        `${e?.message ?? e}`);
    }
  }

  accept() {
    this.conn?.session?.accept?.();
  }

  decline() {
    this.conn?.session?.decline?.('Declined.');
  }

  cancel() {
    const conn = this.conn;
    if (!conn) {
      return;
    }
    if (conn.session) {
      conn.session.cancel('Cancelled.');
    } else {
      this.closeConn(conn, { flush: false });
      this.setState({ phase: 'cancelled', role: conn.role,
        file: this.state.file, cancelledBy: 'me' });
    }
  }

  // Back to idle after an outcome (the received file stays offered).
  dismiss() {
    if (!this.busy) {
      this.setState(IDLE);
    }
  }

  /* ---- connections ---------------------------------------------------------- */

  async iceServers() {
    const now = Date.now();
    if (this.iceCache && this.iceCache.until > now) {
      return this.iceCache.servers;
    }
    try {
      const r = await this.api.get('/api/chat/ice-servers');
      const servers = Array.isArray(r?.iceServers) ? r.iceServers : [];
      const ttl = Number.isFinite(r?.ttl) && r.ttl > 0 ? r.ttl : 600;
      this.iceCache = { servers, until: now + (ttl * 1000) / 2 };
      return servers;
    } catch {
      // Without STUN/TURN a connection on the same network still works.
      return [];
    }
  }

  // A new connection for transfer `sid` replacing any finished one; null
  // when it could not be made (the state says why) or was overtaken.
  async openConn(sid, role) {
    if (this.conn) {
      this.closeConn(this.conn, { flush: false });
    }
    const conn = { sid, role, pc: null, dc: null, session: null,
      remoteSet: false, pendingRemote: [], localReady: false,
      pendingLocal: [], timer: null, ticker: null, closed: false,
      worker: null };
    this.conn = conn;
    const prepare = this.env.prepareChannel;
    const [iceServers, worker] = await Promise.all([this.iceServers(),
      prepare ? prepare().catch(() => null) : null]);
    conn.worker = worker;
    if (conn !== this.conn || this.disposed) {
      worker?.dispose();
      return null;
    }
    try {
      conn.pc = new this.env.RTCPeerConnection({ iceServers });
    } catch (e) {
      this.conn = null;
      this.setState({ phase: 'failed', role, file: this.state.file,
        error: { code: 'webrtc', fallback: true,
          message: 'This browser cannot open a direct connection ' +
            `(${e?.message ?? e}).` } });
      return null;
    }
    const pc = conn.pc;
    pc.onicecandidate = (e) => {
      if (!e.candidate) {
        return;
      }
      const c = typeof e.candidate.toJSON === 'function' ?
        e.candidate.toJSON() : e.candidate;
      const candidate = { sid, candidate: c.candidate, sdpMid: c.sdpMid ?? null,
        sdpMLineIndex: c.sdpMLineIndex ?? null,
        usernameFragment: c.usernameFragment ?? null };
      if (conn.localReady) {
        this.signal(conn, 'webrtc_ice_candidate', { candidate });
      } else {
        conn.pendingLocal.push(candidate);
      }
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed') {
        this.connFailed(conn, `The connection to ${partnerName(this.partner)} ` +
          'failed.');
      }
    };
    conn.timer = setTimeout(() => {
      if (!conn.session) {
        this.connFailed(conn, `Could not connect to ` +
          `${partnerName(this.partner)} within ` +
          `${Math.round(this.env.connectTimeoutMs / 1000)} seconds.`);
      }
    }, this.env.connectTimeoutMs);
    return conn;
  }

  flushLocalCandidates(conn) {
    conn.localReady = true;
    const list = conn.pendingLocal;
    conn.pendingLocal = [];
    for (const candidate of list) {
      this.signal(conn, 'webrtc_ice_candidate', { candidate });
    }
  }

  async applyRemote(conn, description) {
    await conn.pc.setRemoteDescription(description);
    conn.remoteSet = true;
    const list = conn.pendingRemote;
    conn.pendingRemote = [];
    for (const c of list) {
      await conn.pc.addIceCandidate(c).catch(() => {});
    }
  }

  // (Called in the task that created or received `dc`: the channel's
  // worker, if any, takes it here.)
  wireChannel(conn, dc) {
    dc.binaryType = 'arraybuffer';
    const proxy = conn.worker?.adopt(dc) ?? null;
    conn.worker?.dispose();
    conn.worker = null;
    if (proxy) {
      dc = proxy;
      dc.onarrived = (bytes, counts) => conn.session?.arrived?.(bytes, counts);
    }
    conn.dc = dc;
    const opened = () => {
      if (conn !== this.conn || conn.session) {
        return;
      }
      clearTimeout(conn.timer);
      this.startSession(conn);
    };
    dc.onopen = opened;
    dc.onclose = () => {
      if (conn.session) {
        conn.session.channelClosed();
      } else if (conn === this.conn) {
        this.connFailed(conn, 'The connection closed before the transfer ' +
          'started.');
      }
    };
    dc.onmessage = (e) => conn.session?.handle(e.data);
    if (dc.readyState === 'open') {
      opened();
    }
  }

  startSession(conn) {
    const onChange = (snap, { progressOnly }) => {
      if (conn !== this.conn) {
        return;
      }
      this.fromSession(conn, snap, progressOnly);
    };
    const onFatal = () => this.closeConn(conn, { flush: true });
    if (conn.role === 'send') {
      const dc = conn.dc;
      conn.session = new SenderSession({ channel: dc, file: conn.file,
        id: conn.sid, chunkSize: chunkSizeForConnection(conn.pc),
        createSource: dc.createSource ? (f, cs) => dc.createSource(f, cs) :
          this.env.createSource,
        createHasher: this.env.createHasher, onChange, onFatal });
      conn.ticker = setInterval(() => conn.session.tick(), 250);
      conn.session.start();
    } else {
      const dc = conn.dc;
      conn.session = new ReceiverSession({ send: (d) => dc.send(d),
        createStore: dc.createStore ? (info) => dc.createStore(info) :
          this.env.createStore, createSink: this.env.createSink,
        createHasher: this.env.createHasher, onChange, onFatal });
      this.setState({ phase: 'connecting', role: 'receive' });
    }
  }

  fromSession(conn, snap, progressOnly) {
    const phase = TERMINAL.has(snap.state) ? snap.state :
      PHASES[conn.role][snap.state] ?? 'connecting';
    const next = { phase, role: conn.role, file: snap.file ?? this.state.file,
      progress: snap.progress, error: snap.error ? { ...snap.error,
        fallback: snap.error.code === 'connection' ||
          snap.error.code === 'timeout' } : null,
      cancelledBy: snap.cancelledBy, reason: snap.reason,
      sha256: snap.sha256, durationMs: snap.durationMs };
    if (progressOnly) {
      this.state = { ...IDLE, ...next };
      this.emitProgress();
      return;
    }
    if (snap.state === 'done' && conn.role === 'receive') {
      this.offerReceived(snap);
    }
    this.setState(next);
    if (TERMINAL.has(snap.state)) {
      clearInterval(conn.ticker);
      // The sender closes once it has the verdict; the receiver once its
      // verdict (or cancel) has left; either after a cancel has.
      this.closeConn(conn, { flush: true });
    }
  }

  offerReceived(snap) {
    this.dropReceived();
    const file = snap.result;
    this.received = {
      id: snap.id,
      name: snap.file.name,
      size: snap.file.size,
      sha256: snap.sha256,
      storage: snap.storage,
      url: this.env.URL.createObjectURL(file),
      discard: this.conn?.session?.store?.discard ?? null,
    };
  }

  dropReceived() {
    const r = this.received;
    if (!r) {
      return;
    }
    this.received = null;
    this.env.URL.revokeObjectURL(r.url);
    if (r.discard) {
      setTimeout(() => r.discard().catch?.(() => {}), DISCARD_DELAY_MS);
    }
  }

  // A connection that failed before or during a transfer: say so, offer the
  // link fallback, close it.
  connFailed(conn, message, { fallback = true, code = 'connection' } = {}) {
    if (conn !== this.conn || conn.closed) {
      return;
    }
    if (conn.session && TERMINAL.has(conn.session.state)) {
      return;
    }
    conn.session?.cleanup?.();
    if (conn.session) {
      conn.session.state = 'failed';
    }
    this.closeConn(conn, { flush: false });
    if (conn.role === 'receive' && (!conn.session ||
      conn.session.id === null)) {
      // Nothing was offered to this person yet: the sender sees the error
      // and can share a link; here it would only be noise.
      this.setState(IDLE);
      return;
    }
    this.setState({ phase: 'failed', role: conn.role, file: this.state.file,
      progress: this.state.progress,
      error: { code, message, fallback } });
  }

  // Close a connection, after what it queued has left when flush is set.
  closeConn(conn, { flush }) {
    if (conn.closed) {
      return;
    }
    conn.closed = true;
    conn.worker?.dispose();
    conn.worker = null;
    clearTimeout(conn.timer);
    clearInterval(conn.ticker);
    const close = () => {
      try {
        conn.dc?.close();
      } catch {
        // already closed
      }
      try {
        conn.pc?.close();
      } catch {
        // already closed
      }
    };
    if (flush && conn.dc && conn.dc.readyState === 'open' &&
      conn.dc.bufferedAmount > 0) {
      const until = Date.now() + FLUSH_TIMEOUT_MS;
      const poll = () => {
        if (conn.dc.readyState !== 'open' || conn.dc.bufferedAmount === 0 ||
          Date.now() > until) {
          // A moment more for the last message to cross the wire.
          setTimeout(close, 100);
        } else {
          setTimeout(poll, 50);
        }
      };
      poll();
    } else if (flush) {
      setTimeout(close, 100);
    } else {
      close();
    }
    if (this.conn === conn) {
      this.conn = null;
      // A transfer still running here is over: nothing drives it now.
    }
  }

  /* ---- signaling ------------------------------------------------------------ */

  // Emit a signal with an ack; true when relayed. On a refusal the
  // connection fails with the server's reason.
  async signal(conn, event, fields) {
    const payload = { matchId: this.matchId, ...fields };
    for (let attempt = 0; attempt < 4; attempt += 1) {
      let ack;
      try {
        ack = await emitWithAck(this.socket, event, payload,
          SIGNAL_ACK_TIMEOUT_MS);
      } catch {
        this.connFailed(conn, 'The server did not answer: check your ' +
          'connection and try again.');
        return false;
      }
      if (ack?.ok) {
        return true;
      }
      const err = ack?.error ?? {};
      if (err.code === 'rate_limited' && attempt < 3) {
        await sleep(Math.min(2000, Number(err.details?.retryAfterMs) || 200));
        if (conn.closed) {
          return false;
        }
        continue;
      }
      if (event === 'webrtc_ice_candidate' && conn.remoteSet &&
        err.code !== 'partner_offline' && err.code !== 'match_not_active') {
        return false; // one lost candidate rarely matters
      }
      this.connFailed(conn, signalRefusal(err, this.partner), {
        fallback: err.code !== 'match_not_active', code: err.code ?? 'signal',
      });
      return false;
    }
    return false;
  }

  fromPartner(p) {
    return p && typeof p === 'object' && p.matchId === this.matchId &&
      (p.fromUserId === undefined || this.partner?.id === undefined ||
        p.fromUserId === this.partner.id);
  }

  async onOffer(p) {
    if (!this.fromPartner(p) || this.disposed) {
      return;
    }
    const o = p.offer;
    if (!o || typeof o.sid !== 'string' || o.type !== 'offer' ||
      typeof o.sdp !== 'string') {
      return;
    }
    if (this.conn && this.conn.sid === o.sid) {
      return; // a duplicate
    }
    const mine = this.conn;
    if (this.busy && mine && mine.role === 'send') {
      // Crossed offers (mine not connected yet): the lower user id keeps
      // theirs. Otherwise I am sending: busy.
      const glare = !mine.session;
      const iWin = Number(this.me?.id) < Number(this.partner?.id);
      if (!glare || iWin) {
        emitWithAck(this.socket, 'webrtc_answer', { matchId: this.matchId,
          answer: { sid: o.sid, decline: 'busy' } }, SIGNAL_ACK_TIMEOUT_MS)
          .catch(() => {});
        return;
      }
    }
    // (An earlier incoming attempt is replaced: the partner has one
    // outgoing transfer at a time, so they gave up on it.)
    this.setState({ phase: 'connecting', role: 'receive' });
    const conn = await this.openConn(o.sid, 'receive');
    if (conn === null) {
      return;
    }
    conn.pc.ondatachannel = (e) => this.wireChannel(conn, e.channel);
    const early = this.early.get(o.sid) ?? [];
    this.early.delete(o.sid);
    conn.pendingRemote.push(...early);
    try {
      await this.applyRemote(conn, { type: 'offer', sdp: o.sdp });
      const answer = await conn.pc.createAnswer();
      await conn.pc.setLocalDescription(answer);
      if (conn !== this.conn) {
        return;
      }
      const sent = await this.signal(conn, 'webrtc_answer', { answer: {
        sid: o.sid, type: answer.type, sdp: answer.sdp } });
      if (sent) {
        this.flushLocalCandidates(conn);
      }
    } catch (e) {
      this.connFailed(conn, 'Could not answer the connection: ' +
        `${e?.message ?? e}`);
    }
  }

  async onAnswer(p) {
    if (!this.fromPartner(p)) {
      return;
    }
    const a = p.answer;
    const conn = this.conn;
    if (!a || !conn || conn.role !== 'send' || a.sid !== conn.sid ||
      conn.remoteSet || conn.answered) {
      return;
    }
    if (a.decline === 'busy') {
      this.connFailed(conn, `${partnerName(this.partner)} is busy with ` +
        'another transfer. Try again in a moment.', { fallback: false,
        code: 'busy' });
      return;
    }
    if (a.type !== 'answer' || typeof a.sdp !== 'string') {
      return;
    }
    conn.answered = true;
    try {
      await this.applyRemote(conn, { type: 'answer', sdp: a.sdp });
    } catch (e) {
      this.connFailed(conn, `The connection could not be set up: ` +
        `${e?.message ?? e}`);
    }
  }

  onCandidate(p) {
    if (!this.fromPartner(p) || !p.candidate ||
      typeof p.candidate.sid !== 'string') {
      return;
    }
    const { sid, ...c } = p.candidate;
    if (typeof c.candidate !== 'string') {
      return;
    }
    const init = { candidate: c.candidate, sdpMid: c.sdpMid ?? null,
      sdpMLineIndex: c.sdpMLineIndex ?? null };
    if (c.usernameFragment) {
      init.usernameFragment = c.usernameFragment;
    }
    const conn = this.conn;
    if (conn && conn.sid === sid && conn.pc) {
      if (conn.remoteSet) {
        conn.pc.addIceCandidate(init).catch(() => {});
      } else {
        conn.pendingRemote.push(init);
      }
      return;
    }
    // Candidates can overtake their offer only in theory (one socket keeps
    // order), but keep a few in case.
    if (!this.early.has(sid)) {
      if (this.early.size >= MAX_EARLY_SIDS) {
        this.early.delete(this.early.keys().next().value);
      }
      this.early.set(sid, []);
    }
    const list = this.early.get(sid);
    if (list.length < MAX_EARLY_CANDIDATES) {
      list.push(init);
    }
  }
}

export function partnerName(partner) {
  return partner?.displayName || partner?.username || 'your partner';
}

// What a refused signal means for the person.
export function signalRefusal(err, partner) {
  switch (err?.code) {
    case 'partner_offline':
      return 'Your partner is not on this page. Ask ' +
        `${partnerName(partner)} to open this match, then try again.`;
    case 'match_not_active':
      return 'This match is no longer active, so no video can be sent here.';
    case 'not_found':
      return 'This match was not found.';
    case 'rate_limited':
      return 'Too many attempts: wait a moment and try again.';
    default:
      return err?.message ? `The server refused: ${err.message}` :
        'The server refused the connection.';
  }
}

// socket.emit with an ack and a timeout (socket.io-client 4.4+:
// socket.timeout(ms).emit(ev, payload, (err, ack) => ...)).
export function emitWithAck(socket, event, payload, ms) {
  return new Promise((resolve, reject) => {
    if (!socket) {
      reject(new Error('no socket'));
      return;
    }
    if (typeof socket.timeout === 'function') {
      socket.timeout(ms).emit(event, payload, (err, ack) => {
        if (err) {
          reject(err);
        } else {
          resolve(ack);
        }
      });
      return;
    }
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    socket.emit(event, payload, (ack) => {
      clearTimeout(t);
      resolve(ack);
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
