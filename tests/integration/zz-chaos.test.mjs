// zz-chaos.test.mjs: faults under load (runs after zz-faults, last of all).
// While several socket.io-client clients chat with acks and clientIds and
// a prober calls every daemon's API, each daemon in turn is killed with
// SIGKILL and started again: the clients reconnect by themselves, every
// acknowledged message is in the history exactly once, and the API answers
// again. PostgreSQL restarts under writes: 503s for the gap, then success,
// and the counts kept beside the rows still agree. A WebSocket client that
// stops reading is dropped past the server's output bound while the others
// go on. A bus peer that answers nothing (SIGSTOP) makes its callers answer
// 503 within their deadline; after SIGCONT they work again.
//
// The daemons are the suite's own (pid files in $SC_TEST_VAR/run, started
// again with deploy/local.sh start-service); every one is left running and
// healthy (an after hook makes sure, whatever failed).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { io } from 'socket.io-client';

import {
	Client, assertError, assertStatus, collectPages, env, eventWithUsers,
	gatewayUrl, joinEvent, localSh, matchIn, needs, newSessions, requestMatch,
	serviceUrl, show, sleep, sql,
} from './lib.mjs';
import {
	call, callOk, closeAll, connect, rawSocket, sioUrl,
} from './signaling-lib.mjs';

const DAEMONS = ['auth', 'events', 'matchmaking', 'ratings', 'signaling'];
const startEnv = () => path.join(process.env.SC_TEST_VAR ?? '', 'run',
	'start.env');
const skip = (() => {
	const n = needs(...DAEMONS);
	if (n.skip) {
		return n;
	}
	if (!process.env.SC_TEST_VAR || !process.env.SC_TEST_REPO ||
		!existsSync(startEnv())) {
		return { skip: 'not a deploy/local.sh suite: no way to kill and ' +
			'start its daemons' };
	}
	return {};
})();
const live = !skip.skip;
const gw = live ? new Client(gatewayUrl()) : null;

const figures = { faults: 0, survived: 0, sent: 0, acked: 0, found: 0 };

/* Every unit of the suite, in DAEMONS order: a daemon, or one instance of
 * signaling when it runs several ("signaling-1", ...), from deploy/local.sh's
 * pid files. */
function units() {
	const dir = path.join(env('SC_TEST_VAR'), 'run');
	const re = new RegExp(`^(${DAEMONS.join('|')})(-[0-9]+)?\\.pid$`);
	return readdirSync(dir).filter((f) => re.test(f))
		.map((f) => f.slice(0, -4))
		.sort((a, b) => DAEMONS.indexOf(daemonOf(a)) -
			DAEMONS.indexOf(daemonOf(b)) || a.localeCompare(b));
}

const daemonOf = (unit) => unit.replace(/-[0-9]+$/, '');

/* A unit's own HTTP listener. */
function unitUrl(unit) {
	const m = /^signaling-([0-9]+)$/.exec(unit);
	if (m) {
		const urls = (process.env.SC_TEST_SIGNALING_URLS ?? '').split(/\s+/)
			.filter(Boolean);
		assert.ok(urls[Number(m[1])], `no URL for ${unit} in ` +
			'SC_TEST_SIGNALING_URLS');
		return urls[Number(m[1])].replace(/\/+$/, '');
	}
	return serviceUrl(unit);
}

const UNITS = live ? units() : [];

/* ---- the daemons' processes ---------------------------------------------- */

const pidFile = (s) => path.join(env('SC_TEST_VAR'), 'run', `${s}.pid`);

async function pidOf(s) {
	return Number((await fs.readFile(pidFile(s), 'utf8')).trim());
}

/* The state letter of a process (R, S, T, Z, ...), or null when gone. */
function procState(pid) {
	try {
		const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return st.slice(st.lastIndexOf(')') + 2).charAt(0);
	} catch {
		return null;
	}
}

const isAlive = (pid) => !['Z', 'X', null].includes(procState(pid));

/* SIGKILL the daemon and wait until it is gone. */
async function kill9(s) {
	const pid = await pidOf(s);
	assert.ok(isAlive(pid), `${s} (pid ${pid}) is not running`);
	process.kill(pid, 'SIGKILL');
	for (let i = 0; i < 100 && isAlive(pid); i++) {
		await sleep(50);
	}
	assert.ok(!isAlive(pid), `${s} (pid ${pid}) survived SIGKILL`);
	figures.faults++;
	return pid;
}

/* The daemons stopped with SIGSTOP and not yet continued. */
const frozen = new Set();

async function sigstop(s) {
	const pid = await pidOf(s);
	process.kill(pid, 'SIGSTOP');
	frozen.add(pid);
	for (let i = 0; i < 100 && procState(pid) !== 'T'; i++) {
		await sleep(10);
	}
	assert.equal(procState(pid), 'T', `${s} did not stop`);
	figures.faults++;
	return pid;
}

function sigcont(pid) {
	if (frozen.delete(pid)) {
		process.kill(pid, 'SIGCONT');
	}
}

