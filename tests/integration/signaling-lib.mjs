// signaling-lib.mjs: helpers for signaling.test.mjs: Socket.IO clients
// (the official socket.io-client), a recorder of the events a socket
// receives, acks with deadlines, and raw WebSocket frames (npm ws) for the
// protocol-abuse tests.
//
//   SC_TEST_SIGNALING_SIO_URL  the Socket.IO listener directly (optional;
//                              else the gateway: SC_TEST_GATEWAY_URL)
//   SC_TEST_SIGNALING_URL      the daemon's HTTP API directly (optional)
//   SC_TEST_SIGNALING_RESTART  optional shell command that restarts the
//                              daemon (for a stack without deploy/local.sh)
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { io } from 'socket.io-client';
import WebSocket from 'ws';

import { env, gatewayUrl, localSh, run, sleep } from './lib.mjs';

const trim = (u) => u.replace(/\/+$/, '');

/* Where Socket.IO clients connect: the listener itself when the suite
 * names it, else through the gateway (nginx, /socket.io/). */
export function sioUrl() {
	const direct = process.env.SC_TEST_SIGNALING_SIO_URL;
	return direct ? trim(direct) : gatewayUrl();
}

/* Every distinct way in: [{name, url}], the gateway first. */
export function sioRoutes() {
	const routes = [{ name: 'through the gateway', url: gatewayUrl() }];
	const direct = process.env.SC_TEST_SIGNALING_SIO_URL;
	if (direct && trim(direct) !== gatewayUrl()) {
		routes.push({ name: 'directly', url: trim(direct) });
	}
	return routes;
}

/* Every socket opened by connect(), closed by closeAll(). */
const opened = new Set();

/* A connected socket for `token` (undefined: no auth payload). Rejects with
 * the connect_error. opts: url, transports (default websocket only),
 * reconnection (default false), timeoutMs, and any socket.io-client
 * option in `io`. */
export function connect(token, opts = {}) {
	const s = io(opts.url ?? sioUrl(), {
		forceNew: true,
		reconnection: opts.reconnection ?? false,
		reconnectionDelay: 100,
		reconnectionDelayMax: 500,
		transports: opts.transports ?? ['websocket'],
		auth: token === undefined ? {} : { token },
		timeout: opts.timeoutMs ?? 8000,
		...(opts.io ?? {}),
	});
	opened.add(s);
	const inbox = new Inbox(s);
	s.inbox = inbox;
	return new Promise((resolve, reject) => {
		const t = setTimeout(() => {
			s.close();
			reject(new Error(`no connect within ${opts.timeoutMs ?? 8000} ms`));
		}, (opts.timeoutMs ?? 8000) + 1000);
		s.once('connect', () => {
			clearTimeout(t);
			resolve(s);
		});
		s.once('connect_error', (e) => {
			clearTimeout(t);
			if (!opts.reconnection) {
				s.close();
			}
			reject(e);
		});
	});
}

/* The connect_error a token gets (fails if it connects). */
export async function connectError(token, opts = {}) {
	try {
		const s = await connect(token, opts);
		s.close();
	} catch (e) {
		return e;
	}
	assert.fail('connected, but a connect_error was expected');
}

export function closeAll() {
	for (const s of opened) {
		s.close();
	}
	opened.clear();
}

/* Every event a socket receives, in order, with waits. */
export class Inbox {
	constructor(socket) {
		this.events = [];
		this.waiters = [];
		socket.onAny((name, ...args) => {
			const ev = { name, args, at: Date.now() };
			this.events.push(ev);
			this.waiters = this.waiters.filter((w) => !w(ev));
		});
	}

	/* All received events named `name` whose first argument passes pred. */
	all(name, pred = () => true) {
		return this.events.filter((e) => e.name === name && pred(e.args[0]))
			.map((e) => e.args[0]);
	}

	/* The first argument of the first `name` event passing pred (already
	 * received or arriving within timeoutMs); fails with what was seen. */
	async get(name, pred = () => true, timeoutMs = 5000) {
		const seen = this.events.find((e) => e.name === name &&
			pred(e.args[0]));
		if (seen) {
			return seen.args[0];
		}
		const ev = await new Promise((resolve) => {
			const w = (e) => {
				if (e.name === name && pred(e.args[0])) {
					clearTimeout(t);
					resolve(e);
					return true;
				}
				return false;
			};
			const t = setTimeout(() => {
				this.waiters = this.waiters.filter((x) => x !== w);
				resolve(undefined);
			}, timeoutMs);
			this.waiters.push(w);
		});
		assert.ok(ev, `no '${name}' event within ${timeoutMs} ms; got: ` +
			JSON.stringify(this.events.map((e) => [e.name, e.args[0]]))
				.slice(-1500));
		return ev.args[0];
	}

	/* Wait ms, then fail if a `name` event passing pred arrived. */
	async none(name, pred = () => true, ms = 400) {
		await sleep(ms);
		const got = this.all(name, pred);
		assert.equal(got.length, 0, `unexpected '${name}': ` +
			JSON.stringify(got).slice(0, 500));
	}

	clear() {
		this.events = [];
	}
}

/* Emit with an ack and wait for it (fails after timeoutMs). */
export function call(socket, event, payload, timeoutMs = 8000) {
	return socket.timeout(timeoutMs).emitWithAck(event, payload);
}

/* An ack {ok:true, ...}; returns it. */
export async function callOk(socket, event, payload, timeoutMs) {
	const r = await call(socket, event, payload, timeoutMs);
	assert.equal(r?.ok, true, `${event} ${JSON.stringify(payload)} -> ` +
		JSON.stringify(r));
	return r;
}

