// sio.bench.mjs: event-room fan-out over Socket.IO (WebSocket only) with
// the official socket.io-client: N clients in one event room, 5 senders; a
// burst (each sender 200 messages, the next once the last is acked) and a
// steady phase (20 messages/s in all for 10 s). Measured against the
// signaling daemon of the suite and against the socket.io reference in
// tests/bench/sio-reference/ (started here, same handlers, no database),
// in the same run: connect rate, deliveries/s, delivery latency p50/p99,
// server RSS per connection and server CPU seconds (/proc/<pid>/stat and
// status before and after), and every message counted at every other
// client (zero loss, or the bench fails). Prints the ratios of issue 4.
//
// Needs the suite started by tests/bench/run.sh (SC_TEST_* variables) with
// the auth, events and signaling daemons; skips with a message without
// them. Knobs: SC_BENCH_SIO_CLIENTS (room sizes, comma list: 200,1000).
// Users: joined to one own event through events, with access tokens
// minted with the suite's key (SC_BENCH_SIO_REGISTER=1: registered and
// logged in through auth instead; argon2 makes that about 50 ms a user on
// 2 CPUs). Signaling is restarted (deploy/local.sh stop-service and
// start-service) and a fresh reference started for every size, so the RSS
// a size adds is not memory an earlier size left in the allocator.
// The receivers are spread over SC_BENCH_SIO_WORKERS (4) worker threads
// (tests/bench/sio-receivers.mjs), the senders in the main thread, so one
// event loop does not read a whole room's copies in turn; the "client"
// column is the CPU this process (all its threads) used in the phase, in
// CPUs. On a 2-CPU machine the clients still share the CPUs with the
// server, so latencies include waiting for a CPU. Then a hold run:
// SC_BENCH_SIO_HOLD (10000; 0 skips it) connections that join nothing,
// held for 10 s against each server: connect rate, RSS per connection and
// that every one of them is still connected. "us/deliv" is the server's
// CPU per delivery, "user" its user-space part; the rest is the kernel's,
// mostly TCP over loopback, where the sender's write also runs the
// receiving side's TCP and wakes the reader.
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { Group, clock, pool } from './sio-receivers.mjs';

import { Client, createEvent, joinEvent, localSh, login, register }
	from '../integration/lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REFERENCE_DIR = path.join(HERE, 'sio-reference');

const SIZES = (process.env.SC_BENCH_SIO_CLIENTS ?? '200,1000').split(',')
	.map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 5);
const SENDERS = 5;
const BURST_PER_SENDER = 200;
const STEADY_RATE = 20;     // messages/s, all senders together
const STEADY_SECONDS = 10;
const SETUP_CONCURRENCY = 16;
const DRAIN_TIMEOUT_MS = 60000;
const WORKERS = Math.max(1, Number(process.env.SC_BENCH_SIO_WORKERS ?? 4));
const HOLD = Math.max(0, Number(process.env.SC_BENCH_SIO_HOLD ?? 10000));
const HOLD_SECONDS = 10;
const CLK_TCK = 100;        // sysconf(_SC_CLK_TCK) on Linux
const PASSWORD = 'bench password 0123';