const health = async (unit) => {
	try {
		return (await new Client(unitUrl(unit)).get('/health',
			{ timeoutMs: 2000 })).status;
	} catch {
		return 0;
	}
};

/* Repeat fn until it returns {ok: true} or timeoutMs passes; returns the
 * last value and the time taken. */
async function until(fn, timeoutMs, pauseMs = 100) {
	const t0 = Date.now();
	for (;;) {
		const v = await fn();
		if (v.ok || Date.now() - t0 > timeoutMs) {
			return { ...v, ms: Date.now() - t0 };
		}
		await sleep(pauseMs);
	}
}

/* Every daemon running and answering /health and /ready: continue what is
 * stopped, start what is dead. */
async function everyoneBack() {
	for (const pid of [...frozen]) {
		sigcont(pid);
	}
	for (const u of UNITS) {
		let pid = 0;
		try {
			pid = await pidOf(u);
		} catch {
			// no pid file: start it
		}
		if (!pid || !isAlive(pid)) {
			await localSh('start-service', u);
		}
	}
	for (const u of UNITS) {
		const r = await until(async () => {
			try {
				const res = await new Client(unitUrl(u)).get('/ready',
					{ timeoutMs: 2000 });
				return { ok: res.status === 200, res };
			} catch (e) {
				return { ok: false, e };
			}
		}, 20000, 200);
		assert.ok(r.ok, `${u} is not ready again`);
	}
}

after(async () => {
	closeAll();
	if (live) {
		await everyoneBack();
	}
});

/* The bus deadline of the suite (ms): SC_BUS_TIMEOUT_MS of its start, or
 * `name` when that is set and not 0. */
function deadline(name) {
	const vars = {};
	for (const line of readFileSync(startEnv(), 'utf8').split('\n')) {
		const m = /^(SC_[A-Z0-9_]+)=(.*)$/.exec(line);
		if (m) {
			vars[m[1]] = m[2].replace(/^'(.*)'$/, '$1');
		}
	}
	const own = Number(vars[name] ?? 0);
	return own > 0 ? own : Number(vars.SC_BUS_TIMEOUT_MS ?? 2000);
}

/* ---- load: chat ---------------------------------------------------------- */

/* A chat client that keeps sending event messages with clientIds, joins
 * its room again after every reconnect and sends again, with the same
 * clientId, whatever was not acknowledged. */
class Chatter {
	constructor(user, eventId, tag, url = sioUrl()) {
		this.user = user;
		this.eventId = eventId;
		this.tag = tag;
		this.n = 0;
		this.pending = new Map(); // clientId -> content, not acked yet
		this.acked = new Map(); // clientId -> message id
		this.inflight = new Set();
		this.refusals = new Map(); // error code -> count
		this.reconnects = 0;
		this.retries = 0; // sends of a clientId after its first
		this.offline = 0; // messages written while not in the room
		this.tried = new Set();
		this.holdUntil = 0; // told to wait (rate_limited) until then
		this.joined = false;
		this.sock = io(url, {
			forceNew: true, transports: ['websocket'], reconnection: true,
			reconnectionDelay: 100, reconnectionDelayMax: 1000, timeout: 5000,
			auth: { token: user.accessToken },
		});
		this.sock.on('connect', () => this.onConnect());
		this.sock.on('disconnect', () => {
			this.joined = false;
		});
		this.sock.io.on('reconnect', () => {
			this.reconnects++;
		});
	}

	count(code) {
		this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1);
	}

	async onConnect() {
		for (;;) {
			if (!this.sock.connected) {
				return;
			}
			try {
				const r = await this.sock.timeout(5000).emitWithAck(
					'join_event_room', { eventId: this.eventId });
				if (r.ok) {
					this.joined = true;
					this.flush();
					return;
				}
				this.count(`join:${r.error.code}`);
			} catch {
				this.count('join:no ack');
			}
			await sleep(200);
		}
	}

	/* A new message (sent now if connected, else when reconnected). */
	next() {
		const clientId = `${this.tag}-${++this.n}`;
		this.pending.set(clientId, `chaos ${clientId}`);
		if (!this.sock.connected || !this.joined) {
			this.offline++;
		}
		this.attempt(clientId);
	}

	flush() {
		for (const id of this.pending.keys()) {
			this.attempt(id);
		}
	}

	async attempt(clientId) {
		if (!this.sock.connected || !this.joined || this.inflight.has(clientId) ||
			!this.pending.has(clientId) || Date.now() < this.holdUntil) {
			return;
		}
		this.inflight.add(clientId);
		if (this.tried.has(clientId)) {
			this.retries++;
		}
		this.tried.add(clientId);
		try {
			const r = await this.sock.timeout(5000).emitWithAck(
				'send_event_message', { eventId: this.eventId,
					content: this.pending.get(clientId), clientId });
			if (r.ok) {
				assert.equal(r.message.content, `chaos ${clientId}`);
				this.acked.set(clientId, r.message.id);
				this.pending.delete(clientId);
			} else {
				this.count(r.error.code);
				if (r.error.code === 'rate_limited') {
					this.holdUntil = Date.now() + r.error.details.retryAfterMs;
				}
				if (r.error.code === 'not_participant') {
					this.joined = false; // a restarted signaling: join again
					this.onConnect();
				}
			}
		} catch {
			this.count('no ack');
		} finally {
			this.inflight.delete(clientId);
		}
	}

	close() {
		this.sock.close();
	}
}

