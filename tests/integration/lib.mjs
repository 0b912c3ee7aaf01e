// lib.mjs: helpers for the integration tests that drive the real daemons
// and the nginx gateway over HTTP, the bus (scbus) and the database (env
// from tests/run.sh, see below).
//
//   SC_TEST_AUTH_URL      the auth daemon directly (trusts X-Real-IP from us)
//   SC_TEST_<SVC>_URL     each other daemon directly (EVENTS, MATCHMAKING, ..)
//   SC_TEST_GATEWAY_URL   nginx in front of them
//   SC_TEST_SERVICES      the daemons running, space separated
//   SC_TEST_MAIL_DIR      the file mail outbox (<id>.json per mail)
//   SC_TEST_BUILD         build dir (scbus and the daemons live there)
//   SC_TEST_DATABASE_URL  superuser URL of the suite's PostgreSQL
//   SC_TEST_VAR           the suite's var dir (keys/jwt.key, keys/jwt.pub)
//   SC_TEST_REPO          the repository (deploy/local.sh)
//   SC_BUS_*              the bus addresses (scbus reads them)
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/* The value of a required environment variable; a clear failure when unset
 * so a test run outside tests/run.sh says what is missing. */
export function env(name) {
	const v = process.env[name];
	if (v === undefined || v === '') {
		throw new Error(`${name} is not set: run the integration tests ` +
			'through tests/run.sh (or `make test`)');
	}
	return v.replace(/\/+$/, '');
}

export const authUrl = () => env('SC_TEST_AUTH_URL');
export const gatewayUrl = () => env('SC_TEST_GATEWAY_URL');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* A username nobody else in this or any other run has: prefix + 10 hex
 * characters, within [a-z0-9_.-]{3,30}. */
export function uniqueName(prefix = 'u') {
	const p = prefix.toLowerCase().replace(/[^a-z0-9_.-]/g, '').slice(0, 12);
	return `${p}-${crypto.randomBytes(5).toString('hex')}`;
}

export const emailFor = (username) => `${username}@example.com`;

/* A made-up client IP (10.9.x.y) for the X-Real-IP header when calling the
 * daemon directly: rate limits then apply to this test alone. */
export function randomIp() {
	const b = crypto.randomBytes(2);
	return `10.9.${b[0]}.${1 + (b[1] % 254)}`;
}

/* ---- cookies ---------------------------------------------------------- */

/* One Set-Cookie header parsed: {name, value, attrs} where attrs maps the
 * lower-cased attribute name to its value (true for flags). */
export function parseSetCookie(line) {
	const parts = line.split(';').map((s) => s.trim());
	const first = parts.shift();
	const eq = first.indexOf('=');
	const name = first.slice(0, eq).trim();
	const value = first.slice(eq + 1).trim();
	const attrs = new Map();
	for (const p of parts) {
		if (p === '') {
			continue;
		}
		const i = p.indexOf('=');
		if (i < 0) {
			attrs.set(p.toLowerCase(), true);
		} else {
			attrs.set(p.slice(0, i).trim().toLowerCase(),
				p.slice(i + 1).trim());
		}
	}
	return { name, value, attrs };
}

/* The parsed Set-Cookie headers of a response named `name`. */
export function setCookies(res, name) {
	return res.headers.getSetCookie().map(parseSetCookie)
		.filter((c) => c.name === name);
}

/* True when a parsed cookie deletes itself (empty, Max-Age<=0 or expired). */
export function isClearing(c) {
	if (c.value === '' || c.value === '""') {
		return true;
	}
	const ma = c.attrs.get('max-age');
	if (ma !== undefined && Number(ma) <= 0) {
		return true;
	}
	const ex = c.attrs.get('expires');
	return ex !== undefined && Date.parse(ex) <= Date.now();
}

/* A tiny cookie jar: remembers name=value from Set-Cookie, forgets cleared
 * cookies, sends them all back (paths are ignored: the tests only talk to
 * /api/auth with the refresh cookie in it). */
export class CookieJar {
	constructor(init = {}) {
		this.cookies = new Map(Object.entries(init));
	}

	update(res) {
		for (const line of res.headers.getSetCookie()) {
			const c = parseSetCookie(line);
			if (isClearing(c)) {
				this.cookies.delete(c.name);
			} else {
				this.cookies.set(c.name, c.value);
			}
		}
	}

	get(name) {
		return this.cookies.get(name);
	}

	set(name, value) {
		this.cookies.set(name, value);
	}

	clone() {
		return new CookieJar(Object.fromEntries(this.cookies));
	}

	header() {
		return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
	}
}

/* ---- HTTP ------------------------------------------------------------- */

