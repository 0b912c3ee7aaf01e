// metrics.test.mjs: operating the suite: every daemon's GET /metrics is
// valid Prometheus text (parsed and checked by the small parser below), its
// counters move with traffic (HTTP per route pattern, the bus between
// matchmaking and events, signaling's Socket.IO connections and events),
// the gateway keeps it private, a bad configuration stops a daemon at once
// with a clear message, and SIGHUP reopens the log without stopping it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import {
	Client, assertError, env, eventWithUsers, gatewayUrl, needs, newSession,
	requestMatch, serviceUrl, services, show, sleep, tempDir,
} from './lib.mjs';
import { call, closeAll, connect } from './signaling-lib.mjs';

const gw = new Client(gatewayUrl());

after(() => closeAll());

/* ---- a Prometheus text format (0.0.4) parser ----------------------------- */

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s, where) {
	if (s === '+Inf') {
		return Infinity;
	}
	if (s === '-Inf') {
		return -Infinity;
	}
	if (s === 'NaN') {
		return NaN;
	}
	assert.match(s, /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/,
		`${where}: bad value '${s}'`);
	return Number(s);
}

/* The label set of a sample, from just after '{': [labels, rest]. */
function parseLabels(s, where) {
	const labels = {};
	let i = 0;
	for (;;) {
		if (s[i] === '}') {
			return [labels, s.slice(i + 1)];
		}
		const m = LABEL_NAME.exec(s.slice(i));
		assert.ok(m, `${where}: bad label name at '${s.slice(i)}'`);
		const name = m[0];
		i += name.length;
		assert.equal(s.slice(i, i + 2), '="', `${where}: expected ="`);
		i += 2;
		let v = '';
		for (;;) {
			assert.ok(i < s.length, `${where}: unterminated label value`);
			const c = s[i++];
			if (c === '"') {
				break;
			}
			if (c === '\\') {
				const e = s[i++];
				assert.ok(['\\', '"', 'n'].includes(e),
					`${where}: bad escape \\${e}`);
				v += e === 'n' ? '\n' : e;
			} else {
				assert.notEqual(c, '\n', `${where}: raw newline in a label`);
				v += c;
			}
		}
		assert.ok(!(name in labels), `${where}: label '${name}' twice`);
		labels[name] = v;
		if (s[i] === ',') {
			i++;
		} else {
			assert.equal(s[i], '}', `${where}: expected , or }`);
		}
	}
}

const familyOf = (name, families) => {
	if (families.has(name)) {
		return name;
	}
	for (const suffix of ['_bucket', '_sum', '_count']) {
		const base = name.slice(0, -suffix.length);
		if (name.endsWith(suffix) &&
			['histogram', 'summary'].includes(families.get(base)?.type)) {
			return base;
		}
	}
	return undefined;
};

const labelKey = (labels, without = []) => JSON.stringify(
	Object.keys(labels).filter((k) => !without.includes(k)).sort()
		.map((k) => [k, labels[k]]));

/* Parse and check a whole exposition: returns Map name -> {type, help,
 * samples: [{name, labels, value}]}. Fails on anything a Prometheus
 * server would refuse or that breaks the format's rules (a sample before
 * its TYPE, a series twice, non-cumulative buckets, +Inf != _count). */