const say = (s) => console.log(`sio bench: ${s}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function skip(why) {
	say(`skipped: ${why}`);
	process.exit(0);
}

/* ---- /proc -------------------------------------------------------------- */

/* {cpu: user+system seconds, user: user seconds, rss: bytes} of a
 * process. */
function procStats(pid) {
	const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	// the fields after "(comm)": state is field 3, utime 14, stime 15
	const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	const user = Number(f[11]) / CLK_TCK;
	const cpu = user + Number(f[12]) / CLK_TCK;
	const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
	const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
	const rss = m === null ? NaN : Number(m[1]) * 1024;
	return { cpu, user, rss };
}

/* ---- setup of the daemon's users ---------------------------------------- */

const b64url = (b) => Buffer.from(b).toString('base64url');

/* An access token for user `id` signed with the suite's own key, as auth
 * signs them (ES256; iss, aud, sub, username, iat, exp, jti). */
function mintToken(key, id, username) {
	const now = Math.floor(Date.now() / 1000);
	const head = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT' }));
	const body = b64url(JSON.stringify({
		iss: process.env.SC_JWT_ISSUER ?? 'spotlight.cam',
		aud: process.env.SC_JWT_AUDIENCE ?? 'spotlight.cam',
		sub: String(id), username, iat: now, exp: now + 4 * 3600,
		jti: crypto.randomBytes(16).toString('hex'),
	}));
	const sig = crypto.sign('sha256', Buffer.from(`${head}.${body}`),
		{ key, dsaEncoding: 'ieee-p1363' });
	return `${head}.${body}.${b64url(sig)}`;
}

/* The suite's private key, unless SC_BENCH_SIO_REGISTER=1 asks for real
 * registrations (or the key is not there): null then. */
function suiteKey() {
	const file = path.join(process.env.SC_TEST_VAR, 'keys', 'jwt.key');
	if (process.env.SC_BENCH_SIO_REGISTER === '1' || !fs.existsSync(file)) {
		return null;
	}
	return crypto.createPrivateKey(fs.readFileSync(file));
}

/* n users who all joined one own event: {eventId, tokens}. By default
 * their tokens are minted with the suite's key (argon2 would make
 * registering 10,000 users take longer than the bench may run: about
 * 50 ms a user on 2 CPUs, twice); signaling cannot tell them from auth's
 * (the profile lookup finds no such user and falls back to the token's
 * claims, as it does when auth cannot be asked). SC_BENCH_SIO_REGISTER=1:
 * registered and logged in through auth, each from its own address. */
async function daemonUsers(n) {
	const auth = new Client(process.env.SC_TEST_AUTH_URL.replace(/\/+$/, ''));
	const events = new Client(
		process.env.SC_TEST_EVENTS_URL.replace(/\/+$/, ''));
	const ev = await createEvent();
	const run = crypto.randomBytes(3).toString('hex');
	const key = suiteKey();
	if (key !== null) {
		// ids far above any real user's
		const base = 1e12 + crypto.randomInt(1e6) * 1e5;
		const tokens = await pool(n, SETUP_CONCURRENCY, async (i) => {
			const accessToken = mintToken(key, base + i, `sb${run}-${i}`);
			await joinEvent(events, { accessToken }, ev);
			return accessToken;
		});
		return { eventId: ev.id, tokens };
	}
	const tokens = await pool(n, SETUP_CONCURRENCY, async (i) => {
		const ip = `10.${40 + (i >> 14)}.${(i >> 6) & 255}.${1 + (i & 63)}`;
		const r = await register(auth, {
			username: `sb${run}-${i}`, ip, password: PASSWORD });
		const s = await login(auth, r.username, r.password, { ip });
		await joinEvent(events, s, ev);
		return s.accessToken;
	});
	return { eventId: ev.id, tokens };
}

/* n access tokens for users who joined nothing (the hold run), minted
 * with the suite's key; null without it. */
function holdTokens(n) {
	const key = suiteKey();
	if (key === null) {
		return null;
	}
	const base = 2e12 + crypto.randomInt(1e6) * 1e5;
	const run = crypto.randomBytes(3).toString('hex');
	return Array.from({ length: n },
		(_, i) => mintToken(key, base + i, `sh${run}-${i}`));
}

/* ---- the reference ------------------------------------------------------ */

async function startReference() {
	const child = spawn(process.execPath, ['server.js'], {
		cwd: REFERENCE_DIR,
		env: { ...process.env, REF_ADDR: '127.0.0.1', REF_PORT: '0' },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	let log = '';
	child.stderr.on('data', (d) => { log += d; });
	const port = await new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(
			`the reference did not start within 10 s: ${log}`)), 10000);
		child.stdout.on('data', (d) => {
			log += d;
			const m = /listening on (\d+)/.exec(log);
			if (m !== null) {
				clearTimeout(timer);
				resolve(Number(m[1]));
			}
		});
		child.on('exit', (code) => {
			clearTimeout(timer);
			reject(new Error(`the reference exited (${code}): ${log}`));
		});
	});
	child.removeAllListeners('exit');
	child.stdout.resume();
	return { name: 'socket.io', url: `http://127.0.0.1:${port}`,
		pid: child.pid, child };
}

