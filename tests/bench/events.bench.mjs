// events.bench.mjs: GET /api/events (50-event pages) and GET /api/matches
// under wrk, against the daemon directly, through the nginx gateway, and
// against the express + pg reference in tests/bench/reference/ (started
// here, same SQL, same token checks, same JSON), all in the same run.
// The goal of issue 3: at least 5x the reference's requests/s, with p99
// under 5 ms at 64 connections.
//
// Needs the suite started by tests/bench/run.sh (SC_TEST_* variables) with
// the events and matchmaking daemons, and wrk (deploy/deps.sh). Skips, with
// a message, when the suite runs neither daemon. Knobs: SC_BENCH_SECONDS
// (10 per measurement), SC_BENCH_CONNECTIONS (64), SC_BENCH_THREADS (2).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REFERENCE_DIR = path.join(HERE, 'reference');

const SECONDS = Number(process.env.SC_BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.SC_BENCH_CONNECTIONS ?? 64);
const THREADS = Number(process.env.SC_BENCH_THREADS ?? 2);
const WARMUP_SECONDS = 1;
const PAGE = 50;            // events per page
const UPCOMING_MIN = PAGE + 10; // so a page is full and has a next one
const PARTNERS = 3;         // users the bench user asks for a match
const MATCH_EVENTS = 7;     // events each pair has a match at
const GOAL_RATIO = 5;
const GOAL_P99_MS = 5;
const PASSWORD = 'bench password 0123';

const say = (s) => console.log(`events bench: ${s}`);

function need(name) {
	const v = process.env[name];
	if (v === undefined || v === '') {
		console.error(`events bench: ${name} is not set (run it through ` +
			'tests/bench/run.sh or `make bench`)');
		process.exit(2);
	}
	return v.replace(/\/+$/, '');
}

/* ---- HTTP setup calls --------------------------------------------------- */

async function call(base, method, urlPath, { json, token, ip } = {}) {
	const headers = {};
	if (json !== undefined) {
		headers['content-type'] = 'application/json';
	}
	if (token !== undefined) {
		headers.authorization = `Bearer ${token}`;
	}
	if (ip !== undefined) {
		headers['x-real-ip'] = ip;
	}
	const res = await fetch(base + urlPath, {
		method, headers,
		body: json === undefined ? undefined : JSON.stringify(json),
		signal: AbortSignal.timeout(20000),
	});
	const text = await res.text();
	let body;
	try {
		body = JSON.parse(text);
	} catch {
		body = undefined;
	}
	return { status: res.status, text, body };
}

async function expect(what, res, status) {
	if (res.status !== status) {
		throw new Error(`${what}: expected ${status}, got ${res.status} ` +
			`${res.text.slice(0, 300)}`);
	}
	return res.body;
}

/* ---- the database (superuser, for the extra events) --------------------- */

async function sql(query) {
	const { stdout } = await execFileP('psql', [need('SC_TEST_DATABASE_URL'),
		'-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-c', query]);
	return stdout.trim();
}

/* The suite's database URL as another role (the reference's pools). */
function dbUrlAs(role) {
	const u = new URL(need('SC_TEST_DATABASE_URL'));
	u.username = role;
	u.password = '';
	return u.toString();
}

/* ---- the reference ------------------------------------------------------ */

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

/* Start tests/bench/reference/server.js; resolves {url, child} once it
 * listens. */
async function startReference() {
	if (!fs.existsSync(path.join(REFERENCE_DIR, 'node_modules', 'express'))) {
		throw new Error(`${REFERENCE_DIR}/node_modules is missing: ` +
			'tests/bench/run.sh installs it (npm ci)');
	}
	const port = await freePort();
	const child = spawn(process.execPath, ['server.js'], {
		cwd: REFERENCE_DIR,
		env: {
			...process.env,
			REF_ADDR: '127.0.0.1',
			REF_PORT: String(port),
			REF_EVENTS_DATABASE_URL: dbUrlAs('sc_events'),
			REF_MATCHMAKING_DATABASE_URL: dbUrlAs('sc_matchmaking'),
			REF_AUTH_DATABASE_URL: dbUrlAs('sc_auth'),
			SC_JWT_PUBLIC_KEY_FILE: path.join(need('SC_TEST_VAR'), 'keys',
				'jwt.pub'),
		},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	let log = '';
	child.stderr.on('data', (d) => { log += d; });
	await new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(
			`the reference did not start within 10 s: ${log}`)), 10000);
		child.stdout.on('data', (d) => {
			log += d;
			if (log.includes('listening on')) {
				clearTimeout(timer);
				resolve();
			}
		});
		child.on('exit', (code) => {
			clearTimeout(timer);
			reject(new Error(`the reference exited (${code}): ${log}`));
		});
	});
	child.removeAllListeners('exit');
	child.stdout.resume();
	return { url: `http://127.0.0.1:${port}`, child };
}

/* ---- wrk ---------------------------------------------------------------- */