/* An ack {ok:false, error:{code, message}} with code (a string or list);
 * returns the error. */
/* Join an event's room (the socket has an Inbox, as connect gives it): the
 * ack, which has no users, with the users of the active_users event that
 * came before it on the same connection (the list is sent once). */
export async function joinRoom(socket, eventId) {
	const r = await callOk(socket, 'join_event_room', { eventId });
	assert.equal(r.users, undefined, 'the list is not in the ack too');
	const lists = socket.inbox.all('active_users',
		(x) => x.eventId === eventId);
	assert.ok(lists.length > 0, 'active_users came before the ack');
	return { ...r, users: lists.at(-1).users };
}

export async function callErr(socket, event, payload, code, timeoutMs) {
	const r = await call(socket, event, payload, timeoutMs);
	assert.equal(r?.ok, false, `${event} ${JSON.stringify(payload)} -> ` +
		JSON.stringify(r));
	assertAckError(r.error, code);
	return r.error;
}

export function assertAckError(e, code) {
	assert.ok(e && typeof e === 'object', `no error: ${JSON.stringify(e)}`);
	assert.equal(typeof e.code, 'string');
	assert.equal(typeof e.message, 'string');
	assert.ok(e.message.length > 0);
	if (code !== undefined) {
		const codes = Array.isArray(code) ? code : [code];
		assert.ok(codes.includes(e.code),
			`expected ${codes.join('|')}, got ${JSON.stringify(e)}`);
	}
}

/* A chat message as the server sends it. */
export function assertMessage(m, expect = {}) {
	assert.ok(m && typeof m === 'object', 'no message');
	const room = 'eventId' in m ? 'eventId' : 'matchId';
	assert.deepEqual(Object.keys(m).sort(), ['content', 'createdAt',
		'displayName', 'id', room, 'type', 'userId', 'username'].sort(),
	`message keys: ${JSON.stringify(m)}`);
	assert.ok(Number.isSafeInteger(m.id) && m.id > 0);
	assert.match(m.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
	assert.ok(['text', 'link'].includes(m.type));
	for (const [k, v] of Object.entries(expect)) {
		assert.deepEqual(m[k], v, `message.${k} of ${JSON.stringify(m)}`);
	}
}

/* ---- restarting the daemon --------------------------------------------- */

/* How this run can restart signaling: a function, or a string saying why
 * it cannot (the test is then skipped with it). */
export function restarter() {
	const cmd = process.env.SC_TEST_SIGNALING_RESTART;
	if (cmd) {
		return async () => {
			const r = await run('/bin/sh', ['-c', cmd], { timeoutMs: 60000 });
			assert.equal(r.code, 0, `${cmd}: ${r.stdout}${r.stderr}`);
		};
	}
	const v = process.env.SC_TEST_VAR;
	if (v && process.env.SC_TEST_REPO &&
		existsSync(path.join(v, 'run', 'start.env'))) {
		return async () => {
			await localSh('stop-service', 'signaling');
			await localSh('start-service', 'signaling');
		};
	}
	return 'no way to restart signaling here (deploy/local.sh suite or ' +
		'SC_TEST_SIGNALING_RESTART)';
}

/* ---- raw WebSocket ------------------------------------------------------ */

/* A raw Engine.IO WebSocket (npm ws) after its open packet: {ws, open}. */
export function rawSocket(url = sioUrl()) {
	const u = new URL(url);
	u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
	u.pathname = '/socket.io/';
	u.search = '?EIO=4&transport=websocket';
	const ws = new WebSocket(u, { maxPayload: 0 });
	ws.closed = new Promise((resolve) => {
		ws.on('close', (code, reason) => resolve({ code,
			reason: reason.toString() }));
	});
	ws.on('error', () => {}); // the close event tells what happened
	return new Promise((resolve, reject) => {
		ws.once('message', (data) => {
			const s = data.toString();
			assert.equal(s[0], '0', `not an open packet: ${s}`);
			resolve({ ws, open: JSON.parse(s.slice(1)) });
		});
		ws.once('unexpected-response', (req, res) =>
			reject(new Error(`handshake: HTTP ${res.statusCode}`)));
		setTimeout(() => reject(new Error('no open packet')), 5000);
	});
}

/* One WebSocket frame written by hand: opcode, payload, masked or not. */
export function frame(op, payload, { mask = true, fin = true } = {}) {
	const p = Buffer.from(payload);
	const hdr = [(fin ? 0x80 : 0) | op];
	const m = mask ? 0x80 : 0;
	if (p.length < 126) {
		hdr.push(m | p.length);
	} else if (p.length < 65536) {
		hdr.push(m | 126, p.length >> 8, p.length & 255);
	} else {
		hdr.push(m | 127, 0, 0, 0, 0, (p.length >>> 24) & 255,
			(p.length >> 16) & 255, (p.length >> 8) & 255, p.length & 255);
	}
	if (!mask) {
		return Buffer.concat([Buffer.from(hdr), p]);
	}
	const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
	const body = Buffer.alloc(p.length);
	for (let i = 0; i < p.length; i++) {
		body[i] = p[i] ^ key[i % 4];
	}
	return Buffer.concat([Buffer.from(hdr), key, body]);
}

/* The close code the server ends a raw socket with, within timeoutMs. */
export async function closeCode(ws, timeoutMs = 5000) {
	const r = await Promise.race([ws.closed,
		sleep(timeoutMs).then(() => ({ code: 'none' }))]);
	ws.terminate();
	return r.code;
}

export { env };
