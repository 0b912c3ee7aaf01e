// auth.bench.mjs: login throughput and GET /api/users/me latency of the auth
// daemon, alone and while logins saturate the argon2 hash pool (the goal:
// me p99 < 10 ms, because hashing never runs on the loop thread).
//
// Talks to the daemon directly (SC_TEST_AUTH_URL); each bench user logs in
// from its own made-up X-Real-IP. Knobs: SC_BENCH_USERS (40),
// SC_BENCH_CLIENTS (2 x CPUs), SC_BENCH_SECONDS (5).
import crypto from 'node:crypto';
import http from 'node:http';
import os from 'node:os';

const base = process.env.SC_TEST_AUTH_URL;
if (!base) {
	console.error('auth.bench: SC_TEST_AUTH_URL is not set (run it through ' +
		'tests/bench/run.sh or `make bench`)');
	process.exit(2);
}
const url = new URL(base);
const cpus = os.availableParallelism?.() ?? os.cpus().length;
const USERS = Number(process.env.SC_BENCH_USERS ?? 40);
const CLIENTS = Number(process.env.SC_BENCH_CLIENTS ?? 2 * cpus);
const SECONDS = Number(process.env.SC_BENCH_SECONDS ?? 5);
const PASSWORD = 'bench password 0123';
const GOAL_P99_MS = 10;

/* One request on `agent`; resolves {status, body, ms}. */
function request(agent, method, path, { json, headers = {} } = {}) {
	const body = json === undefined ? undefined : JSON.stringify(json);
	const h = { ...headers };
	if (body !== undefined) {
		h['content-type'] = 'application/json';
		h['content-length'] = Buffer.byteLength(body);
	}
	return new Promise((resolve, reject) => {
		const t0 = process.hrtime.bigint();
		const req = http.request({
			host: url.hostname, port: url.port, method, path, headers: h, agent,
		}, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				const ms = Number(process.hrtime.bigint() - t0) / 1e6;
				resolve({ status: res.statusCode, text: Buffer.concat(chunks)
					.toString('utf8'), ms });
			});
			res.on('error', reject);
		});
		req.setTimeout(30000, () => req.destroy(new Error('timeout')));
		req.on('error', reject);
		req.end(body);
	});
}

const ipOf = (i) => `10.77.${(i >> 8) & 255}.${(i & 255) + 1}`;

function stats(lat, elapsedMs, errors) {
	const s = Float64Array.from(lat).sort();
	const q = (p) => (s.length === 0 ? NaN
		: s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]);
	return {
		n: s.length, rate: s.length / (elapsedMs / 1000), p50: q(0.5),
		p99: q(0.99), max: s.length ? s[s.length - 1] : NaN, errors,
	};
}

/* Run `fn` in `workers` loops until `ms` elapse; fn resolves true when the
 * request succeeded. Returns the stats. */
async function loop(workers, ms, fn) {
	const lat = [];
	let errors = 0;
	const firstError = [];
	const start = Date.now();
	const end = start + ms;
	await Promise.all(Array.from({ length: workers }, async (_, w) => {
		let i = w;
		while (Date.now() < end) {
			try {
				const r = await fn(i);
				if (r.ok) {
					lat.push(r.ms);
				} else {
					errors++;
					firstError.push(r.what);
				}
			} catch (e) {
				errors++;
				firstError.push(e.message);
			}
			i += workers;
		}
	}));
	const st = stats(lat, Date.now() - start, errors);
	st.firstError = firstError[0];
	return st;
}