/* "1.23ms" / "456.78us" / "1.02s" / "1.50m" in milliseconds. */
function wrkTime(s) {
	const m = /^([0-9.]+)(us|ms|s|m|h)$/.exec(s);
	if (m === null) {
		return NaN;
	}
	const scale = { us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 }[m[2]];
	return Number(m[1]) * scale;
}

function parseWrk(out) {
	const num = (re) => {
		const m = re.exec(out);
		return m === null ? NaN : Number(m[1]);
	};
	const lat = (p) => {
		const m = new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(out);
		return m === null ? NaN : wrkTime(m[1]);
	};
	const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
		.exec(out);
	return {
		requests: num(/(\d+) requests in/),
		rate: num(/Requests\/sec:\s+([0-9.]+)/),
		p50: lat(50),
		p99: lat(99),
		non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
		socketErrors: sock === null ? 0
			: sock.slice(1).reduce((a, b) => a + Number(b), 0),
	};
}

async function wrk(url, token, seconds) {
	const args = [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`,
		'--latency', '--timeout', '5s',
		'-H', `Authorization: Bearer ${token}`, url];
	const { stdout } = await execFileP('wrk', args,
		{ timeout: (seconds + 20) * 1000, maxBuffer: 1 << 20 });
	const r = parseWrk(stdout);
	if (Number.isNaN(r.rate)) {
		throw new Error(`cannot read wrk's output:\n${stdout}`);
	}
	return r;
}

async function haveWrk() {
	try {
		await execFileP('wrk', ['-v']);
		return true;
	} catch (e) {
		// wrk -v prints its version and exits 1; only ENOENT means absent.
		return e.code !== 'ENOENT';
	}
}

/* ---- setup -------------------------------------------------------------- */

const ipOf = (i) => `10.78.${(i >> 8) & 255}.${(i & 255) + 1}`;

async function newUser(auth, run, i) {
	const username = `evb-${run}-${i}`;
	const ip = ipOf(i);
	const r = await expect(`register ${username}`, await call(auth, 'POST',
		'/api/auth/register', { json: { username,
			email: `${username}@bench.example`, password: PASSWORD }, ip }),
	201);
	const l = await expect(`login ${username}`, await call(auth, 'POST',
		'/api/auth/login', { json: { login: username, password: PASSWORD },
			ip }), 200);
	return { id: r.user.id, token: l.accessToken };
}

/* At least UPCOMING_MIN upcoming events: inserts the missing ones. */
async function ensureEvents(run) {
	const upcoming = Number(await sql('SELECT count(*) FROM events.events ' +
		"WHERE end_date >= (now() AT TIME ZONE 'UTC')::date"));
	const missing = Math.max(0, UPCOMING_MIN - upcoming);
	if (missing > 0) {
		await sql(`INSERT INTO events.events (worldsdc_id, name, location,
			start_date, end_date, description)
			SELECT 'bench-${run}-' || i, 'Bench Swing Weekend ' || i,
				'Bench City ' || i,
				(now() AT TIME ZONE 'UTC')::date + 30 + i,
				(now() AT TIME ZONE 'UTC')::date + 32 + i,
				CASE WHEN i % 3 = 0 THEN NULL
				ELSE 'Three days of West Coast Swing: workshops, ' ||
					'Jack and Jill, socials until late.' END
			FROM generate_series(1, ${missing}) AS i`);
	}
	return { upcoming, inserted: missing };
}

/* ---- the table ---------------------------------------------------------- */

const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');

function printTable(rows) {
	const line = (cols) => console.log(cols[0].padEnd(34) +
		cols.slice(1).map((c) => String(c).padStart(10)).join(''));
	console.log('');
	line(['', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'vs ref']);
	for (const r of rows) {
		line([r.name, f(r.rate, 0), f(r.p50), f(r.p99),
			r.non2xx + r.socketErrors,
			r.ref === undefined ? '' : `${f(r.rate / r.ref.rate, 1)}x`]);
	}
	console.log('');
}

/* ---- main --------------------------------------------------------------- */