export function parseProm(text) {
	const families = new Map();
	const seen = new Set();
	assert.ok(text.endsWith('\n'), 'the exposition must end with a newline');
	const lines = text.slice(0, -1).split('\n');
	lines.forEach((line, n) => {
		const where = `line ${n + 1} '${line.slice(0, 120)}'`;
		if (line === '') {
			return;
		}
		if (line.startsWith('#')) {
			const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
			if (!m) {
				return; // a comment
			}
			const [, kind, name, rest] = m;
			assert.match(name, /^[a-zA-Z_:][a-zA-Z0-9_:]*$/, where);
			const f = families.get(name) ?? { samples: [] };
			if (kind === 'TYPE') {
				assert.ok(TYPES.has(rest), `${where}: unknown type`);
				assert.equal(f.type, undefined, `${where}: TYPE twice`);
				assert.equal(f.samples.length, 0,
					`${where}: TYPE after samples`);
				f.type = rest;
			} else {
				assert.equal(f.help, undefined, `${where}: HELP twice`);
				// only \\ and \n are escapes in HELP text
				f.help = rest.replace(/\\(.?)/g, (_, c) => {
					assert.ok(c === '\\' || c === 'n', `${where}: bad escape`);
					return c === 'n' ? '\n' : '\\';
				});
			}
			families.set(name, f);
			return;
		}
		const nm = METRIC_NAME.exec(line);
		assert.ok(nm, `${where}: bad metric name`);
		const name = nm[0];
		let rest = line.slice(name.length);
		let labels = {};
		if (rest.startsWith('{')) {
			[labels, rest] = parseLabels(rest.slice(1), where);
		}
		const parts = rest.trim().split(/\s+/);
		assert.ok(rest.startsWith(' ') && parts.length >= 1 &&
			parts.length <= 2, `${where}: expected ' value [timestamp]'`);
		const value = parseValue(parts[0], where);
		const fam = familyOf(name, families);
		assert.ok(fam !== undefined, `${where}: sample without a TYPE`);
		const key = name + labelKey(labels);
		assert.ok(!seen.has(key), `${where}: series twice`);
		seen.add(key);
		families.get(fam).samples.push({ name, labels, value });
	});
	for (const [name, f] of families) {
		assert.ok(f.type, `${name}: HELP without TYPE`);
		if (f.type === 'counter') {
			for (const s of f.samples) {
				assert.ok(s.value >= 0, `${name}: negative counter`);
			}
		}
		if (f.type === 'histogram') {
			checkHistogram(name, f);
		}
	}
	return families;
}

function checkHistogram(name, f) {
	const series = new Map();
	for (const s of f.samples) {
		const k = labelKey(s.labels, ['le']);
		const e = series.get(k) ?? { buckets: [] };
		if (s.name === `${name}_bucket`) {
			assert.ok('le' in s.labels, `${name}: bucket without le`);
			e.buckets.push([parseValue(s.labels.le, name), s.value]);
		} else if (s.name === `${name}_sum`) {
			e.sum = s.value;
		} else if (s.name === `${name}_count`) {
			e.count = s.value;
		}
		series.set(k, e);
	}
	for (const [k, e] of series) {
		const where = `${name}${k}`;
		assert.ok(e.buckets.length > 0, `${where}: no buckets`);
		for (let i = 1; i < e.buckets.length; i++) {
			assert.ok(e.buckets[i][0] > e.buckets[i - 1][0],
				`${where}: le not increasing`);
			assert.ok(e.buckets[i][1] >= e.buckets[i - 1][1],
				`${where}: buckets not cumulative`);
		}
		const last = e.buckets.at(-1);
		assert.equal(last[0], Infinity, `${where}: no le="+Inf"`);
		assert.equal(e.count, last[1], `${where}: +Inf != _count`);
		assert.ok(Number.isFinite(e.sum), `${where}: no _sum`);
	}
}

/* The value of the sample `name` whose labels include `want` (all of
 * them), or 0 when there is none (a series appears at its first use). */
function value(families, name, want = {}) {
	const fam = familyOf(name, families);
	const f = fam !== undefined ? families.get(fam) : undefined;
	const hits = (f?.samples ?? []).filter((s) => s.name === name &&
		Object.entries(want).every(([k, v]) => s.labels[k] === v) &&
		Object.keys(s.labels).length === Object.keys(want).length);
	assert.ok(hits.length <= 1, `${name} ${JSON.stringify(want)}: ambiguous`);
	return hits.length ? hits[0].value : 0;
}

/* GET /metrics of a daemon, checked and parsed. */
async function scrape(svc) {
	const res = await fetch(`${serviceUrl(svc)}/metrics`);
	const text = await res.text();
	assert.equal(res.status, 200, `${svc} /metrics: ${res.status} ${text}`);
	assert.match(res.headers.get('content-type'),
		/^text\/plain; version=0\.0\.4/, `${svc} content type`);
	try {
		return parseProm(text);
	} catch (e) {
		e.message = `${svc} /metrics: ${e.message}`;
		throw e;
	}
}

/* Scrape until pred(families) holds (counters settle after the reply that
 * caused them is written), or fail after timeoutMs. */
