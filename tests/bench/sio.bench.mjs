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
// Latency is measured in this one client process, so at large rooms it
// includes the time this process needs to read every copy (the "client"
// column: the share of one CPU this process used in the phase).
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { io } from 'socket.io-client';

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
const CONNECT_CONCURRENCY = 100;
const SETUP_CONCURRENCY = 16;
const DRAIN_TIMEOUT_MS = 60000;
const CLK_TCK = 100;        // sysconf(_SC_CLK_TCK) on Linux
const PASSWORD = 'bench password 0123';

const say = (s) => console.log(`sio bench: ${s}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function skip(why) {
	say(`skipped: ${why}`);
	process.exit(0);
}

/* ---- /proc -------------------------------------------------------------- */

/* {cpu: user+system seconds, rss: bytes} of a process. */
function procStats(pid) {
	const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	// the fields after "(comm)": state is field 3, utime 14, stime 15
	const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	const cpu = (Number(f[11]) + Number(f[12])) / CLK_TCK;
	const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
	const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
	const rss = m === null ? NaN : Number(m[1]) * 1024;
	return { cpu, rss };
}

/* ---- setup of the daemon's users ---------------------------------------- */

async function pool(n, limit, fn) {
	const out = new Array(n);
	let next = 0;
	const worker = async () => {
		while (next < n) {
			const i = next++;
			out[i] = await fn(i);
		}
	};
	await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
	return out;
}

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

function connectOne(url, token) {
	return new Promise((resolve, reject) => {
		const s = io(url, {
			forceNew: true, reconnection: false, transports: ['websocket'],
			auth: { token }, timeout: 20000,
		});
		s.once('connect', () => resolve(s));
		s.once('connect_error', (e) => {
			s.close();
			reject(new Error(`connect: ${e.message}`));
		});
	});
}

function quantile(sorted, q) {
	if (sorted.length === 0) {
		return NaN;
	}
	return sorted[Math.min(sorted.length - 1,
		Math.floor(q * sorted.length))];
}

/* The share of one CPU this process used since cpuUsage() gave `since`
 * at performance.now() `t0` (1: the client is what limits the phase). */
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

/* Counts, per phase, what every socket received, with latencies. */
class Phase {
	constructor(name, n, messages) {
		this.name = name;
		this.expected = messages * (n - 1);
		this.got = 0;
		this.lat = new Float64Array(this.expected + 16);
		this.perSocket = new Int32Array(n);
		this.lastAt = 0;
		this.stray = 0;
		this.done = null;
		this.finished = new Promise((r) => { this.done = r; });
	}

	record(i, sentAt, now) {
		if (this.got < this.lat.length) {
			this.lat[this.got] = now - sentAt;
		}
		this.got++;
		this.perSocket[i]++;
		this.lastAt = now;
		if (this.got === this.expected) {
			this.done();
		}
	}
}

async function load(target, n, eventId, tokens) {
	const before = procStats(target.pid);
	const sockets = new Array(n);
	const t0 = performance.now();
	await pool(n, CONNECT_CONCURRENCY, async (i) => {
		sockets[i] = await connectOne(target.url, tokens[i]);
	});
	const connectS = (performance.now() - t0) / 1000;
	let phase = null;
	for (let i = 0; i < n; i++) {
		sockets[i].on('event_message', (m) => {
			const now = performance.now();
			const c = typeof m?.content === 'string'
				? m.content.split('|') : [];
			if (phase === null || c[0] !== phase.name) {
				if (phase !== null) {
					phase.stray++;
				}
				return;
			}
			phase.record(i, Number(c[2]), now);
		});
	}
	await pool(n, CONNECT_CONCURRENCY, async (i) => {
		ackOk('join_event_room', await sockets[i].timeout(30000)
			.emitWithAck('join_event_room', { eventId }));
	});
	await sleep(1000); // the presence events of the joins settle
	const joined = procStats(target.pid);
	const senders = sockets.slice(0, SENDERS);
	const send = async (s, name, k) => {
		ackOk('send_event_message', await s.timeout(30000).emitWithAck(
			'send_event_message', { eventId,
				content: `${name}|${k}|${performance.now()}` }));
	};
	const wait = async (p) => {
		const t = setTimeout(() => p.done(), DRAIN_TIMEOUT_MS);
		await p.finished;
		clearTimeout(t);
		await sleep(200); // late duplicates or strays
	};

	// burst: every sender as fast as its acks allow (the phases are said
	// as they start, for a profiler to catch them)
	say(`${target.name} N=${n}: burst`);
	phase = new Phase('burst', n, SENDERS * BURST_PER_SENDER);
	const burst = phase;
	const cpu0 = procStats(target.pid).cpu;
	const cc0 = process.cpuUsage();
	const tb = performance.now();
	await Promise.all(senders.map(async (s, j) => {
		for (let k = 0; k < BURST_PER_SENDER; k++) {
			await send(s, 'burst', `${j}.${k}`);
		}
	}));
	await wait(burst);
	const burstCpu = procStats(target.pid).cpu - cpu0;
	const burstS = (burst.lastAt - tb) / 1000;
	const burstClient = clientShare(cc0, tb);

	// steady: STEADY_RATE messages/s over the senders in turn
	say(`${target.name} N=${n}: steady`);
	phase = new Phase('steady', n, STEADY_RATE * STEADY_SECONDS);
	const steady = phase;
	const cpu1 = procStats(target.pid).cpu;
	const cc1 = process.cpuUsage();
	const ts = performance.now();
	const acks = [];
	for (let k = 0; k < STEADY_RATE * STEADY_SECONDS; k++) {
		const due = ts + (k * 1000) / STEADY_RATE;
		const d = due - performance.now();
		if (d > 0) {
			await sleep(d);
		}
		acks.push(send(senders[k % SENDERS], 'steady', String(k)));
	}
	await Promise.all(acks);
	await wait(steady);
	const steadyCpu = procStats(target.pid).cpu - cpu1;
	const steadyS = (steady.lastAt - ts) / 1000;
	const steadyClient = clientShare(cc1, ts);

	for (const s of sockets) {
		s.close();
	}
	await sleep(500);

	const sum = (p, cpu, secs, client) => {
		const lat = p.lat.subarray(0, Math.min(p.got, p.lat.length)).sort();
		// each socket gets every message but its own ones
		const sent = p.expected / (n - 1);
		let bad = 0;
		for (let i = 0; i < n; i++) {
			const own = i < SENDERS ? sent / SENDERS : 0;
			if (p.perSocket[i] !== sent - own) {
				bad++;
			}
		}
		return {
			expected: p.expected, got: p.got, stray: p.stray,
			badSockets: bad, cpu, perS: p.got / secs, client,
			perCpuS: cpu > 0 ? p.got / cpu : Infinity,
			p50: quantile(lat, 0.5), p99: quantile(lat, 0.99),
		};
	};
	return {
		n, connectRate: n / connectS,
		rssPerConn: (joined.rss - before.rss) / n,
		burst: sum(burst, burstCpu, burstS, burstClient),
		steady: sum(steady, steadyCpu, steadyS, steadyClient),
	};
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
	const widths = [10, 5, 7, 8, 7, 9, 7, 7, 6, 9, 7, 5];
	console.log('');
	console.log(row(['server', 'N', 'conn/s', 'KB/conn', 'phase',
		'deliv/s', 'p50 ms', 'p99 ms', 'cpu s', 'us/deliv', 'client',
		'lost'], widths));
	for (const r of results) {
		for (const ph of ['burst', 'steady']) {
			const p = r[ph];
			console.log(row([r.server, r.n, k0(r.connectRate),
				f1(r.rssPerConn / 1024), ph, k0(p.perS), f2(p.p50),
				f2(p.p99), f2(p.cpu), f2(1e6 / p.perCpuS),
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
			`${f2(1e6 / b.perCpuS)} us; p99 ${f2(a.p99)} / ${f2(b.p99)} ms ` +
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
			await localSh('stop-service', 'signaling');
			await localSh('start-service', 'signaling');
			ours.pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
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
	printTable(results);
	for (const n of SIZES) {
		const of = (name) => results.find((r) => r.n === n &&
			r.server === name);
		printRatios(of('signaling'), of('socket.io'));
	}
	if (failed) {
		say('FAILED: messages were lost');
		process.exit(1);
	}
	say('zero loss: every message reached every other client in the room');
}

main().then(() => process.exit(0), (e) => {
	console.error(`sio bench: failed: ${e.stack ?? e}`);
	process.exit(1);
});