async function main() {
	const services = (process.env.SC_TEST_SERVICES ?? '').split(/\s+/);
	const withMatches = services.includes('matchmaking');
	if (!services.includes('events')) {
		say('skipped: the suite runs no events daemon ' +
			`(SC_TEST_SERVICES="${process.env.SC_TEST_SERVICES ?? ''}")`);
		return;
	}
	if (!withMatches) {
		say('the suite runs no matchmaking daemon: events only');
	}
	if (!await haveWrk()) {
		throw new Error('wrk is not installed (make deps)');
	}
	const auth = need('SC_TEST_AUTH_URL');
	const gateway = need('SC_TEST_GATEWAY_URL');
	const events = need('SC_TEST_EVENTS_URL');
	const matches = withMatches ? need('SC_TEST_MATCHMAKING_URL') : null;
	const run = crypto.randomBytes(3).toString('hex');
	const t0 = Date.now();

	// ---- data: users, events, joins, matches ---------------------------
	const { upcoming, inserted } = await ensureEvents(run);
	const users = [];
	for (let i = 0; i <= PARTNERS; i++) {
		users.push(await newUser(auth, run, i));
	}
	const me = users[0];
	const page = await expect('list events', await call(events, 'GET',
		`/api/events?limit=${PAGE}`, { token: me.token }), 200);
	assert.equal(page.items.length, PAGE, 'a full page of upcoming events');
	// The bench user is in every other event of the page (so `joined`
	// varies); everyone is in the first MATCH_EVENTS, where the bench user
	// asks each partner for a match.
	for (const [k, ev] of page.items.entries()) {
		const joiners = k < MATCH_EVENTS ? users : k % 2 === 0 ? [me] : [];
		for (const u of joiners) {
			await expect(`join event ${ev.id}`, await call(events, 'POST',
				`/api/events/${ev.id}/join`, { token: u.token }), 200);
		}
	}
	let created = 0;
	for (const ev of withMatches ? page.items.slice(0, MATCH_EVENTS) : []) {
		for (const p of users.slice(1)) {
			await expect(`match at event ${ev.id}`, await call(matches, 'POST',
				'/api/matches', { token: me.token,
					json: { targetUserId: p.id, eventId: ev.id } }), 201);
			created++;
		}
	}
	say(`${upcoming} upcoming events in the seed, ${inserted} inserted; ` +
		`${users.length} users, ${created} matches; setup ` +
		`${Date.now() - t0} ms`);

	const ref = await startReference();
	process.on('exit', () => ref.child.kill('SIGTERM'));

	const targets = [
		{ what: 'events', path: `/api/events?limit=${PAGE}`,
			bases: [['direct', events], ['gateway', gateway],
				['reference', ref.url]] },
	];
	if (withMatches) {
		targets.push({ what: 'matches', path: '/api/matches?limit=20',
			bases: [['direct', matches], ['gateway', gateway],
				['reference', ref.url]] });
	}

	// ---- the same JSON everywhere --------------------------------------
	let mismatch = false;
	for (const t of targets) {
		let same = true;
		const bodies = [];
		for (const [name, base] of t.bases) {
			const r = await call(base, 'GET', t.path, { token: me.token });
			await expect(`GET ${t.path} (${name})`, r, 200);
			bodies.push([name, r.body, r.text]);
		}
		const n = bodies[0][1].items.length;
		for (const [name, body] of bodies.slice(1)) {
			try {
				assert.deepStrictEqual(body, bodies[0][1]);
			} catch (e) {
				mismatch = true;
				same = false;
				console.log(`MISMATCH: ${t.path}: ${name} differs from ` +
					`direct:\n${e.message.slice(0, 1500)}`);
			}
		}
		const bytes = bodies.every((b) => b[2] === bodies[0][2]);
		say(`GET ${t.path}: ${n} items, ${Buffer.byteLength(bodies[0][2])} ` +
			`bytes, the same JSON${bytes ? ' byte for byte' : ''} from ` +
			`${bodies.map((b) => b[0]).join(', ')}` +
			(same ? '' : ' (NOT: see above)'));
	}

	// ---- measure -------------------------------------------------------
	const cpus = os.availableParallelism?.() ?? os.cpus().length;
	say(`wrk -t${THREADS} -c${CONNECTIONS} -d${SECONDS}s (after a ` +
		`${WARMUP_SECONDS} s warm-up each); ${cpus} CPUs shared by wrk, ` +
		'nginx, the daemons, node and PostgreSQL; load average ' +
		`${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
	const rows = [];
	for (const t of targets) {
		const group = [];
		for (const [name, base] of t.bases) {
			await wrk(base + t.path, me.token, WARMUP_SECONDS);
			const r = await wrk(base + t.path, me.token, SECONDS);
			r.name = `GET ${t.what === 'events' ? `/api/events (${PAGE})`
				: '/api/matches (20)'} ${name}`;
			r.kind = name;
			group.push(r);
		}
		const refRow = group.find((r) => r.kind === 'reference');
		for (const r of group) {
			if (r !== refRow) {
				r.ref = refRow;
			}
		}
		rows.push(...group);
	}
	ref.child.kill('SIGTERM');
	printTable(rows);

	let failed = mismatch;
	for (const r of rows) {
		if (r.non2xx + r.socketErrors > 0 || !(r.requests > 0)) {
			failed = true;
			console.log(`${r.name}: ${r.non2xx} non-2xx responses, ` +
				`${r.socketErrors} socket errors`);
		}
	}
	for (const r of rows.filter((x) => x.ref !== undefined)) {
		const ratio = r.rate / r.ref.rate;
		const ok = ratio >= GOAL_RATIO && r.p99 < GOAL_P99_MS;
		console.log(`${r.name}: ${f(ratio, 1)}x the reference (goal >= ` +
			`${GOAL_RATIO}x), p99 ${f(r.p99)} ms (goal < ${GOAL_P99_MS} ms): ` +
			`${ok ? 'met' : 'MISSED'}`);
	}
	say(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
	if (failed) {
		process.exitCode = 1;
	}
}

main().catch((e) => {
	console.error(`\nevents bench failed: ${e.message}`);
	process.exit(1);
});