/* Several chatters sending every `everyMs` until stop(); drain() sends
 * what is still pending until everything is acked or timeoutMs passes. */
class ChatLoad {
	constructor(users, eventId, tag, everyMs = 300, url = sioUrl()) {
		this.chatters = users.map((u, i) => new Chatter(u, eventId,
			`${tag}${i}`, url));
		this.everyMs = everyMs;
	}

	async ready() {
		const r = await until(async () => ({ ok: this.chatters.every((c) =>
			c.joined) }), 15000);
		assert.ok(r.ok, 'the chatters did not join their room');
	}

	start() {
		this.timer = setInterval(() => {
			for (const c of this.chatters) {
				c.next();
			}
		}, this.everyMs);
		this.retry = setInterval(() => {
			for (const c of this.chatters) {
				c.flush();
			}
		}, 1000);
	}

	stop() {
		clearInterval(this.timer);
	}

	async drain(timeoutMs = 30000) {
		const r = await until(async () => {
			for (const c of this.chatters) {
				c.flush();
			}
			return { ok: this.chatters.every((c) => c.pending.size === 0) };
		}, timeoutMs, 300);
		clearInterval(this.retry);
		return r.ok;
	}

	get sent() {
		return this.chatters.reduce((n, c) => n + c.n, 0);
	}

	get acked() {
		return this.chatters.reduce((n, c) => n + c.acked.size, 0);
	}

	/* Messages sent again with their clientId, and messages written while
	 * a client was out of its room (sent once it was back). */
	get retried() {
		return `${this.chatters.reduce((n, c) => n + c.retries, 0)} resent, ` +
			`${this.chatters.reduce((n, c) => n + c.offline, 0)} written offline`;
	}

	refusals() {
		const out = {};
		for (const c of this.chatters) {
			for (const [k, v] of c.refusals) {
				out[k] = (out[k] ?? 0) + v;
			}
		}
		return out;
	}

	close() {
		this.stop();
		clearInterval(this.retry);
		for (const c of this.chatters) {
			c.close();
		}
	}
}

/* Every acknowledged message of `load` is in the room's history exactly
 * once, and the room holds nothing else (no duplicate by clientId). */
async function assertHistory(load, eventId, reader) {
	const acked = new Map(); // message id -> clientId
	for (const c of load.chatters) {
		for (const [clientId, id] of c.acked) {
			assert.ok(!acked.has(id), `message ${id} acked twice`);
			acked.set(id, clientId);
		}
	}
	const { items } = await collectPages(gw,
		`/api/chat/events/${eventId}/messages`, reader.accessToken, 100);
	const seen = new Map();
	for (const m of items) {
		assert.ok(!seen.has(m.id), `message ${m.id} twice in the history`);
		seen.set(m.id, m);
	}
	for (const [id, clientId] of acked) {
		assert.ok(seen.has(id), `acked message ${id} (${clientId}) is not in ` +
			'the history');
		assert.equal(seen.get(id).content, `chaos ${clientId}`);
	}
	const contents = items.map((m) => m.content);
	assert.equal(new Set(contents).size, contents.length,
		'a message is stored twice');
	assert.equal(items.length, acked.size,
		'the history holds messages that were never acked');
	const dups = await sql('SELECT count(*) FROM (SELECT user_id, client_id ' +
		'FROM chat.messages WHERE room_kind = \'event\' AND room_id = ' +
		`${eventId} GROUP BY 1, 2 HAVING count(*) > 1) d`);
	assert.equal(dups, '0', 'duplicate rows by clientId');
	assert.equal(await sql('SELECT count(*) FROM chat.messages WHERE ' +
		`room_kind = 'event' AND room_id = ${eventId} AND client_id IS NULL`),
	'0');
	return items.length;
}

/* Lock chat.messages against inserts for ms (a psql of its own). Resolves
 * once the lock is held (or could not be seen within ms / 2) to {held,
 * done}: done resolves when the lock is released. */
async function holdChatLock(ms) {
	const p = spawn('psql', [env('SC_TEST_DATABASE_URL'), '-X', '-q', '-c',
		'BEGIN; LOCK TABLE chat.messages IN EXCLUSIVE MODE; ' +
		`SELECT pg_sleep(${ms / 1000}); COMMIT;`], { stdio: 'ignore' });
	const done = new Promise((resolve) => p.on('exit', resolve));
	const t0 = Date.now();
	while (Date.now() - t0 < ms / 2) {
		if (await sql('SELECT count(*) FROM pg_locks l JOIN pg_class c ON ' +
			'c.oid = l.relation WHERE c.relname = \'messages\' AND l.mode = ' +
			'\'ExclusiveLock\' AND l.granted') === '1') {
			return { held: true, done };
		}
	}
	return { held: false, done };
}

/* ---- load: API ----------------------------------------------------------- */

/* Calls every daemon's API through the gateway over and over; an answer
 * other than 200 or the suite's 503 is a failure. */