async function main() {
	const setupAgent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
	const run = crypto.randomBytes(3).toString('hex');
	const users = Array.from({ length: USERS }, (_, i) => ({
		username: `bench-${run}-${i}`, ip: ipOf(i),
	}));

	// ---- setup: register, one login for the me token ---------------------
	process.stdout.write(`auth bench: registering ${USERS} users... `);
	const t0 = Date.now();
	let next = 0;
	await Promise.all(Array.from({ length: CLIENTS }, async () => {
		while (next < users.length) {
			const u = users[next++];
			const r = await request(setupAgent, 'POST', '/api/auth/register', {
				json: { username: u.username, email: `${u.username}@bench.example`,
					password: PASSWORD },
				headers: { 'x-real-ip': u.ip },
			});
			if (r.status !== 201) {
				throw new Error(`register ${u.username}: ${r.status} ${r.text}`);
			}
		}
	}));
	console.log(`${Date.now() - t0} ms`);
	const l = await request(setupAgent, 'POST', '/api/auth/login', {
		json: { login: users[0].username, password: PASSWORD },
		headers: { 'x-real-ip': users[0].ip },
	});
	if (l.status !== 200) {
		throw new Error(`login: ${l.status} ${l.text}`);
	}
	const token = JSON.parse(l.text).accessToken;

	// ---- the two workloads -------------------------------------------------
	const meAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
	const me = async () => {
		const r = await request(meAgent, 'GET', '/api/users/me',
			{ headers: { authorization: `Bearer ${token}` } });
		return { ok: r.status === 200, ms: r.ms, what: `${r.status} ${r.text}` };
	};
	const loginAgent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
	const loginOnce = async (i) => {
		const u = users[i % users.length];
		const r = await request(loginAgent, 'POST', '/api/auth/login', {
			json: { login: u.username, password: PASSWORD },
			headers: { 'x-real-ip': u.ip },
		});
		return { ok: r.status === 200, ms: r.ms, what: `${r.status} ${r.text}` };
	};

	// warm up both paths
	for (let i = 0; i < 50; i++) {
		await me();
	}
	await Promise.all(Array.from({ length: CLIENTS }, (_, i) => loginOnce(i)));

	const ms = SECONDS * 1000;
	console.log(`${cpus} CPUs, ${CLIENTS} login clients, 1 me client, ` +
		`${SECONDS} s per phase; load average ` +
		`${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on ` +
		'this machine skews the numbers)');
	const idle = await loop(1, ms, me);
	const [storm, loaded] = await Promise.all([
		loop(CLIENTS, ms, loginOnce),
		loop(1, ms, me),
	]);

	const rows = [
		['GET /api/users/me, idle', idle],
		[`POST /api/auth/login, ${CLIENTS} clients`, storm],
		['GET /api/users/me, during logins', loaded],
	];
	const f = (x) => (Number.isNaN(x) ? '-' : x.toFixed(2));
	const line = (cols) => console.log(cols[0].padEnd(36) +
		cols.slice(1).map((c) => String(c).padStart(10)).join(''));
	console.log('');
	line(['', 'requests', 'per s', 'p50 ms', 'p99 ms', 'max ms', 'errors']);
	for (const [name, st] of rows) {
		line([name, st.n, st.rate.toFixed(1), f(st.p50), f(st.p99), f(st.max),
			st.errors]);
	}
	console.log('');
	for (const [name, st] of rows) {
		if (st.errors > 0) {
			console.log(`first error of "${name}": ${st.firstError}`);
		}
	}
	const ok = loaded.p99 < GOAL_P99_MS;
	console.log(`me p99 during the login storm: ${f(loaded.p99)} ms ` +
		`(goal < ${GOAL_P99_MS} ms): ${ok ? 'met' : 'MISSED'}`);
	console.log(`logins: ${storm.rate.toFixed(1)}/s, ` +
		`${(storm.rate / cpus).toFixed(1)}/s per CPU`);

	setupAgent.destroy();
	meAgent.destroy();
	loginAgent.destroy();
	if (storm.n === 0 || idle.n === 0 || loaded.n === 0) {
		process.exitCode = 1;
	}
}

main().catch((e) => {
	console.error(`\nauth bench failed: ${e.message}`);
	process.exit(1);
});