/* One HTTP request. opts: json (serialised, Content-Type JSON), body (raw
 * string or Buffer), contentType, headers, token (bearer), jar (sends and
 * updates cookies), ip (X-Real-IP). Resolves {status, headers, text, body}
 * where body is the parsed JSON or undefined when the reply is not JSON. */
export async function request(base, method, urlPath, opts = {}) {
	const headers = { ...(opts.headers ?? {}) };
	let body;
	if ('json' in opts) {
		body = JSON.stringify(opts.json);
		headers['content-type'] ??= 'application/json';
	} else if (opts.body !== undefined) {
		body = opts.body;
	}
	if (opts.contentType !== undefined) {
		headers['content-type'] = opts.contentType;
	}
	if (opts.token !== undefined) {
		headers.authorization = `Bearer ${opts.token}`;
	}
	if (opts.ip !== undefined) {
		headers['x-real-ip'] = opts.ip;
	}
	if (opts.jar !== undefined && opts.jar.cookies.size > 0) {
		headers.cookie = opts.jar.header();
	}
	let res;
	try {
		res = await fetch(base + urlPath, {
			method, headers, body, redirect: 'manual',
			signal: AbortSignal.timeout(opts.timeoutMs ?? 20000),
		});
	} catch (e) {
		throw new Error(`${method} ${urlPath} failed: ${e.message}` +
			(e.cause ? ` (${e.cause.code ?? e.cause.message})` : ''));
	}
	const text = await res.text();
	let parsed;
	if (/^application\/json\b/i.test(res.headers.get('content-type') ?? '')) {
		try {
			parsed = JSON.parse(text);
		} catch {
			parsed = undefined;
		}
	}
	if (opts.jar !== undefined) {
		opts.jar.update(res);
	}
	return { status: res.status, headers: res.headers, text, body: parsed };
}

/* A client bound to a base URL and optional defaults (ip, jar, token).
 * With freshIp, every request without an explicit ip comes from its own
 * made-up address (direct to the daemon only), so per-IP limits never
 * couple two tests. */
export class Client {
	constructor(base, defaults = {}, { freshIp = false } = {}) {
		this.base = base;
		this.defaults = defaults;
		this.freshIp = freshIp;
	}

	req(method, urlPath, opts = {}) {
		const o = { ...this.defaults };
		if (this.freshIp) {
			o.ip = randomIp();
		}
		for (const [k, v] of Object.entries(opts)) {
			if (v !== undefined) {
				o[k] = v;
			}
		}
		return request(this.base, method, urlPath, o);
	}

	get(p, o) { return this.req('GET', p, o); }
	post(p, o) { return this.req('POST', p, o); }
	patch(p, o) { return this.req('PATCH', p, o); }
	delete(p, o) { return this.req('DELETE', p, o); }
}

/* A short description of a response for assertion messages. */
export const show = (res) => `${res.status} ${res.text.slice(0, 500)}`;

/* ---- assertions ------------------------------------------------------- */

/* The response is the suite's error shape
 * {"error":{"code","message"[,"details"]}} with `status` and, when given,
 * `code` (a string or a list of acceptable codes). Returns the error. */
export function assertError(res, status, code) {
	assert.equal(res.status, status,
		`expected ${status}${code ? ` ${code}` : ''}, got ${show(res)}`);
	assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/i,
		`error reply must be JSON, got content-type ` +
		`${res.headers.get('content-type')}: ${show(res)}`);
	assert.ok(res.body !== null && typeof res.body === 'object' &&
		!Array.isArray(res.body), `error body is not an object: ${show(res)}`);
	assert.deepEqual(Object.keys(res.body), ['error'],
		`error body has keys other than "error": ${show(res)}`);
	const e = res.body.error;
	assert.ok(e !== null && typeof e === 'object', `no error object: ${show(res)}`);
	assert.equal(typeof e.code, 'string', `error.code: ${show(res)}`);
	assert.match(e.code, /^[a-z][a-z0-9_]*$/, `error.code: ${show(res)}`);
	assert.equal(typeof e.message, 'string', `error.message: ${show(res)}`);
	assert.ok(e.message.length > 0, `empty error.message: ${show(res)}`);
	if ('details' in e) {
		assert.ok(e.details !== null && typeof e.details === 'object' &&
			!Array.isArray(e.details), `error.details: ${show(res)}`);
	}
	for (const k of Object.keys(e)) {
		assert.ok(['code', 'message', 'details'].includes(k),
			`unexpected key error.${k}: ${show(res)}`);
	}
	if (code !== undefined) {
		const codes = Array.isArray(code) ? code : [code];
		assert.ok(codes.includes(e.code),
			`expected code ${codes.join('|')}, got ${show(res)}`);
	}
	return e;
}