class ApiLoad {
	constructor(probes) {
		this.probes = Object.entries(probes);
		this.seen = {};
		this.bad = [];
		this.unavailable = null; // one 503 of the gateway
	}

	start() {
		this.running = true;
		this.loop = (async () => {
			while (this.running) {
				await Promise.all(this.probes.map(([name, f]) =>
					this.one(name, f)));
				await sleep(30);
			}
		})();
	}

	async one(name, f) {
		let res;
		try {
			res = await f();
		} catch (e) {
			this.bad.push(`${name}: ${e.message}`);
			return;
		}
		const k = `${name} ${res.status}`;
		this.seen[k] = (this.seen[k] ?? 0) + 1;
		if (res.status === 503) {
			try {
				assertError(res, 503, ['service_unavailable', 'timeout']);
				this.unavailable ??= res;
			} catch (e) {
				this.bad.push(`${name}: ${e.message}`);
			}
		} else if (res.status !== 200) {
			this.bad.push(`${name}: ${show(res)}`);
		}
	}

	async stop() {
		this.running = false;
		await this.loop;
	}
}

/* ---- kill -9 each daemon under load -------------------------------------- */

describe('kill -9 of each daemon under a steady load', skip, () => {
	test('clients reconnect by themselves; every acked message is in the ' +
		'history once; the API answers again', async (t) => {
		const { ev, users } = await eventWithUsers(gw, 5, 'chaos');
		const [reader] = users;
		const m = await matchIn(gw, 'accepted', users[0], users[1], ev);
		const tok = { token: reader.accessToken };
		const probes = {
			auth: () => gw.get('/api/users/me', tok),
			events: () => gw.get(`/api/events/${ev.id}`, tok),
			matchmaking: () => gw.get(`/api/matches/${m.id}`, tok),
			ratings: () => gw.get(`/api/ratings/stats/${users[1].user.id}`, tok),
			signaling: () => gw.get(`/api/chat/events/${ev.id}/messages?limit=5`,
				tok),
		};
		// through the gateway: with several signaling instances, the
		// clients spread over them and each instance's death hits some
		const chat = new ChatLoad(users.slice(1), ev.id, 'k', 300, gatewayUrl());
		const api = new ApiLoad(probes);
		try {
			await chat.ready();
			chat.start();
			api.start();
			await sleep(1000);
			const recovery = {};
			let inflight = 0; // messages unacked when signaling died
			for (const u of UNITS) {
				const s = daemonOf(u);
				const before0 = chat.acked;
				let lock = null;
				if (u === 'signaling') {
					// messages in flight when it dies: their INSERTs wait
					// behind a lock, and commit after the daemon is gone
					lock = await holdChatLock(5000);
					for (const c of chat.chatters) {
						c.next();
					}
					await sleep(150);
					inflight = chat.chatters.reduce((n, c) => n + c.inflight.size,
						0);
				}
				const pid = await kill9(u);
				if (s === 'signaling') {
					// a message written while its socket is down, whatever
					// the timing of the steady load: sent after the reconnect
					const gone = () => chat.chatters.filter((c) =>
						!c.sock.connected || !c.joined);
					await until(async () => ({ ok: gone().length > 0 }), 3000,
						20);
					for (const c of gone()) {
						c.next();
					}
				}
				await sleep(300); // the load meets the hole
				await localSh('start-service', u);
				assert.notEqual(await pidOf(u), pid);
				assert.equal(await health(u), 200);
				const r = await until(async () => {
					const res = await probes[s]();
					return { ok: res.status === 200, res };
				}, 15000);
				assert.ok(r.ok, `${u}'s API did not answer again: ${show(r.res)}`);
				recovery[u] = r.ms;
				// the chat goes on: new messages are acked after the restart
				const c = await until(async () =>
					({ ok: chat.acked >= before0 + 4 }), 20000);
				assert.ok(c.ok, `no chat progress after restarting ${u}: ` +
					JSON.stringify(chat.refusals()));
				await lock?.done;
				figures.survived++;
				await sleep(500);
			}
			chat.stop();
			await api.stop();
			// the gateway routes to every restarted unit again (nginx may keep
			// an instance of a several-server upstream marked failed for its
			// fail_timeout after it is back)
			const back = await until(async () => {
				const res = await probes.signaling();
				return { ok: res.status === 200, res };
			}, 20000, 200);
			assert.ok(back.ok, `the gateway's /api/chat did not recover: ` +
				show(back.res));
			assert.ok(await chat.drain(), 'messages still unacked after 30 s: ' +
				chat.chatters.map((c) => [...c.pending.keys()]).flat().join(' '));
			const found = await assertHistory(chat, ev.id, reader);
			const reconnects = chat.chatters.map((c) => c.reconnects);
			figures.sent += chat.sent;
			figures.acked += chat.acked;
			figures.found += found;
			t.diagnostic(`kill -9 x${UNITS.length} (${UNITS.join(', ')}): ` +
				'messages sent ' +
				`${chat.sent}, acked ${chat.acked}, found ${found} ` +
				`(${chat.retried}, ${inflight} in flight at the kill of ` +
				'signaling); reconnects ' +
				`${reconnects.join('/')}; refusals ${JSON.stringify(
					chat.refusals())}; API answers ${JSON.stringify(api.seen)}; ` +
				`back after (ms) ${JSON.stringify(recovery)}; the gateway's ` +
				`/api/chat answered again ${back.ms} ms after the last restart`);
			assert.deepEqual(api.bad, [], 'API answers other than 200/503');
			assert.ok(reconnects.every((n) => n >= 1),
				`a client did not reconnect: ${reconnects}`);
			assert.equal(chat.acked, chat.sent);
			assert.ok(chat.chatters.some((c) => c.offline > 0),
				'no message was written while signaling was down: the resend ' +
				'after a reconnect was not exercised');
			// the gateway's 503 is in the JSON shape with its headers
			if (api.unavailable) {
				assert.match(api.unavailable.headers.get(
					'content-security-policy') ?? '', /frame-ancestors/);
			}
			// every API works again
			for (const f of Object.values(probes)) {
				assertStatus(await f(), 200);
			}
			for (const u of UNITS) {
				assert.equal(await health(u), 200, u);
			}
			assertStatus(await gw.patch('/api/users/me',
				{ json: { bio: 'after the chaos' }, ...tok }), 200);
		} finally {
			chat.close();
			await api.stop();
		}
	});
});