/* ---- one load run ------------------------------------------------------- */

/* A group of sockets in a worker thread (sio-receivers.mjs), with the
 * Group's methods called as call(op, ...args). */
class Remote {
	constructor(url, tokens) {
		this.waiting = new Map();
		this.next = 1;
		this.w = new Worker(new URL('./sio-receivers.mjs', import.meta.url),
			{ workerData: { url, tokens } });
		this.w.on('message', ({ id, result, error }) => {
			const p = this.waiting.get(id);
			this.waiting.delete(id);
			if (error !== undefined) {
				p.reject(new Error(error));
			} else {
				p.resolve(result);
			}
		});
		this.w.on('error', (e) => {
			for (const p of this.waiting.values()) {
				p.reject(e);
			}
			this.waiting.clear();
		});
	}

	call(op, ...args) {
		return new Promise((resolve, reject) => {
			const id = this.next++;
			this.waiting.set(id, { resolve, reject });
			this.w.postMessage({ id, op, args });
		});
	}

	stop() {
		return this.w.terminate();
	}
}

/* The senders' group, in this thread, with Remote's interface. */
class Local {
	constructor(url, tokens) {
		this.group = new Group(url, tokens);
	}

	async call(op, ...args) {
		return this.group[op](...args);
	}

	async stop() {}
}

/* tokens in `parts` slices of near equal size (none empty). */
function split(tokens, parts) {
	const out = [];
	const k = Math.min(parts, tokens.length);
	for (let j = 0; j < k; j++) {
		out.push(tokens.slice(Math.floor((j * tokens.length) / k),
			Math.floor(((j + 1) * tokens.length) / k)));
	}
	return out;
}

function quantile(sorted, q) {
	if (sorted.length === 0) {
		return NaN;
	}
	return sorted[Math.min(sorted.length - 1,
		Math.floor(q * sorted.length))];
}

/* The share of one CPU this process (all its threads) used since
 * cpuUsage() gave `since` at performance.now() `t0`. */
function clientShare(since, t0) {
	const u = process.cpuUsage(since);
	return (u.user + u.system) / 1000 / (performance.now() - t0);
}

function ackOk(what, r) {
	if (r === null || typeof r !== 'object' || r.ok !== true) {
		throw new Error(`${what}: ack ${JSON.stringify(r).slice(0, 200)}`);
	}
	return r;
}

/* Every group's counts of one phase, joined in token order. */
async function collect(groups, expected, t0) {
	const deadline = performance.now() + DRAIN_TIMEOUT_MS;
	for (;;) {
		const counts = await Promise.all(groups.map((g) => g.call('count')));
		const got = counts.reduce((a, c) => a + c.got, 0);
		if (got >= expected || performance.now() > deadline) {
			break;
		}
		await sleep(20);
	}
	await sleep(200); // late duplicates or strays
	const reports = await Promise.all(groups.map((g) => g.call('report')));
	const lat = new Float64Array(reports.reduce((a, r) => a + r.got, 0));
	const perSocket = [];
	let off = 0;
	let got = 0;
	let stray = 0;
	let lastAt = t0;
	for (const r of reports) {
		lat.set(r.lat, off);
		off += r.lat.length;
		got += r.got;
		stray += r.stray;
		lastAt = Math.max(lastAt, r.lastAt);
		perSocket.push(...r.perSocket);
	}
	return { expected, got, stray, lastAt, lat, perSocket };
}

/* Start every group's sockets (once their threads answer): seconds. */
async function connectAll(groups) {
	await Promise.all(groups.map((g) => g.call('alive'))); // started
	const t0 = performance.now();
	await Promise.all(groups.map((g) => g.call('connect')));
	return (performance.now() - t0) / 1000;
}