async function scrapeUntil(svc, pred, what, timeoutMs = 5000) {
	const t0 = Date.now();
	for (;;) {
		const fams = await scrape(svc);
		if (pred(fams)) {
			return fams;
		}
		if (Date.now() - t0 > timeoutMs) {
			assert.fail(`${svc}: ${what} within ${timeoutMs} ms`);
		}
		await sleep(50);
	}
}

/* ---- the parser itself --------------------------------------------------- */

describe('the Prometheus text parser of this test', () => {
	test('accepts the format and refuses what Prometheus refuses', () => {
		const ok = '# HELP a_total A \\\\ b\\nc.\n# TYPE a_total counter\n' +
			'a_total{x="q\\"\\\\\\n",y="2"} 3 1700000000\n' +
			'# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\n' +
			'h_sum 1.5\nh_count 2\n';
		const f = parseProm(ok);
		assert.equal(f.get('a_total').help, 'A \\ b\nc.');
		assert.equal(value(f, 'a_total', { x: 'q"\\\n', y: '2' }), 3);
		assert.equal(value(f, 'h_count'), 2);
		for (const bad of [
			'a 1\n', // no TYPE
			'# TYPE a counter\na -1\n',
			'# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n',
			'# TYPE a gauge\na{x="\\t"} 1\n',
			'# HELP a x\\ty\n# TYPE a gauge\na 1\n',
			'# TYPE a gauge\na 1',
			'# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n' +
				'h_sum 1\nh_count 1\n',
			'# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\n' +
				'h_sum 1\nh_count 3\n',
			'# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
		]) {
			assert.throws(() => parseProm(bad), undefined, bad);
		}
	});
});

/* ---- every daemon --------------------------------------------------------- */