/* ---- PostgreSQL restart under writes ------------------------------------- */

describe('PostgreSQL restarts under writes', skip, () => {
	test('writes fail with 503 in the gap, then succeed; nothing is half ' +
		'written', async (t) => {
		const { ev, users } = await eventWithUsers(gw, 12, 'chaosdb');
		const joiners = users.slice(0, 4);
		const pairs = [[users[4], users[5]], [users[6], users[7]],
			[users[8], users[9]]];
		const chat = new ChatLoad(users.slice(10), ev.id, 'd', 250);
		const statuses = {};
		const bad = [];
		const note = (what, res, ok) => {
			const k = `${what} ${res.status}`;
			statuses[k] = (statuses[k] ?? 0) + 1;
			if (res.status === 503) {
				try {
					assertError(res, 503, ['service_unavailable', 'timeout',
						'overloaded']);
				} catch (e) {
					bad.push(`${what}: ${e.message}`);
				}
			} else if (!ok.includes(res.status)) {
				bad.push(`${what}: ${show(res)}`);
			}
			return res;
		};
		let running = true;
		const created = new Map(); // match id -> [requester, target]
		const rated = [];

		// each pair, over and over: ask, accept, both rate, cancel (then the
		// pair may ask again). A step that got a 503 is tried again, and the
		// answer that tells it was done already is taken as done.
		const step = async (what, f, ok, done = [409]) => {
			for (;;) {
				const res = note(what, await f(), [...ok, ...done]);
				if (ok.includes(res.status) || done.includes(res.status)) {
					return res;
				}
				await sleep(100);
			}
		};
		const flow = async ([a, b]) => {
			while (running) {
				const asked = await step('POST /api/matches', () => gw.post(
					'/api/matches', { json: { targetUserId: b.user.id,
						eventId: ev.id }, token: a.accessToken }), [201]);
				const matchId = asked.status === 201 ? asked.body.match.id :
					asked.body.error.details.matchId;
				assert.ok(matchId > 0, show(asked));
				created.set(matchId, [a, b]);
				await step('PATCH accepted', () => gw.patch(
					`/api/matches/${matchId}`, { json: { status: 'accepted' },
						token: b.accessToken }), [200]);
				for (const [rater, score] of [[a, 5], [b, 3]]) {
					const res = await step('POST /api/ratings', () => gw.post(
						'/api/ratings', { json: { matchId, score,
							wouldCollaborateAgain: score > 4 },
						token: rater.accessToken }), [201]);
					if (res.status === 201) {
						rated.push(res.body.rating.id);
					}
				}
				await step('PATCH cancelled', () => gw.patch(
					`/api/matches/${matchId}`, { json: { status: 'cancelled' },
						token: a.accessToken }), [200]);
			}
		};
		const joinLoop = async (u, i) => {
			let n = i;
			while (running) {
				const url = `/api/events/${ev.id}/join`;
				const tok = { token: u.accessToken };
				const res = n++ % 2 === 0 ? await gw.delete(url, tok) :
					await gw.post(url, tok);
				note('join/leave', res, [200]);
				await sleep(40);
			}
			// end joined
			for (;;) {
				const res = note('join', await gw.post(`/api/events/${ev.id}/join`,
					{ token: u.accessToken }), [200]);
				if (res.status === 200) {
					return;
				}
				await sleep(100);
			}
		};
		const profileLoop = async (u) => {
			let n = 0;
			while (running) {
				note('PATCH /api/users/me', await gw.patch('/api/users/me',
					{ json: { bio: `write ${n++}` }, token: u.accessToken }), [200]);
				await sleep(40);
			}
		};

		try {
			await chat.ready();
			chat.start();
			const loops = [...joiners.map(joinLoop), profileLoop(users[11]),
				...pairs.map(flow)];
			await sleep(1000);
			const t0 = Date.now();
			await localSh('restart-db');
			figures.faults++;
			const restartMs = Date.now() - t0;
			await sleep(3000);
			running = false;
			await Promise.all(loops);
			chat.stop();
			assert.ok(await chat.drain(), 'chat messages still unacked: ' +
				JSON.stringify(chat.refusals()));
			const found = await assertHistory(chat, ev.id, users[0]);
			figures.sent += chat.sent;
			figures.acked += chat.acked;
			figures.found += found;
			t.diagnostic(`restart-db took ${restartMs} ms; ${created.size} ` +
				`matches asked, accepted, rated and cancelled; answers ` +
				`${JSON.stringify(statuses)}; chat sent ${chat.sent}, acked ` +
				`${chat.acked}, found ${found} (${chat.retried}), refusals ` +
				JSON.stringify(chat.refusals()));
			assert.deepEqual(bad, [], 'answers other than the expected ones');
			const gap = Object.entries(statuses).filter(([k]) =>
				k.endsWith(' 503')).reduce((n, [, v]) => n + v, 0);
			if (gap === 0) {
				t.diagnostic('no write met the restart\'s gap this time');
			}

			// the counts kept beside the rows agree with the rows
			assert.equal(await sql('SELECT participant_count - (SELECT count(*) ' +
				'FROM events.participants p WHERE p.event_id = e.id) FROM ' +
				`events.events e WHERE e.id = ${ev.id}`), '0',
			'participantCount differs from the participants');
			const ids = users.map((u) => u.user.id).join(',');
			assert.equal(await sql('SELECT count(*) FROM ratings.user_stats s ' +
				'CROSS JOIN LATERAL (SELECT count(*) AS n, coalesce(sum(r.score), ' +
				'0) AS total, count(*) FILTER (WHERE r.would_collaborate_again) ' +
				'AS again FROM ratings.ratings r WHERE r.rated_id = s.user_id) x ' +
				`WHERE s.user_id IN (${ids}) AND (s.ratings_count, s.score_sum, ` +
				's.collaborate_again_count) IS DISTINCT FROM (x.n, x.total, ' +
				'x.again)'), '0', 'user_stats differ from ratings');
			assert.equal(await sql('SELECT count(*) FROM ratings.ratings r WHERE ' +
				`r.rated_id IN (${ids}) AND NOT EXISTS (SELECT 1 FROM ` +
				'ratings.user_stats s WHERE s.user_id = r.rated_id)'), '0');
			// every match asked was accepted, rated by both and cancelled:
			// none is left half way
			assert.ok(created.size >= pairs.length);
			const rows = await sql('SELECT m.id || \'|\' || m.status || \'|\' || ' +
				'm.requester_id || \'|\' || m.target_id || \'|\' || coalesce((' +
				'SELECT string_agg(r.rater_id || \'>\' || r.rated_id, \' \' ' +
				'ORDER BY r.rater_id) FROM ratings.ratings r WHERE r.match_id = ' +
				'm.id), \'\') FROM matchmaking.matches m WHERE m.id IN (' +
				`${[...created.keys()].join(',')})`);
			const got = new Map(rows.split('\n').map((l) => [Number(l.split('|')[0]),
				l]));
			for (const [id, [a, b]] of created) {
				const [x, y] = a.user.id < b.user.id ? [a, b] : [b, a];
				assert.equal(got.get(id), `${id}|cancelled|${a.user.id}|` +
					`${b.user.id}|${x.user.id}>${y.user.id} ` +
					`${y.user.id}>${x.user.id}`);
			}
			for (const [a, b] of pairs) {
				const lo = Math.min(a.user.id, b.user.id);
				const hi = Math.max(a.user.id, b.user.id);
				assert.equal(await sql('SELECT count(*) FROM ' +
					`matchmaking.matches WHERE event_id = ${ev.id} AND ` +
					`user_low = ${lo} AND user_high = ${hi} AND ` +
					'status <> \'cancelled\''), '0');
			}
			assert.equal(await sql('SELECT count(*) FROM ratings.ratings WHERE ' +
				`id IN (${rated.join(',')})`), String(rated.length));
			for (const u of UNITS) {
				const res = await new Client(unitUrl(u)).get('/ready');
				assertStatus(res, 200);
			}
			figures.survived++;
		} finally {
			running = false;
			chat.close();
		}
	});
});