async function endAll(groups) {
	await Promise.all(groups.map((g) => g.call('close')));
	await Promise.all(groups.map((g) => g.stop()));
	await sleep(500);
}

async function load(target, n, eventId, tokens) {
	const before = procStats(target.pid);
	const senderGroup = new Local(target.url, tokens.slice(0, SENDERS));
	const groups = [senderGroup, ...split(tokens.slice(SENDERS, n), WORKERS)
		.map((t) => new Remote(target.url, t))];
	const senders = senderGroup.group;
	try {
		const connectS = await connectAll(groups);
		await Promise.all(groups.map((g) => g.call('join', eventId)));
		await sleep(1000); // the presence events of the joins settle
		const joined = procStats(target.pid);
		const send = async (s, name, k) => {
			ackOk('send_event_message', await s.timeout(30000).emitWithAck(
				'send_event_message', { eventId,
					content: `${name}|${k}|${clock()}` }));
		};
		const phase = async (name, messages, drive) => {
			// the phases are said as they start, for a profiler to
			// catch them
			say(`${target.name} N=${n}: ${name}`);
			await Promise.all(groups.map((g) => g.call('startPhase', name,
				messages * SENDERS)));
			const s0 = procStats(target.pid);
			const cc0 = process.cpuUsage();
			const tp = performance.now();
			const t0c = clock();
			await drive();
			const p = await collect(groups, messages * (n - 1), t0c);
			const s1 = procStats(target.pid);
			return summarize(p, n, messages, s1.cpu - s0.cpu,
				s1.user - s0.user, (p.lastAt - t0c) / 1000,
				clientShare(cc0, tp));
		};

		// burst: every sender as fast as its acks allow
		const burst = await phase('burst', SENDERS * BURST_PER_SENDER,
			() => Promise.all(senders.sockets.map(async (s, j) => {
				for (let k = 0; k < BURST_PER_SENDER; k++) {
					await send(s, 'burst', `${j}.${k}`);
				}
			})));

		// steady: STEADY_RATE messages/s over the senders in turn
		const steady = await phase('steady', STEADY_RATE * STEADY_SECONDS,
			async () => {
				const ts = performance.now();
				const acks = [];
				for (let k = 0; k < STEADY_RATE * STEADY_SECONDS; k++) {
					const d = ts + (k * 1000) / STEADY_RATE - performance.now();
					if (d > 0) {
						await sleep(d);
					}
					acks.push(send(senders.sockets[k % SENDERS], 'steady',
						String(k)));
				}
				await Promise.all(acks);
			});
		return {
			n, connectRate: n / connectS,
			rssPerConn: (joined.rss - before.rss) / n, burst, steady,
		};
	} finally {
		await endAll(groups);
	}
}

/* One phase's counts: every socket gets every message but its own. */
function summarize(p, n, messages, cpu, user, secs, client) {
	const lat = p.lat.sort();
	let bad = 0;
	for (let i = 0; i < n; i++) {
		const own = i < SENDERS ? messages / SENDERS : 0;
		if (p.perSocket[i] !== messages - own) {
			bad++;
		}
	}
	return {
		expected: p.expected, got: p.got, stray: p.stray,
		badSockets: bad, cpu, perS: p.got / secs, client,
		perCpuS: cpu > 0 ? p.got / cpu : Infinity,
		userUs: p.got > 0 ? (user * 1e6) / p.got : NaN,
		p50: quantile(lat, 0.5), p99: quantile(lat, 0.99),
	};
}

/* n connections held with nothing to do: how fast they connect, what each
 * costs the server, and whether all are still there after HOLD_SECONDS
 * (several of the server's heartbeats when SC_SIO_PING_INTERVAL_MS is
 * short; at least the connection timers' and the accept path's worth). */