/* 422 validation_failed naming every field of `fields` in details. */
export function assertValidation(res, fields) {
	const e = assertError(res, 422, 'validation_failed');
	assert.ok(e.details, `422 without details: ${show(res)}`);
	for (const f of fields) {
		assert.equal(typeof e.details[f], 'string',
			`details.${f} missing: ${show(res)}`);
		assert.ok(e.details[f].length > 0, `details.${f} empty: ${show(res)}`);
	}
	return e;
}

/* A status that is a success; message shows the body otherwise. */
export function assertStatus(res, status) {
	assert.equal(res.status, status, `expected ${status}, got ${show(res)}`);
	if (status !== 204) {
		assert.match(res.headers.get('content-type') ?? '',
			/^application\/json\b/i, `reply is not JSON: ${show(res)}`);
	}
}

export const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const PRIVATE_KEYS = ['id', 'username', 'email', 'displayName', 'avatarUrl',
	'wsdcId', 'bio', 'emailVerified', 'createdAt'].sort();
const PUBLIC_KEYS = ['id', 'username', 'displayName', 'avatarUrl', 'wsdcId',
	'bio', 'createdAt'].sort();

/* No key anywhere in v hints at a password or hash. */
export function assertNoSecrets(v) {
	const s = JSON.stringify(v);
	assert.doesNotMatch(s, /password|hash|argon/i, `secret leaked: ${s}`);
}

function assertProfileCommon(u) {
	assert.ok(Number.isSafeInteger(u.id) && u.id > 0, `id: ${JSON.stringify(u)}`);
	assert.match(u.username, /^[a-z0-9_.-]{3,30}$/);
	for (const k of ['displayName', 'avatarUrl', 'bio']) {
		assert.ok(u[k] === null || typeof u[k] === 'string', `${k}: ${u[k]}`);
	}
	assert.ok(u.wsdcId === null || Number.isSafeInteger(u.wsdcId), 'wsdcId');
	assert.match(u.createdAt, ISO_UTC, `createdAt: ${u.createdAt}`);
	assertNoSecrets(u);
}

/* The private user view, exactly the documented keys; `expect` fields must
 * match. */
export function assertPrivateUser(u, expect = {}) {
	assert.ok(u && typeof u === 'object', 'no user object');
	assert.deepEqual(Object.keys(u).sort(), PRIVATE_KEYS,
		`private user keys: ${JSON.stringify(u)}`);
	assertProfileCommon(u);
	assert.equal(typeof u.email, 'string');
	assert.equal(typeof u.emailVerified, 'boolean');
	for (const [k, v] of Object.entries(expect)) {
		assert.deepEqual(u[k], v, `user.${k}`);
	}
}

/* The public profile: no email, no emailVerified. */
export function assertPublicUser(u, expect = {}) {
	assert.ok(u && typeof u === 'object', 'no user object');
	assert.deepEqual(Object.keys(u).sort(), PUBLIC_KEYS,
		`public profile keys: ${JSON.stringify(u)}`);
	assertProfileCommon(u);
	for (const [k, v] of Object.entries(expect)) {
		assert.deepEqual(u[k], v, `user.${k}`);
	}
}

/* ---- journeys --------------------------------------------------------- */

export const PASSWORD = 'correct horse battery';

/* Register a fresh user; returns {username, email, password, user}. */
export async function register(client, opts = {}) {
	const username = opts.username ?? uniqueName(opts.prefix ?? 'u');
	const email = opts.email ?? emailFor(username);
	const password = opts.password ?? PASSWORD;
	const res = await client.post('/api/auth/register',
		{ json: { username, email, password }, ip: opts.ip });
	assertStatus(res, 201);
	return { username, email, password, user: res.body.user, res };
}

/* Log in; returns {accessToken, expiresIn, user, jar, res}. */
export async function login(client, loginName, password, opts = {}) {
	const jar = opts.jar ?? new CookieJar();
	const res = await client.post('/api/auth/login',
		{ json: { login: loginName, password }, jar, ip: opts.ip });
	assertStatus(res, 200);
	return { ...res.body, jar, res };
}

/* A registered and logged-in user. */
export async function newSession(client, opts = {}) {
	const r = await register(client, opts);
	const s = await login(client, r.username, r.password, { ip: opts.ip });
	return { ...r, ...s };
}

/* ---- mail ------------------------------------------------------------- */

async function readMails() {
	const dir = env('SC_TEST_MAIL_DIR');
	let names;
	try {
		names = await fs.readdir(dir);
	} catch (e) {
		if (e.code === 'ENOENT') {
			return [];
		}
		throw e;
	}
	const out = [];
	for (const n of names) {
		if (!n.endsWith('.json')) {
			continue;
		}
		try {
			out.push(JSON.parse(await fs.readFile(path.join(dir, n), 'utf8')));
		} catch {
			// a file being replaced or removed; the next poll sees it
		}
	}
	return out;
}