/* ---- a slow consumer ----------------------------------------------------- */

describe('a WebSocket client that stops reading', skip, () => {
	test('is dropped past the output bound; the others keep receiving',
		async (t) => {
			const { ev, users: [a, b, c] } = await eventWithUsers(gw, 3,
				'chaosslow');
			const m = await matchIn(gw, 'accepted', a, b, ev);
			// b: a raw client in the private room, then it stops reading
			const { ws } = await rawSocket(sioUrl());
			const nextMessage = (pred) => new Promise((resolve, reject) => {
				const on = (d) => {
					const s = d.toString();
					if (pred(s)) {
						ws.off('message', on);
						clearTimeout(tm);
						resolve(s);
					}
				};
				const tm = setTimeout(() => {
					ws.off('message', on);
					reject(new Error('no answer on the raw socket'));
				}, 8000);
				ws.on('message', on);
			});
			ws.send(`40${JSON.stringify({ token: b.accessToken })}`);
			await nextMessage((s) => s.startsWith('40'));
			ws.send(`421["join_private_room",${JSON.stringify(
				{ matchId: m.id })}]`);
			const joined = await nextMessage((s) => s.startsWith('431'));
			assert.match(joined, /"ok":true/);
			ws._socket.pause();

			// c listens to a in the event room the whole time
			const sc = await connect(c.accessToken);
			await callOk(sc, 'join_event_room', { eventId: ev.id });
			const senders = await Promise.all([0, 1, 2].map(() =>
				connect(a.accessToken, { timeoutMs: 15000 })));
			await callOk(senders[0], 'join_event_room', { eventId: ev.id });

			const sdp = 'x'.repeat(60000);
			let relayed = 0;
			let offline = null;
			const t0 = Date.now();
			const flood = async (s) => {
				while (offline === null && Date.now() - t0 < 40000) {
					const r = await call(s, 'webrtc_offer', { matchId: m.id,
						offer: { type: 'offer', sdp } }, 20000);
					if (r.ok) {
						relayed++;
					} else if (r.error.code === 'partner_offline') {
						offline ??= Date.now() - t0;
					} else if (r.error.code === 'rate_limited') {
						await sleep(r.error.details.retryAfterMs);
					} else {
						assert.fail(`webrtc_offer: ${JSON.stringify(r)}`);
					}
				}
			};
			const chatter = (async () => {
				const ids = [];
				for (let i = 0; offline === null && Date.now() - t0 < 40000; i++) {
					const r = await callOk(senders[0], 'send_event_message',
						{ eventId: ev.id, content: `during ${i}` }, 20000);
					ids.push(r.message.id);
					await sleep(300);
				}
				return ids;
			})();
			await Promise.all(senders.map(flood));
			const ids = await chatter;
			figures.faults++;
			assert.ok(offline !== null, `the slow client was never dropped ` +
				`(${relayed} offers of 60 KB relayed in 40 s)`);
			t.diagnostic(`dropped after ${offline} ms, ${relayed} offers ` +
				`(${Math.round(relayed * 60000 / 1048576)} MiB) relayed to it; ` +
				`${ids.length} event messages meanwhile`);
			assert.ok(relayed * 60000 > 4 * 1024 * 1024,
				`dropped after only ${relayed} offers`);
			// the listener got every message sent meanwhile, in order
			for (const id of ids) {
				await sc.inbox.get('event_message', (x) => x.id === id, 10000);
			}
			assert.deepEqual(sc.inbox.all('event_message').map((x) => x.id)
				.filter((x) => ids.includes(x)), ids);
			// the dropped client's connection is over once it reads again
			ws._socket.resume();
			const closed = await Promise.race([ws.closed,
				sleep(20000).then(() => null)]);
			ws.terminate();
			assert.ok(closed, 'the slow client\'s connection never ended');
			// b comes back with a fresh connection and gets offers again
			const sb = await connect(b.accessToken);
			await callOk(sb, 'join_private_room', { matchId: m.id });
			await callOk(senders[1], 'webrtc_offer', { matchId: m.id,
				offer: { type: 'offer', sdp: 'v=0' } });
			await sb.inbox.get('webrtc_offer', (x) => x.offer.sdp === 'v=0');
			assert.equal(await health('signaling'), 200);
			figures.survived++;
		});
});