async function hold(target, tokens) {
	const n = tokens.length;
	const before = procStats(target.pid);
	const groups = split(tokens, WORKERS).map((t) => new Remote(target.url, t));
	try {
		const connectS = await connectAll(groups);
		await sleep(HOLD_SECONDS * 1000);
		const alive = await Promise.all(groups.map((g) => g.call('alive')));
		const held = procStats(target.pid);
		return {
			server: target.name, n, connectRate: n / connectS,
			rssPerConn: (held.rss - before.rss) / n,
			connected: alive.reduce((a, x) => a + x.connected, 0),
			disconnects: alive.reduce((a, x) => a + x.disconnects, 0),
		};
	} finally {
		await endAll(groups);
	}
}

/* ---- output ------------------------------------------------------------- */

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : String(x));
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : String(x));
const k0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en')
	: String(x));

function row(cells, widths) {
	return cells.map((c, i) => String(c).padStart(widths[i])).join('  ');
}

function printTable(results) {
	const widths = [10, 5, 7, 8, 7, 9, 7, 7, 6, 9, 7, 7, 5];
	console.log('');
	console.log(row(['server', 'N', 'conn/s', 'KB/conn', 'phase',
		'deliv/s', 'p50 ms', 'p99 ms', 'cpu s', 'us/deliv', 'user', 'client',
		'lost'], widths));
	for (const r of results) {
		for (const ph of ['burst', 'steady']) {
			const p = r[ph];
			console.log(row([r.server, r.n, k0(r.connectRate),
				f1(r.rssPerConn / 1024), ph, k0(p.perS), f2(p.p50),
				f2(p.p99), f2(p.cpu), f2(1e6 / p.perCpuS), f2(p.userUs),
				`${Math.round(p.client * 100)}%`, p.expected - p.got],
			widths));
		}
	}
}

function printRatios(ours, ref) {
	const ratio = (a, b) => (b > 0 ? (a / b).toFixed(2) : 'n/a');
	console.log('');
	say(`ratios at N=${ours.n} (signaling / socket.io reference):`);
	for (const ph of ['burst', 'steady']) {
		const a = ours[ph];
		const b = ref[ph];
		say(`  ${ph}: deliveries per server CPU-second ` +
			`${k0(a.perCpuS)} / ${k0(b.perCpuS)} = ` +
			`${ratio(a.perCpuS, b.perCpuS)}x (goal >= 5x); ` +
			`CPU per delivery ${f2(1e6 / a.perCpuS)} us / ` +
			`${f2(1e6 / b.perCpuS)} us, of which user space ` +
			`${f2(a.userUs)} / ${f2(b.userUs)} us; p99 ${f2(a.p99)} / ${f2(b.p99)} ms ` +
			`= ${ratio(a.p99, b.p99)}`);
	}
	say(`  RSS per connection ${f1(ours.rssPerConn / 1024)} / ` +
		`${f1(ref.rssPerConn / 1024)} KB = ` +
		`${ratio(ours.rssPerConn, ref.rssPerConn)} (goal <= 8 KB)`);
}

const secondsSince = (t) => ((performance.now() - t) / 1000).toFixed(1);

/* Says what a run lost; true when it lost anything (or got extras). */
function lost(r) {
	let any = false;
	for (const ph of ['burst', 'steady']) {
		const p = r[ph];
		if (p.got !== p.expected || p.badSockets !== 0 || p.stray !== 0) {
			any = true;
			say(`LOSS: ${r.server} N=${r.n} ${ph}: ${p.got} of ` +
				`${p.expected} delivered, ${p.badSockets} sockets off ` +
				`their count, ${p.stray} strays`);
		}
	}
	return any;
}

/* ---- main --------------------------------------------------------------- */

