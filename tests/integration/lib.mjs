// lib.mjs: helpers for the integration tests that drive the real auth daemon
// and the nginx gateway over HTTP (env from tests/run.sh, see below).
//
//   SC_TEST_AUTH_URL      the auth daemon directly (trusts X-Real-IP from us)
//   SC_TEST_GATEWAY_URL   nginx in front of it
//   SC_TEST_MAIL_DIR      the file mail outbox (<id>.json per mail)
//   SC_TEST_BUILD         build dir (scbus lives there)
//   SC_TEST_DATABASE_URL  superuser URL of the suite's PostgreSQL
//   SC_TEST_VAR           the suite's var dir (keys/jwt.key, keys/jwt.pub)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
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