/* ---- a bus peer that answers nothing ------------------------------------- */

describe('a bus peer that answers nothing (SIGSTOP)', skip, () => {
	/* fn's answer and how long it took. */
	const timed = async (fn) => {
		const t0 = Date.now();
		const res = await fn();
		return { res, ms: Date.now() - t0 };
	};
	const SLACK_MS = 2500; // a loaded machine; the point is "not forever"

	test('events stopped: POST /api/matches is 503 within matchmaking\'s ' +
		'deadline, join_event_room is refused in time; both work after SIGCONT',
	async (t) => {
		const { ev, users: [a, b, c] } = await eventWithUsers(gw, 3, 'chaosstop');
		const mine = await requestMatch(gw, c, a, ev);
		const limit = deadline('SC_EVENTS_TIMEOUT_MS');
		const sigLimit = deadline('SC_SIGNALING_BUS_TIMEOUT_MS');
		const sb = await connect(b.accessToken);
		const ask = () => gw.post('/api/matches', { json: {
			targetUserId: b.user.id, eventId: ev.id }, token: a.accessToken });
		const pid = await sigstop('events');
		let stopped;
		try {
			stopped = await timed(ask);
			assertError(stopped.res, 503, ['service_unavailable', 'timeout']);
			assert.ok(stopped.ms >= limit - 200,
				`answered after ${stopped.ms} ms: before the deadline ${limit}?`);
			assert.ok(stopped.ms <= limit + SLACK_MS,
				`answered after ${stopped.ms} ms (deadline ${limit} ms)`);
			// matchmaking itself is fine
			assertStatus(await gw.get(`/api/matches/${mine.id}`,
				{ token: a.accessToken }), 200);
			// signaling asks events too (b's yes is not cached yet)
			const j = await timed(() => call(sb, 'join_event_room',
				{ eventId: ev.id }, sigLimit + 10000));
			assert.equal(j.res.ok, false, JSON.stringify(j.res));
			assert.equal(j.res.error.code, 'service_unavailable');
			assert.ok(j.ms <= sigLimit + SLACK_MS, `join answered after ${j.ms} ms`);
		} finally {
			sigcont(pid);
		}
		const r = await until(async () => {
			const res = await ask();
			return { ok: res.status === 201, res };
		}, 15000, 200);
		assertStatus(r.res, 201);
		await callOk(sb, 'join_event_room', { eventId: ev.id });
		t.diagnostic(`events stopped: 503 after ${stopped.ms} ms (deadline ` +
			`${limit}); back ${r.ms} ms after SIGCONT`);
		figures.survived++;
	});

	test('matchmaking stopped: POST /api/ratings and join_private_room are ' +
		'refused within the deadline; they work after SIGCONT', async (t) => {
		const { ev, users: [a, b] } = await eventWithUsers(gw, 2, 'chaosstopm');
		const m = await matchIn(gw, 'accepted', a, b, ev);
		const limit = deadline('SC_BUS_TIMEOUT_MS');
		const sigLimit = deadline('SC_SIGNALING_BUS_TIMEOUT_MS');
		const sa = await connect(a.accessToken);
		const rate = () => gw.post('/api/ratings', { json: { matchId: m.id,
			score: 4, wouldCollaborateAgain: true }, token: a.accessToken });
		const pid = await sigstop('matchmaking');
		let stopped;
		try {
			stopped = await timed(rate);
			assertError(stopped.res, 503, ['service_unavailable', 'timeout']);
			assert.ok(stopped.ms >= limit - 200 && stopped.ms <= limit + SLACK_MS,
				`answered after ${stopped.ms} ms (deadline ${limit} ms)`);
			// signaling has not seen this match's status yet: it must ask
			const j = await timed(() => call(sa, 'join_private_room',
				{ matchId: m.id }, sigLimit + 10000));
			if (!j.res.ok) {
				assert.equal(j.res.error.code, 'service_unavailable');
			}
			assert.ok(j.ms <= sigLimit + SLACK_MS, `answered after ${j.ms} ms`);
			// ratings itself is fine
			assertStatus(await gw.get(`/api/ratings/stats/${b.user.id}`,
				{ token: a.accessToken }), 200);
		} finally {
			sigcont(pid);
		}
		const r = await until(async () => {
			const res = await rate();
			return { ok: res.status === 201, res };
		}, 15000, 200);
		assertStatus(r.res, 201);
		await callOk(sa, 'join_private_room', { matchId: m.id });
		t.diagnostic(`matchmaking stopped: 503 after ${stopped.ms} ms ` +
			`(deadline ${limit}); back ${r.ms} ms after SIGCONT`);
		figures.survived++;
	});

	test('auth stopped: a participants list that needs profiles is 503 ' +
		'within the deadline; tokens keep working; fine after SIGCONT',
	async (t) => {
		const { ev, users: [a] } = await eventWithUsers(gw, 3, 'chaosstopa');
		const limit = deadline('SC_BUS_TIMEOUT_MS');
		// two more who joined, whose profiles events has never fetched
		const fresh = await newSessions(gw, 2, 'chaosstopf');
		await Promise.all(fresh.map((u) => joinEvent(gw, u, ev)));
		const list = () => gw.get(`/api/events/${ev.id}/participants?limit=100`,
			{ token: a.accessToken });
		const pid = await sigstop('auth');
		let stopped;
		try {
			stopped = await timed(list);
			assertError(stopped.res, 503, ['service_unavailable', 'timeout']);
			assert.ok(stopped.ms <= limit + SLACK_MS,
				`answered after ${stopped.ms} ms (deadline ${limit} ms)`);
			// verifying a token needs no auth daemon
			assertStatus(await gw.get(`/api/events/${ev.id}`,
				{ token: fresh[0].accessToken }), 200);
		} finally {
			sigcont(pid);
		}
		const r = await until(async () => {
			const res = await list();
			return { ok: res.status === 200, res };
		}, 15000, 200);
		assertStatus(r.res, 200);
		assert.equal(r.res.body.items.length, 5);
		t.diagnostic(`auth stopped: 503 after ${stopped.ms} ms (deadline ` +
			`${limit}); back ${r.ms} ms after SIGCONT`);
		figures.survived++;
	});
});

describe('afterwards', skip, () => {
	test('every daemon is running and ready', async (t) => {
		await everyoneBack();
		for (const u of UNITS) {
			assert.equal(await health(u), 200, u);
		}
		t.diagnostic(`faults injected ${figures.faults}, survived ` +
			`${figures.survived} checks; chat messages sent ${figures.sent}, ` +
			`acked ${figures.acked}, found ${figures.found}`);
	});
});