async function main() {
	const services = (process.env.SC_TEST_SERVICES ?? '').split(/\s+/);
	for (const s of ['auth', 'events', 'signaling']) {
		if (!services.includes(s)) {
			skip(`the suite runs no ${s} daemon`);
		}
	}
	if (!process.env.SC_TEST_SIGNALING_SIO_URL || !process.env.SC_TEST_VAR) {
		skip('SC_TEST_SIGNALING_SIO_URL or SC_TEST_VAR is not set (run it ' +
			'through tests/bench/run.sh or `make bench`)');
	}
	if (!fs.existsSync(path.join(REFERENCE_DIR, 'node_modules', 'socket.io'))) {
		skip(`${REFERENCE_DIR}/node_modules is missing (npm ci there)`);
	}
	if (SIZES.length === 0) {
		skip('SC_BENCH_SIO_CLIENTS names no size above 5');
	}
	const pidFile = path.join(process.env.SC_TEST_VAR, 'run', 'signaling.pid');
	const ours = {
		name: 'signaling',
		url: process.env.SC_TEST_SIGNALING_SIO_URL.replace(/\/+$/, ''),
		pid: Number(fs.readFileSync(pidFile, 'utf8').trim()),
	};
	// a fresh signaling process (see the top of the file)
	const restart = async () => {
		await localSh('stop-service', 'signaling');
		await localSh('start-service', 'signaling');
		ours.pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
	};
	const max = Math.max(...SIZES);
	say(`rooms of ${SIZES.join(', ')} clients, ${SENDERS} senders; ` +
		`burst ${SENDERS}x${BURST_PER_SENDER}, steady ${STEADY_RATE}/s for ` +
		`${STEADY_SECONDS} s; ${os.cpus().length} CPUs`);
	let t = performance.now();
	const { eventId, tokens } = await daemonUsers(max);
	say(`set up ${max} users in event ${eventId} in ${secondsSince(t)} s`);

	const refTokens = tokens.map((_, i) => `ref-${i}`);
	const results = [];
	let failed = false;
	for (const [idx, n] of SIZES.entries()) {
		// Fresh processes for every size, so the RSS a size adds is not
		// memory the previous size left in the allocator.
		if (idx > 0) {
			await restart();
		}
		const ref = await startReference();
		try {
			for (const [name, target, ev, toks] of [
				['signaling', ours, eventId, tokens],
				['socket.io', ref, 1, refTokens]]) {
				t = performance.now();
				const r = await load(target, n, ev, toks);
				r.server = name;
				results.push(r);
				say(`${name} N=${n} done in ${secondsSince(t)} s`);
				failed = lost(r) || failed;
			}
		} finally {
			ref.child.kill('SIGTERM');
		}
	}
	const holds = [];
	if (HOLD > 0) {
		const htokens = holdTokens(HOLD);
		if (htokens === null) {
			say(`hold: skipped (${HOLD} users need the suite's key; ` +
				'SC_BENCH_SIO_REGISTER=1 registers them through auth)');
		} else {
			await restart();
			const ref = await startReference();
			try {
				for (const [target, toks] of [[ours, htokens],
					[ref, htokens.map((_, i) => `ref-${i}`)]]) {
					t = performance.now();
					const h = await hold(target, toks);
					holds.push(h);
					say(`${target.name}: held ${h.connected} of ${h.n} ` +
						`connections for ${HOLD_SECONDS} s ` +
						`(${h.disconnects} dropped), ` +
						`${f1(h.rssPerConn / 1024)} KB each, in ` +
						`${secondsSince(t)} s`);
					if (h.connected !== h.n || h.disconnects !== 0) {
						failed = true;
					}
				}
			} finally {
				ref.child.kill('SIGTERM');
			}
		}
	}
	printTable(results);
	for (const n of SIZES) {
		const of = (name) => results.find((r) => r.n === n &&
			r.server === name);
		printRatios(of('signaling'), of('socket.io'));
	}
	if (holds.length === 2) {
		const [a, b] = holds;
		say(`hold ${a.n}: ${a.connected} / ${b.connected} held, ` +
			`${k0(a.connectRate)} / ${k0(b.connectRate)} connections/s, ` +
			`${f1(a.rssPerConn / 1024)} / ${f1(b.rssPerConn / 1024)} KB ` +
			`RSS each (signaling / socket.io; goal: 10,000 held, <= 8 KB)`);
	}
	if (failed) {
		say('FAILED: messages were lost or connections dropped');
		process.exit(1);
	}
	say('zero loss: every message reached every other client in the room');
}

main().then(() => process.exit(0), (e) => {
	console.error(`sio bench: failed: ${e.stack ?? e}`);
	process.exit(1);
});