/* Every mail in the outbox to `to` (any case) of `kind`, oldest first. */
export async function mailsFor(to, kind) {
	const want = to.toLowerCase();
	const all = await readMails();
	return all.filter((m) => String(m.to).toLowerCase() === want &&
		(kind === undefined || m.kind === kind))
		.sort((a, b) => String(a.createdAt).localeCompare(String(b.createdAt)) ||
			Number(a.id) - Number(b.id));
}

/* Wait for a mail to `to` of `kind` whose id is not in `exclude`; fails
 * after timeoutMs. Returns the mail with `token` (from its link) added. */
export async function waitForMail(to, kind, opts = {}) {
	const exclude = new Set((opts.exclude ?? []).map(String));
	const deadline = Date.now() + (opts.timeoutMs ?? 15000);
	for (;;) {
		const m = (await mailsFor(to, kind))
			.find((x) => !exclude.has(String(x.id)));
		if (m) {
			return { ...m, token: tokenOf(m) };
		}
		if (Date.now() > deadline) {
			throw new Error(`no ${kind} mail to ${to} in ` +
				`${env('SC_TEST_MAIL_DIR')} after ${opts.timeoutMs ?? 15000} ms`);
		}
		await sleep(100);
	}
}

/* The `token` query parameter of a mail's link. */
export function tokenOf(mail) {
	return new URL(mail.link).searchParams.get('token');
}

/* ---- database --------------------------------------------------------- */

/* Run SQL on the suite's database as superuser; returns the unaligned,
 * tuples-only output trimmed. */
export async function sql(query) {
	const { stdout } = await execFileP('psql',
		[env('SC_TEST_DATABASE_URL'), '-X', '-A', '-t', '-q',
			'-v', 'ON_ERROR_STOP=1', '-c', query]);
	return stdout.trim();
}

/* A SQL string literal. */
export const lit = (s) => `'${String(s).replace(/'/g, "''")}'`;

/* ---- JWT -------------------------------------------------------------- */

export const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function decodeJwt(token) {
	const [h, p] = token.split('.');
	return {
		header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
		payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
	};
}

/* An ES256 JWT signed with `key` (a PEM string or KeyObject). */
export function signES256(payload, key, header = { alg: 'ES256', typ: 'JWT' }) {
	const input = `${b64url(JSON.stringify(header))}.` +
		b64url(JSON.stringify(payload));
	const sig = crypto.sign('sha256', Buffer.from(input),
		{ key, dsaEncoding: 'ieee-p1363' });
	return `${input}.${b64url(sig)}`;
}