describe('GET /metrics on every daemon', () => {
	test('is valid Prometheus text with build, process, HTTP, bus and ' +
		'pool metrics, and bounded labels', async () => {
		const now = Date.now() / 1000;
		for (const svc of services()) {
			const f = await scrape(svc);
			assert.equal(value(f, 'spotlight_build_info',
				{ service: svc, version: f.get('spotlight_build_info')
					.samples[0].labels.version }), 1, svc);
			const start = value(f, 'process_start_time_seconds');
			assert.ok(start > now - 86400 && start <= now + 1,
				`${svc}: start time ${start}`);
			assert.ok(value(f, 'process_open_fds') > 0, svc);
			assert.ok(value(f, 'process_resident_memory_bytes') > 0, svc);
			for (const [name, type] of [
				['process_cpu_seconds_total', 'counter'],
				['spotlight_http_requests_total', 'counter'],
				['spotlight_http_request_duration_seconds', 'histogram'],
				['spotlight_http_requests_in_flight', 'gauge'],
				['spotlight_bus_requests_sent_total', 'counter'],
				['spotlight_bus_requests_served_total', 'counter'],
				['spotlight_bus_request_duration_seconds', 'histogram'],
				['spotlight_db_connections', 'gauge'],
				['spotlight_db_queue_length', 'gauge'],
				['spotlight_db_queries_total', 'counter'],
				['spotlight_db_query_errors_total', 'counter'],
			]) {
				assert.equal(f.get(name)?.type, type, `${svc}: ${name}`);
			}
			const own = {
				auth: [['spotlight_password_duration_seconds', 'histogram'],
					['spotlight_password_queue_length', 'gauge']],
				signaling: [['spotlight_sio_connections', 'gauge'],
					['spotlight_sio_events_received_total', 'counter'],
					['spotlight_eio_packets_total', 'counter']],
			};
			for (const [name, type] of own[svc] ?? []) {
				assert.equal(f.get(name)?.type, type, `${svc}: ${name}`);
			}
			const pool = ['busy', 'idle', 'down'].map((state) =>
				value(f, 'spotlight_db_connections', { state }));
			assert.ok(pool[0] + pool[1] >= 1, `${svc}: no pool connection ` +
				`up: ${pool}`);
			// route patterns, never raw paths: no numeric segment
			for (const s of f.get('spotlight_http_requests_total').samples) {
				const { route, code, method } = s.labels;
				assert.ok(route === 'unmatched' ||
					(route.startsWith('/') && !/\/\d+(\/|$)/.test(route)),
				`${svc}: route label '${route}'`);
				assert.match(code, /^[2-5]xx$/, svc);
				assert.match(method, /^[A-Z]+$/, svc);
			}
			assert.ok(value(f, 'spotlight_http_requests_total', {
				method: 'GET', route: '/health', code: '2xx' }) >= 1,
			`${svc}: /health was asked at start-up`);
		}
	});

	test('the gateway does not expose /metrics', async () => {
		const res = await gw.get('/metrics');
		assertError(res, 404, 'not_found');
		assert.doesNotMatch(res.text, /spotlight_|# TYPE/);
	});
});

describe('counters move with traffic', () => {
	test('GET /api/events through the gateway: events counts it under its ' +
		'route pattern, with its latency', needs('events', 'auth'),
	async () => {
		const u = await newSession(gw);
		const route = { method: 'GET', route: '/api/events' };
		const before = await scrape('events');
		const n0 = value(before, 'spotlight_http_requests_total',
			{ ...route, code: '2xx' });
		const h0 = value(before,
			'spotlight_http_request_duration_seconds_count', route);
		const id0 = value(before, 'spotlight_http_requests_total',
			{ method: 'GET', route: '/api/events/:id', code: '4xx' });
		for (let i = 0; i < 3; i++) {
			const res = await gw.get('/api/events', { token: u.accessToken });
			assert.equal(res.status, 200, show(res));
		}
		const miss = await gw.get('/api/events/999999999',
			{ token: u.accessToken });
		assert.equal(miss.status, 404, show(miss));
		const f = await scrapeUntil('events', (x) =>
			value(x, 'spotlight_http_requests_total',
				{ ...route, code: '2xx' }) >= n0 + 3, 'three more 2xx');
		assert.ok(value(f, 'spotlight_http_request_duration_seconds_count',
			route) >= h0 + 3);
		assert.ok(value(f, 'spotlight_http_request_duration_seconds_sum',
			route) > 0);
		assert.ok(value(f, 'spotlight_http_requests_total',
			{ method: 'GET', route: '/api/events/:id', code: '4xx' }) >=
			id0 + 1, 'the 404 counts under /api/events/:id');
		for (const s of f.get('spotlight_http_requests_total').samples) {
			assert.ok(!s.labels.route.includes('999999999'),
				'a raw path became a label');
		}
	});

	test('a match created: matchmaking counts its bus request to events, ' +
		'events counts it served, matchmaking its event published',
	needs('events', 'matchmaking', 'auth'), async () => {
		const method = 'events.participants.check';
		const sent = (x, outcome) => value(x,
			'spotlight_bus_requests_sent_total', { method, outcome });
		const served = (x) => value(x,
			'spotlight_bus_requests_served_total', { method, outcome: 'ok' });
		const published = (x) => (x.get('spotlight_bus_events_published_total')
			?.samples ?? []).filter((s) => s.labels.topic.startsWith('match.'))
			.reduce((a, s) => a + s.value, 0);
		const [mm0, ev0] = await Promise.all([scrape('matchmaking'),
			scrape('events')]);
		const { ev, users: [a, b] } = await eventWithUsers(gw, 2, 'mxbus');
		await requestMatch(gw, a, b, ev);
		const mm = await scrapeUntil('matchmaking',
			(x) => sent(x, 'ok') >= sent(mm0, 'ok') + 1,
			`${method} sent ok`);
		assert.ok(value(mm, 'spotlight_bus_request_duration_seconds_count',
			{ method }) >= value(mm0,
			'spotlight_bus_request_duration_seconds_count', { method }) + 1);
		assert.ok(published(mm) >= published(mm0) + 1, 'match.* published');
		assert.equal(value(mm, 'spotlight_bus_peer_connected',
			{ service: 'events', kind: 'REQ' }), 1);
		const evf = await scrapeUntil('events',
			(x) => served(x) >= served(ev0) + 1, `${method} served`);
		assert.ok(value(evf, 'spotlight_bus_serve_duration_seconds_count',
			{ method }) >= 1);
	});

	test('signaling: the connection gauges follow socket.io-client ' +
		'connects and disconnects; events count by name', needs('signaling',
		'auth'), async () => {
		const u = await newSession(gw);
		const conns = (x, transport) => value(x, 'spotlight_sio_connections',
			{ transport });
		const events = (x, event) => value(x,
			'spotlight_sio_events_received_total', { event });
		const packets = (x, name, direction) => value(x, name, { direction });
		const f0 = await scrape('signaling');

		const ws = await connect(u.accessToken);
		const f1 = await scrapeUntil('signaling',
			(x) => conns(x, 'websocket') === conns(f0, 'websocket') + 1,
			'one more websocket connection');
		assert.ok(value(f1, 'spotlight_sio_sockets') >= 1);
		await call(ws, 'join_event_room', { eventId: 999999999 });
		await call(ws, 'no_such_event', {});
		const f2 = await scrapeUntil('signaling', (x) =>
			events(x, 'join_event_room') >= events(f0, 'join_event_room') + 1 &&
			events(x, 'unknown') >= events(f0, 'unknown') + 1,
		'the two events counted');
		for (const name of ['spotlight_eio_packets_total',
			'spotlight_sio_packets_total']) {
			for (const d of ['in', 'out']) {
				assert.ok(packets(f2, name, d) > packets(f0, name, d),
					`${name} ${d}`);
			}
		}
		for (const s of f2.get('spotlight_sio_events_received_total').samples) {
			assert.notEqual(s.labels.event, 'no_such_event',
				'a client-chosen name became a label');
		}

		const poll = await connect(u.accessToken, { transports: ['polling'] });
		await scrapeUntil('signaling',
			(x) => conns(x, 'polling') === conns(f0, 'polling') + 1,
			'one polling session');
		ws.close();
		poll.close();
		await scrapeUntil('signaling',
			(x) => conns(x, 'websocket') === conns(f0, 'websocket') &&
				conns(x, 'polling') === conns(f0, 'polling'),
			'both gone after disconnect', 10000);
	});
});

/* ---- configuration at start-up, SIGHUP ----------------------------------- */

const SERVICES = ['auth', 'events', 'matchmaking', 'ratings', 'signaling'];

/* An environment a daemon starts with on its own, beside the suite: ports
 * picked by the kernel, its bus in a folder of its own, the suite's keys,
 * an unreachable database (a second auth must not deliver the suite's
 * mail outbox). */
function soloEnv(dir) {
	const e = { PATH: process.env.PATH };
	for (const [k, v] of Object.entries(process.env)) {
		if (/^(ASAN|UBSAN|LSAN)_OPTIONS$/.test(k)) {
			e[k] = v;
		}
	}
	Object.assign(e, {
		SC_HTTP_PORT: '0',
		SC_SIO_PORT: '0',
		SC_JWT_PUBLIC_KEY_FILE: path.join(env('SC_TEST_VAR'), 'keys',
			'jwt.pub'),
		SC_JWT_PRIVATE_KEY_FILE: path.join(env('SC_TEST_VAR'), 'keys',
			'jwt.key'),
		SC_DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/spotlight',
		SC_MAIL_OUTBOX_DIR: path.join(dir, 'mail'),
	});
	for (const s of SERVICES) {
		const u = s.toUpperCase();
		e[`SC_BUS_${u}_REQ`] = `ipc://${dir}/${s}-req.ipc`;
		e[`SC_BUS_${u}_PUB`] = `ipc://${dir}/${s}-pub.ipc`;
	}
	return e;
}

/* Start build/<svc> with env; resolves once `ready(stderr)` is true (at
 * once when ready is null), or when it exits: {code, signal, stderr,
 * proc}; code null while it runs. */
function startDaemon(svc, envv, { cwd, ready = null,
	timeoutMs = 15000 } = {}) {
	return new Promise((resolve, reject) => {
		const proc = spawn(path.join(env('SC_TEST_BUILD'), svc), [],
			{ env: envv, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
		let stderr = '';
		let done = false;
		const finish = (v) => {
			if (!done) {
				done = true;
				clearTimeout(t);
				resolve({ ...v, stderr, proc });
			}
		};
		const t = setTimeout(() => {
			proc.kill('SIGKILL');
			reject(new Error(`${svc}: neither ready nor gone within ` +
				`${timeoutMs} ms: ${stderr}`));
		}, timeoutMs);
		proc.stderr.on('data', (d) => {
			stderr += d;
			if (ready !== null && ready(stderr)) {
				finish({ code: null, signal: null });
			}
		});
		proc.on('error', reject);
		if (ready === null) {
			proc.on('spawn', () => finish({ code: null, signal: null }));
		}
		proc.on('exit', (code, signal) => {
			// the rest of stderr first
			proc.stderr.on('end', () => finish({ code, signal }));
			if (proc.stderr.readableEnded) {
				finish({ code, signal });
			}
		});
	});
}

const waitExit = (proc) => new Promise((resolve) => {
	if (proc.exitCode !== null || proc.signalCode !== null) {
		resolve({ code: proc.exitCode, signal: proc.signalCode });
	} else {
		proc.on('exit', (code, signal) => resolve({ code, signal }));
	}
});

/* The JSON log lines of a text (other lines, e.g. libevent's own, skipped). */
const logLines = (text) => text.split('\n').flatMap((l) => {
	try {
		const o = JSON.parse(l);
		return o && typeof o === 'object' ? [o] : [];
	} catch {
		return [];
	}
});

describe('configuration errors at start-up', () => {
	test('with a good environment each daemon starts on its own, and ' +
		'SIGTERM stops it with exit 0', async () => {
		const dir = await tempDir();
		for (const svc of SERVICES) {
			const r = await startDaemon(svc, soloEnv(dir), {
				cwd: dir, ready: (s) => /listening on http/.test(s) });
			assert.equal(r.code, null, `${svc} exited: ${r.stderr}`);
			r.proc.kill('SIGTERM');
			const x = await waitExit(r.proc);
			assert.equal(x.code, 0, `${svc}: ${JSON.stringify(x)}`);
		}
		await fs.rm(dir, { recursive: true, force: true });
	});

	test('a bad value stops each daemon at once: exit != 0 and one error ' +
		'line naming the variable', async () => {
		const dir = await tempDir();
		const garbage = path.join(dir, 'garbage.pem');
		await fs.writeFile(garbage, 'not a key\n');
		const common = [
			['SC_HTTP_PORT', 'abc'],
			['SC_HTTP_PORT', '70000'],
			['SC_DB_POOL_SIZE', '0'],
			['SC_JWT_PUBLIC_KEY_FILE', path.join(dir, 'missing.pub')],
			['SC_JWT_PUBLIC_KEY_FILE', garbage],
			['SC_LOG_LEVEL', 'loud'],
			['SC_LOG_FILE', path.join(dir, 'no', 'such', 'dir.log')],
			['SC_BUS_TIMEOUT_MS', 'soon'],
			['SC_MAX_BODY_BYTES', '-1'],
			['SC_TRUSTED_PROXIES', 'not-an-ip'],
			['SC_SHUTDOWN_TIMEOUT_MS', 'later'],
			['SC_DATABASE_URL', 'garbage'],
		];
		const own = {
			auth: [['SC_JWT_PRIVATE_KEY_FILE', path.join(dir, 'missing.key')],
				['SC_JWT_PRIVATE_KEY_FILE', garbage],
				['SC_ACCESS_TOKEN_TTL', '5'], ['SC_COOKIE_SECURE', 'maybe'],
				['SC_MAIL_TRANSPORT', 'smtp'], ['SC_BUS_AUTH_REQ', 'nope://x']],
			events: [['SC_PROFILE_CACHE_TTL', '0'],
				['SC_CACHE_BYTES', 'lots'],
				['SC_BUS_EVENTS_REQ', 'nope://x']],
			matchmaking: [['SC_PROFILE_CACHE_TTL', 'x'],
				['SC_CACHE_BYTES', '-1'],
				['SC_BUS_MATCHMAKING_PUB', 'nope://x']],
			ratings: [['SC_BUS_RATINGS_REQ', 'nope://x']],
			signaling: [['SC_SIO_PORT', 'abc'],
				['SC_SIO_PING_INTERVAL_MS', '1'],
				// names what is missing
				['SC_TURN_URLS', 'turn:turn.example.com', 'SC_TURN_SECRET'],
				['SC_BUS_SIGNALING_REQ', 'nope://x']],
		};
		for (const svc of SERVICES) {
			for (const [name, bad, named = name] of [...common,
				...own[svc]]) {
				const what = `${svc} with ${name}=${bad}`;
				const r = await startDaemon(svc,
					{ ...soloEnv(dir), [name]: bad }, {
						cwd: dir, ready: (s) => /listening on http/.test(s),
					});
				if (r.code === null) {
					r.proc.kill('SIGKILL');
					assert.fail(`${what}: started: ${r.stderr}`);
				}
				assert.notEqual(r.code, 0, `${what}: exit 0`);
				// (make asan: leaks on the way out are reported here)
				assert.doesNotMatch(r.stderr, /Sanitizer|runtime error:/, what);
				assert.equal(r.signal, null, `${what}: killed by ${r.signal}`);
				const errors = logLines(r.stderr).filter((l) =>
					l.level === 'error' && l.msg.includes(named));
				assert.ok(errors.length >= 1,
					`${what}: no error line names ${named}: ${r.stderr}`);
				assert.equal(errors[0].service, svc);
				assert.ok(!errors[0].msg.includes('\n'), what);
			}
		}
		await fs.rm(dir, { recursive: true, force: true });
	});
});

describe('SIGHUP', () => {
	const pidOf = async (s) => Number((await fs.readFile(
		path.join(env('SC_TEST_VAR'), 'run', `${s}.pid`), 'utf8')).trim());

	test('each daemon of the suite keeps serving and says what it did',
		async () => {
			for (const svc of services()) {
				const log = path.join(env('SC_TEST_VAR'), 'log', `${svc}.log`);
				const offset = (await fs.stat(log)).size;
				const pid = await pidOf(svc);
				process.kill(pid, 'SIGHUP');
				const t0 = Date.now();
				let said;
				while (!said && Date.now() - t0 < 5000) {
					await sleep(50);
					const text = (await fs.readFile(log)).subarray(offset)
						.toString();
					said = logLines(text).find((l) =>
						/^sighup: (nothing to reopen|reopened)/.test(l.msg));
				}
				assert.ok(said, `${svc}: no sighup line in ${log}`);
				process.kill(pid, 0); // still there
				assert.equal(await pidOf(svc), pid, `${svc} was restarted`);
				const res = await fetch(`${serviceUrl(svc)}/health`);
				assert.equal(res.status, 200, `${svc} /health after SIGHUP`);
			}
		});

	test('with SC_LOG_FILE, a rotated log is reopened: new lines go to ' +
		'the new file', async () => {
		const dir = await tempDir();
		const file = path.join(dir, 'ratings.log');
		const r = await startDaemon('ratings',
			{ ...soloEnv(dir), SC_LOG_FILE: file }, { cwd: dir });
		assert.equal(r.code, null, r.stderr);
		try {
			let port;
			for (let i = 0; i < 200 && !port; i++) {
				await sleep(25);
				const text = await fs.readFile(file, 'utf8').catch(() => '');
				port = /listening on http:\/\/[^:]+:(\d+)/.exec(text)?.[1];
			}
			assert.ok(port, 'no "listening on" line in the log file');
			const base = `http://127.0.0.1:${port}`;
			await fs.rename(file, `${file}.1`);
			r.proc.kill('SIGHUP');
			let text = '';
			for (let i = 0; i < 200 && !/sighup: reopened/.test(text); i++) {
				await sleep(25);
				text = await fs.readFile(file, 'utf8').catch(() => '');
			}
			const res = await fetch(`${base}/api/ratings/stats/1`);
			await res.text();
			for (let i = 0; i < 200 && !/"path":"\/api\/ratings\/stats\/1"/
				.test(text); i++) {
				await sleep(25);
				text = await fs.readFile(file, 'utf8');
			}
			const lines = logLines(text);
			assert.ok(lines.some((l) => l.msg.startsWith('sighup: reopened')),
				text);
			assert.ok(lines.some((l) => l.path === '/api/ratings/stats/1'),
				`the request after SIGHUP is not in the new file: ${text}`);
			const old = logLines(await fs.readFile(`${file}.1`, 'utf8'));
			assert.ok(old.some((l) => l.msg.startsWith('listening on')));
			assert.ok(!old.some((l) => l.path === '/api/ratings/stats/1'));
			assert.equal(r.stderr, '', 'nothing on stderr with SC_LOG_FILE');
		} finally {
			r.proc.kill('SIGTERM');
			const x = await waitExit(r.proc);
			assert.equal(x.code, 0, JSON.stringify(x));
			await fs.rm(dir, { recursive: true, force: true });
		}
	});
});