/* An HS256 JWT keyed with `secret` (for the alg confusion check). */
export function signHS256(payload, secret) {
	const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.` +
		b64url(JSON.stringify(payload));
	const sig = crypto.createHmac('sha256', secret).update(input).digest();
	return `${input}.${b64url(sig)}`;
}

/* The suite's signing key and public key (PEM strings). */
export async function suiteKeys() {
	const dir = path.join(env('SC_TEST_VAR'), 'keys');
	return {
		priv: await fs.readFile(path.join(dir, 'jwt.key'), 'utf8'),
		pub: await fs.readFile(path.join(dir, 'jwt.pub'), 'utf8'),
	};
}

/* ---- the suite -------------------------------------------------------- */

/* The daemons this suite runs. */
export const services = () => (process.env.SC_TEST_SERVICES ?? '')
	.split(/\s+/).filter(Boolean);

/* Options for describe()/test() that skip them, saying why, when one of
 * `names` is not among the daemons started (deploy/local.sh SERVICES). */
export function needs(...names) {
	const have = new Set(services());
	const missing = names.filter((n) => !have.has(n));
	return missing.length === 0 ? {} :
		{ skip: `${missing.join(', ')} not running in this suite` };
}

/* A daemon directly, e.g. serviceUrl('events'). */
export const serviceUrl = (name) => env(`SC_TEST_${name.toUpperCase()}_URL`);

/* Run a program; resolves {code, signal, stdout, stderr, ms} whatever it
 * exits with (code null when it was killed, e.g. at opts.timeoutMs). */
export function run(file, args, opts = {}) {
	return new Promise((resolve, reject) => {
		const t0 = Date.now();
		execFile(file, args, {
			env: opts.env ?? process.env,
			timeout: opts.timeoutMs ?? 30000,
			maxBuffer: 16 << 20,
		}, (err, stdout, stderr) => {
			if (err && typeof err.code !== 'number' && !err.killed &&
				!err.signal) {
				reject(new Error(`${file} ${args.join(' ')}: ${err.message}`));
				return;
			}
			resolve({
				code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
				signal: err?.signal ?? null, stdout, stderr,
				ms: Date.now() - t0,
			});
		});
	});
}

/* `deploy/local.sh ARGS...` on this suite (stop-service NAME,
 * start-service NAME, restart-db); fails unless it exits 0. */
export async function localSh(...args) {
	const r = await run(path.join(env('SC_TEST_REPO'), 'deploy', 'local.sh'),
		args, { env: { ...process.env, SC_VAR: env('SC_TEST_VAR') },
			timeoutMs: 90000 });
	assert.equal(r.code, 0, `deploy/local.sh ${args.join(' ')}: exit ` +
		`${r.code}: ${r.stdout}${r.stderr}`);
	return r;
}

/* ---- the bus (scbus) --------------------------------------------------- */

export const scbusPath = () => path.join(env('SC_TEST_BUILD'), 'scbus');

/* `scbus call METHOD JSON`: resolves {code, reply, stdout, stderr} where
 * reply is the parsed reply envelope (undefined when not JSON). */
export async function busCall(method, data, opts = {}) {
	const args = ['call', method];
	if (data !== undefined) {
		args.push(typeof data === 'string' ? data : JSON.stringify(data));
	}
	if (opts.timeoutMs !== undefined) {
		args.push('--timeout-ms', String(opts.timeoutMs));
	}
	const r = await run(scbusPath(), args, { timeoutMs: 20000 });
	let reply;
	try {
		reply = JSON.parse(r.stdout.trim().split('\n').pop());
	} catch {
		reply = undefined;
	}
	return { ...r, reply };
}

export const describeCall = (r) =>
	`exit ${r.code}, stdout ${r.stdout.trim()}, stderr ${r.stderr.trim()}`;

/* An ok reply; returns its data. */
export function assertOkReply(r) {
	assert.equal(r.code, 0, `expected an ok reply: ${describeCall(r)}`);
	assert.equal(r.reply?.v, 1, describeCall(r));
	assert.equal(r.reply.ok, true, describeCall(r));
	assert.ok(r.reply.data && typeof r.reply.data === 'object',
		describeCall(r));
	return r.reply.data;
}

/* An error reply (exit 1) with, when given, `code` (a string or a list of
 * acceptable codes); returns the error. */
export function assertErrorReply(r, code) {
	assert.equal(r.code, 1, `expected an error reply: ${describeCall(r)}`);
	assert.equal(r.reply?.v, 1, describeCall(r));
	assert.equal(r.reply.ok, false, describeCall(r));
	assert.equal(typeof r.reply.error?.code, 'string', describeCall(r));
	assert.equal(typeof r.reply.error?.message, 'string', describeCall(r));
	if (code !== undefined) {
		const codes = Array.isArray(code) ? code : [code];
		assert.ok(codes.includes(r.reply.error.code),
			`expected code ${codes.join('|')}: ${describeCall(r)}`);
	}
	return r.reply.error;
}

/* A running `scbus sub SERVICES PREFIX`: collects every event. Open with
 * `await Subscriber.open(...)`, which waits until scbus is subscribed (what
 * is published before that may be missed); stop() when done. */
export class Subscriber {
	constructor(servicesList, prefix = '') {
		this.events = [];
		this.waiters = [];
		this.stderr = '';
		this.proc = spawn(scbusPath(), ['sub', servicesList, prefix,
			'--count', '1000000', '--timeout-ms', '900000'],
		{ stdio: ['ignore', 'pipe', 'pipe'] });
		this.subscribed = new Promise((resolve) => {
			this.proc.stderr.on('data', (d) => {
				this.stderr += d;
				if (/"msg":"subscribed"/.test(this.stderr)) {
					resolve(true);
				}
			});
			this.proc.on('exit', () => resolve(false));
		});
		this.exited = new Promise((resolve) => {
			this.proc.on('exit', (code) => resolve(code));
		});
		createInterface({ input: this.proc.stdout }).on('line', (line) => {
			let ev;
			try {
				ev = JSON.parse(line);
			} catch {
				return;
			}
			this.events.push(ev);
			for (const w of [...this.waiters]) {
				if (w.pred(ev)) {
					this.waiters.splice(this.waiters.indexOf(w), 1);
					w.resolve(ev);
				}
			}
		});
	}

	static async open(servicesList, prefix = '') {
		const s = new Subscriber(servicesList, prefix);
		const ok = await Promise.race([s.subscribed, sleep(10000).then(() => false)]);
		if (!ok) {
			await s.stop();
			assert.fail(`scbus sub ${servicesList} ${prefix} did not subscribe: ` +
				s.stderr);
		}
		return s;
	}

	/* The first event (seen or to come within timeoutMs) matching pred;
	 * undefined after the timeout. */
	waitFor(pred, timeoutMs = 5000) {
		const seen = this.events.find(pred);
		if (seen) {
			return Promise.resolve(seen);
		}
		return new Promise((resolve) => {
			const w = { pred, resolve };
			this.waiters.push(w);
			setTimeout(() => {
				const i = this.waiters.indexOf(w);
				if (i >= 0) {
					this.waiters.splice(i, 1);
					resolve(undefined);
				}
			}, timeoutMs);
		});
	}

	/* Like waitFor, failing with what was seen when nothing matches. */
	async expect(pred, what, timeoutMs = 5000) {
		const ev = await this.waitFor(pred, timeoutMs);
		assert.ok(ev, `no ${what} event within ${timeoutMs} ms; seen: ` +
			`${JSON.stringify(this.events).slice(-2000)}; scbus: ${this.stderr}`);
		return ev;
	}

	/* Every event seen so far matching pred. */
	matching(pred) {
		return this.events.filter(pred);
	}

	async stop() {
		if (this.proc.exitCode === null && this.proc.signalCode === null) {
			this.proc.kill('SIGTERM');
		}
		await this.exited;
	}
}

/* ---- lists ------------------------------------------------------------ */

/* A list reply: exactly {items: [...], nextCursor: string|null}. */
export function assertList(body, what = 'list') {
	assert.ok(body && typeof body === 'object', `${what}: not an object`);
	assert.deepEqual(Object.keys(body).sort(), ['items', 'nextCursor'],
		`${what} keys: ${JSON.stringify(body).slice(0, 500)}`);
	assert.ok(Array.isArray(body.items), `${what}.items`);
	assert.ok(body.nextCursor === null ||
		(typeof body.nextCursor === 'string' && body.nextCursor.length > 0),
	`${what}.nextCursor: ${JSON.stringify(body.nextCursor)}`);
}

/* Every item of a list, following nextCursor with ?limit=limit (urlPath may
 * carry a query). Returns {items, pages}. Each page holds at most `limit`
 * items; only the last may be empty. */
export async function collectPages(client, urlPath, token, limit,
	maxPages = 500) {
	const items = [];
	const sep = urlPath.includes('?') ? '&' : '?';
	let cursor = null;
	let pages = 0;
	for (;;) {
		let q = `${urlPath}${sep}limit=${limit}`;
		if (cursor !== null) {
			q += `&cursor=${encodeURIComponent(cursor)}`;
		}
		const res = await client.get(q, { token });
		assertStatus(res, 200);
		assertList(res.body, `GET ${q}`);
		assert.ok(res.body.items.length <= limit,
			`GET ${q}: ${res.body.items.length} items for limit ${limit}`);
		pages++;
		items.push(...res.body.items);
		if (res.body.nextCursor === null) {
			break;
		}
		assert.ok(res.body.items.length > 0,
			`GET ${q}: an empty page with a next cursor`);
		assert.notEqual(res.body.nextCursor, cursor, `GET ${q}: same cursor`);
		cursor = res.body.nextCursor;
		assert.ok(pages < maxPages, `GET ${urlPath}: over ${maxPages} pages`);
	}
	return { items, pages };
}

/* ---- shapes of events, matches, ratings ------------------------------ */

export const DATE = /^\d{4}-\d\d-\d\d$/;

const keysOf = (o) => Object.keys(o).sort();
const isId = (v) => Number.isSafeInteger(v) && v > 0;

/* An event as the API shows it (with `joined` unless opts.joined false:
 * the bus's events.events.get leaves it out); `expect` fields must match. */
export function assertEvent(e, expect = {}, opts = {}) {
	const keys = ['id', 'worldsdcId', 'name', 'location', 'startDate',
		'endDate', 'description', 'participantCount'];
	if (opts.joined !== false) {
		keys.push('joined');
	}
	assert.ok(e && typeof e === 'object', 'no event object');
	assert.deepEqual(keysOf(e), keys.sort(), `event keys: ${JSON.stringify(e)}`);
	assert.ok(isId(e.id), `event.id: ${JSON.stringify(e)}`);
	assert.match(e.worldsdcId, /^[A-Za-z0-9_.-]{1,64}$/);
	assert.equal(typeof e.name, 'string');
	assert.equal(typeof e.location, 'string');
	assert.match(e.startDate, DATE);
	assert.match(e.endDate, DATE);
	assert.ok(e.endDate >= e.startDate, `endDate < startDate: ${e.endDate}`);
	assert.ok(e.description === null || typeof e.description === 'string');
	assert.ok(Number.isSafeInteger(e.participantCount) &&
		e.participantCount >= 0, `participantCount ${e.participantCount}`);
	if (opts.joined !== false) {
		assert.equal(typeof e.joined, 'boolean');
	}
	for (const [k, v] of Object.entries(expect)) {
		assert.deepEqual(e[k], v, `event.${k} of ${JSON.stringify(e)}`);
	}
}

export const MATCH_STATUSES = ['pending', 'accepted', 'rejected', 'cancelled',
	'completed'];

/* The bus's short match {id, eventId, status, requesterId, targetId}. */
export function assertBusMatch(m, expect = {}) {
	assert.ok(m && typeof m === 'object', 'no match object');
	assert.deepEqual(keysOf(m),
		['eventId', 'id', 'requesterId', 'status', 'targetId'],
		`bus match keys: ${JSON.stringify(m)}`);
	for (const k of ['id', 'eventId', 'requesterId', 'targetId']) {
		assert.ok(isId(m[k]), `match.${k}: ${JSON.stringify(m)}`);
	}
	assert.ok(MATCH_STATUSES.includes(m.status), `match.status ${m.status}`);
	for (const [k, v] of Object.entries(expect)) {
		assert.deepEqual(m[k], v, `match.${k} of ${JSON.stringify(m)}`);
	}
}

/* A match as the API shows it; requester/target are public profiles (or
 * null when auth could not be asked). */
export function assertMatch(m, expect = {}) {
	assert.ok(m && typeof m === 'object', 'no match object');
	assert.deepEqual(keysOf(m), ['createdAt', 'eventId', 'id', 'requester',
		'requesterId', 'status', 'target', 'targetId', 'updatedAt'],
	`match keys: ${JSON.stringify(m)}`);
	for (const k of ['id', 'eventId', 'requesterId', 'targetId']) {
		assert.ok(isId(m[k]), `match.${k}: ${JSON.stringify(m)}`);
	}
	assert.ok(MATCH_STATUSES.includes(m.status), `match.status ${m.status}`);
	assert.match(m.createdAt, ISO_UTC, `match.createdAt ${m.createdAt}`);
	assert.match(m.updatedAt, ISO_UTC, `match.updatedAt ${m.updatedAt}`);
	assert.ok(m.updatedAt >= m.createdAt, 'updatedAt before createdAt');
	for (const side of ['requester', 'target']) {
		if (m[side] !== null) {
			assertPublicUser(m[side], { id: m[`${side}Id`] });
		}
	}
	for (const [k, v] of Object.entries(expect)) {
		assert.deepEqual(m[k], v, `match.${k} of ${JSON.stringify(m)}`);
	}
}

/* A rating as the API shows it. */
export function assertRating(r, expect = {}) {
	assert.ok(r && typeof r === 'object', 'no rating object');
	assert.deepEqual(keysOf(r), ['comment', 'createdAt', 'id', 'matchId',
		'rated', 'ratedId', 'rater', 'raterId', 'score',
		'wouldCollaborateAgain'], `rating keys: ${JSON.stringify(r)}`);
	for (const k of ['id', 'matchId', 'raterId', 'ratedId']) {
		assert.ok(isId(r[k]), `rating.${k}: ${JSON.stringify(r)}`);
	}
	assert.ok(Number.isInteger(r.score) && r.score >= 1 && r.score <= 5);
	assert.ok(r.comment === null || typeof r.comment === 'string');
	assert.equal(typeof r.wouldCollaborateAgain, 'boolean');
	assert.match(r.createdAt, ISO_UTC);
	for (const side of ['rater', 'rated']) {
		if (r[side] !== null) {
			assertPublicUser(r[side], { id: r[`${side}Id`] });
		}
	}
	for (const [k, v] of Object.entries(expect)) {
		assert.deepEqual(r[k], v, `rating.${k} of ${JSON.stringify(r)}`);
	}
}

/* ---- events: import and own test events --------------------------------- */

/* The events daemon's database URL (role sc_events) on the suite's
 * cluster. */
export function eventsDatabaseUrl() {
	const u = new URL(env('SC_TEST_DATABASE_URL'));
	u.username = 'sc_events';
	u.password = '';
	return u.toString();
}

/* A fresh temporary folder; caller removes it (fs.rm recursive). */
export const tempDir = () => fs.mkdtemp(path.join(os.tmpdir(), 'sc-it-'));

/* `$SC_TEST_BUILD/events import ARGS...` as role sc_events:
 * {code, stdout, stderr}. */
export function eventsImport(args) {
	return run(path.join(env('SC_TEST_BUILD'), 'events'), ['import', ...args], {
		env: { ...process.env, SC_DATABASE_URL: eventsDatabaseUrl() },
		timeoutMs: 60000,
	});
}

/* Next year: dates in it are upcoming whenever the tests run. */
export const NEXT_YEAR = new Date().getUTCFullYear() + 1;

/* A valid import entry with a unique worldsdcId and name (upcoming, next
 * year); `over` replaces fields. */
export function eventSpec(over = {}) {
	const tag = crypto.randomBytes(5).toString('hex');
	return {
		worldsdcId: `it-${tag}`,
		name: `Integration Swing ${tag}`,
		location: 'Testville, Germany',
		startDate: `${NEXT_YEAR}-06-10`,
		endDate: `${NEXT_YEAR}-06-13`,
		...over,
	};
}

/* Import entries (eventSpec objects) through `events import` and return
 * them, in order, with the id each got. The tests' own events: no other
 * test sees or changes them. */
export async function createEvents(specs) {
	const dir = await tempDir();
	try {
		const file = path.join(dir, 'events.json');
		await fs.writeFile(file, JSON.stringify(specs, null, 2));
		const r = await eventsImport([file]);
		assert.equal(r.code, 0, `events import: exit ${r.code}: ` +
			`${r.stdout}${r.stderr}`);
	} finally {
		await fs.rm(dir, { recursive: true, force: true });
	}
	const rows = await sql('SELECT worldsdc_id || \'|\' || id FROM ' +
		`events.events WHERE worldsdc_id IN (${specs.map((s) =>
			lit(s.worldsdcId)).join(', ')})`);
	const ids = new Map(rows.split('\n').filter(Boolean).map((l) => {
		const [w, id] = l.split('|');
		return [w, Number(id)];
	}));
	return specs.map((s) => {
		assert.ok(ids.has(s.worldsdcId), `event ${s.worldsdcId} not imported`);
		return { ...s, id: ids.get(s.worldsdcId) };
	});
}

/* One own event; see createEvents. */
export async function createEvent(over = {}) {
	return (await createEvents([eventSpec(over)]))[0];
}

/* count:digest of a table's rows (superuser), to prove nothing changed. */
export async function tableDigest(table) {
	return sql(`SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ` +
		`E'\\n' ORDER BY t::text)), '') FROM ${table} t`);
}

/* n fresh registered and logged-in users, at once. */
export function newSessions(client, n, prefix = 'u') {
	return Promise.all(Array.from({ length: n },
		() => newSession(client, { prefix })));
}

/* ---- journeys across events and matchmaking ------------------------------ */

/* u joins ev (200). */
export async function joinEvent(client, u, ev) {
	const res = await client.post(`/api/events/${ev.id}/join`,
		{ token: u.accessToken });
	assertStatus(res, 200);
	return res.body.event;
}

/* An own event and n fresh users who all joined it: {ev, users}. */
export async function eventWithUsers(client, n, prefix = 'u') {
	const [ev, users] = await Promise.all([createEvent(),
		newSessions(client, n, prefix)]);
	await Promise.all(users.map((u) => joinEvent(client, u, ev)));
	return { ev, users };
}

/* POST /api/matches from `from` to `to` (a session or a user id) at ev (an
 * event or an id): the raw response. */
export function askMatch(client, from, to, ev) {
	return client.post('/api/matches', {
		json: { targetUserId: typeof to === 'number' ? to : to.user.id,
			eventId: typeof ev === 'number' ? ev : ev.id },
		token: from.accessToken,
	});
}

/* from asks to at ev: 201 {match} pending; returns the match. */
export async function requestMatch(client, from, to, ev) {
	const res = await askMatch(client, from, to, ev);
	assertStatus(res, 201);
	assert.deepEqual(Object.keys(res.body), ['match'], show(res));
	assertMatch(res.body.match, { status: 'pending', eventId: ev.id,
		requesterId: from.user.id, targetId: to.user.id });
	return res.body.match;
}

/* u moves match m to status: 200 {match}; returns the match. */
export async function moveMatch(client, u, m, status) {
	const res = await client.patch(`/api/matches/${m.id}`,
		{ json: { status }, token: u.accessToken });
	assertStatus(res, 200);
	assert.deepEqual(Object.keys(res.body), ['match'], show(res));
	assertMatch(res.body.match, { id: m.id, status, eventId: m.eventId,
		requesterId: m.requesterId, targetId: m.targetId });
	return res.body.match;
}

/* A match from `from` to `to` at ev brought to `state` along the machine
 * (accepted/rejected by the target, cancelled/completed by the requester). */
export async function matchIn(client, state, from, to, ev) {
	let m = await requestMatch(client, from, to, ev);
	if (state === 'accepted' || state === 'completed') {
		m = await moveMatch(client, to, m, 'accepted');
	}
	if (state === 'rejected') {
		m = await moveMatch(client, to, m, 'rejected');
	}
	if (state === 'cancelled') {
		m = await moveMatch(client, from, m, 'cancelled');
	}
	if (state === 'completed') {
		m = await moveMatch(client, from, m, 'completed');
	}
	return m;
}
