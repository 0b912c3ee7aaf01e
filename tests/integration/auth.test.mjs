// auth.test.mjs: the auth daemon's HTTP API (services/auth/README.md) driven
// directly, without the gateway. Failed logins and forgot-password calls use
// their own made-up X-Real-IP so the per-IP limits stay per test.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, test } from 'node:test';

import {
	Client, CookieJar, PASSWORD, assertError, assertNoSecrets,
	assertPrivateUser, assertPublicUser, assertStatus, assertValidation,
	authUrl, decodeJwt, emailFor, isClearing, lit, login, mailsFor,
	newSession, randomIp, register, setCookies, show, signES256,
	signHS256, sleep, sql, suiteKeys, uniqueName, waitForMail,
} from './lib.mjs';

const api = new Client(authUrl(), {}, { freshIp: true });

const POST_ENDPOINTS = ['/api/auth/register', '/api/auth/login',
	'/api/auth/refresh', '/api/auth/logout', '/api/auth/verify-email',
	'/api/auth/forgot-password', '/api/auth/reset-password'];

describe('health and the HTTP layer', () => {
	test('GET /health answers 200 {status: "ok"}', async () => {
		const res = await api.get('/health');
		assertStatus(res, 200);
		assert.deepEqual(res.body, { status: 'ok' });
	});

	test('GET /ready answers 200 {status: "ready"}', async () => {
		const res = await api.get('/ready');
		assertStatus(res, 200);
		assert.deepEqual(res.body, { status: 'ready' });
	});

	test('an unknown path is a JSON 404 not_found', async () => {
		assertError(await api.get('/api/auth/nope'), 404, 'not_found');
		assertError(await api.get('/nope'), 404, 'not_found');
	});

	test('a known path with the wrong method is a JSON 405', async () => {
		assertError(await api.get('/api/auth/login'), 405,
			'method_not_allowed');
	});

	test('a sane X-Request-Id is echoed, an insane one replaced', async () => {
		let res = await api.get('/health',
			{ headers: { 'x-request-id': 'itest-req.42_A' } });
		assert.equal(res.headers.get('x-request-id'), 'itest-req.42_A');
		res = await api.get('/health');
		assert.match(res.headers.get('x-request-id') ?? '',
			/^[A-Za-z0-9._-]{1,64}$/);
		res = await api.get('/health',
			{ headers: { 'x-request-id': 'bad id<script>' } });
		const id = res.headers.get('x-request-id') ?? '';
		assert.match(id, /^[A-Za-z0-9._-]{1,64}$/);
		res = await api.get('/health',
			{ headers: { 'x-request-id': 'a'.repeat(65) } });
		assert.notEqual(res.headers.get('x-request-id'), 'a'.repeat(65));
	});
});

describe('register', () => {
	test('creates a user: 201 {user} in the private view, email ' +
		'lower-cased, no password anywhere', async () => {
		const username = uniqueName('reg');
		const res = await api.post('/api/auth/register', {
			json: {
				username, email: `Mixed.${username}@Example.COM`,
				password: PASSWORD,
			},
		});
		assertStatus(res, 201);
		assert.deepEqual(Object.keys(res.body), ['user']);
		assertPrivateUser(res.body.user, {
			username, email: `mixed.${username}@example.com`,
			displayName: null, avatarUrl: null, wsdcId: null, bio: null,
			emailVerified: false,
		});
		assertNoSecrets(res.body);
		assert.ok(Math.abs(Date.parse(res.body.user.createdAt) - Date.now()) <
			120000, 'createdAt is about now');
	});

	test('stores an argon2id hash, not the password', async () => {
		const r = await register(api);
		const hash = await sql('SELECT password_hash FROM auth.users ' +
			`WHERE id = ${r.user.id}`);
		assert.match(hash, /^\$argon2id\$/);
		assert.ok(!hash.includes(r.password));
	});

	test('accepts the limits: 30-character username, 10 and 128 ' +
		'character passwords', async () => {
		const u30 = uniqueName('x').padEnd(30, '9');
		assert.equal(u30.length, 30);
		await register(api, { username: u30, password: 'p'.repeat(10) });
		await register(api, { password: 'p'.repeat(128) });
		const u = uniqueName('dot');
		await register(api, { username: `${u}._-` });
	});

	test('accepts application/json with a charset parameter', async () => {
		const username = uniqueName('cs');
		const res = await api.post('/api/auth/register', {
			body: JSON.stringify({
				username, email: emailFor(username), password: PASSWORD,
			}),
			contentType: 'application/json; charset=utf-8',
		});
		assertStatus(res, 201);
	});

	test('a taken username is 409 username_taken', async () => {
		const r = await register(api);
		const res = await api.post('/api/auth/register', {
			json: {
				username: r.username, email: emailFor(uniqueName('o')),
				password: PASSWORD,
			},
		});
		assertError(res, 409, 'username_taken');
	});

	test('a taken email in another case is 409 email_taken', async () => {
		const r = await register(api);
		const res = await api.post('/api/auth/register', {
			json: {
				username: uniqueName('o'), email: r.email.toUpperCase(),
				password: PASSWORD,
			},
		});
		assertError(res, 409, 'email_taken');
	});

	const good = () => {
		const username = uniqueName('v');
		return { username, email: emailFor(username), password: PASSWORD };
	};
	const longEmail = `${'a'.repeat(64)}@${`${'b'.repeat(60)}.`.repeat(3)}` +
		`${'c'.repeat(60)}.com`;
	assert.ok(longEmail.length > 254);
	const cases = [
		['a 2-character username', { username: 'ab' }, ['username']],
		['a 31-character username', { username: 'a'.repeat(31) },
			['username']],
		['an upper-case username', () => ({ username: uniqueName('Up').replace('up', 'Up') }),
			['username']],
		['a username with a space', { username: 'al ice' }, ['username']],
		['a username with @', { username: 'al@ice' }, ['username']],
		['a username with a non-ASCII letter', { username: 'ålice' },
			['username']],
		['an empty username', { username: '' }, ['username']],
		['an email without @', { email: 'not-an-email' }, ['email']],
		['an email without domain', { email: 'alice@' }, ['email']],
		['an email without local part', { email: '@example.com' }, ['email']],
		['an email with a space', { email: 'al ice@example.com' }, ['email']],
		['an email over 254 characters', { email: longEmail }, ['email']],
		['a 9-character password', { password: 'p'.repeat(9) }, ['password']],
		['a 129-character password', { password: 'p'.repeat(129) },
			['password']],
		['a number as username', { username: 123 }, ['username']],
		['a boolean as email', { email: true }, ['email']],
		['an array as password', { password: ['x'.repeat(12)] }, ['password']],
		['an object as username', { username: { a: 1 } }, ['username']],
		['null fields', { username: null, email: null, password: null },
			['username', 'email', 'password']],
		['an unknown field', { isAdmin: true }, ['isAdmin']],
	];
	for (const [name, patch, fields] of cases) {
		test(`${name} is 422 with details for ${fields.join(', ')}`,
			async () => {
				const p = typeof patch === 'function' ? patch() : patch;
				const body = { ...good(), ...p };
				const res = await api.post('/api/auth/register', { json: body });
				assertValidation(res, fields);
			});
	}

	test('missing fields are 422 with details for each', async () => {
		assertValidation(await api.post('/api/auth/register', { json: {} }),
			['username', 'email', 'password']);
		const u = uniqueName('m');
		assertValidation(await api.post('/api/auth/register',
			{ json: { username: u } }), ['email', 'password']);
	});

	test('a failed validation creates nothing', async () => {
		const username = uniqueName('nf');
		const res = await api.post('/api/auth/register', {
			json: { username, email: emailFor(username), password: 'short' },
		});
		assertValidation(res, ['password']);
		assert.equal(await sql('SELECT count(*) FROM auth.users WHERE ' +
			`username = ${lit(username)}`), '0');
	});

	// The README gives no code for 400; error.h says bad_request, the HTTP
	// layer says bad_json for a parse error. Either, but one per kind.
	const BAD_JSON = ['bad_json', 'bad_request'];

	test('malformed JSON is 400', async () => {
		const codes = new Set();
		for (const body of ['{"username":', '{username: "a"}', '{"a":1,}',
			'not json', '{"a":1} trailing', '{"a":"\\x"}']) {
			const res = await api.post('/api/auth/register',
				{ body, contentType: 'application/json' });
			codes.add(assertError(res, 400, BAD_JSON).code);
		}
		assert.equal(codes.size, 1, `one code: ${[...codes]}`);
	});

	test('a non-object JSON body is 400, the same error for each',
		async () => {
			const seen = new Map();
			for (const body of ['[]', '"text"', '42', 'null', 'true', '[{}]']) {
				const res = await api.post('/api/auth/register',
					{ body, contentType: 'application/json' });
				const e = assertError(res, 400, BAD_JSON);
				seen.set(body, `${e.code}: ${e.message}`);
			}
			assert.equal(new Set(seen.values()).size, 1,
				`the same error for every non-object body: ${
					JSON.stringify(Object.fromEntries(seen))}`);
		});

	test('a non-JSON content type is 415 unsupported_media_type',
		async () => {
			const body = JSON.stringify(good());
			for (const ct of ['text/plain',
				'application/x-www-form-urlencoded', 'multipart/form-data']) {
				const res = await api.post('/api/auth/register',
					{ body, contentType: ct });
				assertError(res, 415, 'unsupported_media_type');
			}
			// no Content-Type at all
			const res = await api.post('/api/auth/register',
				{ body: Buffer.from(body) });
			assertError(res, 415, 'unsupported_media_type');
		});

	test('a body over 64 KiB is 413 payload_too_large', async () => {
		const body = { ...good(), pad: 'x'.repeat(70 * 1024) };
		const res = await api.post('/api/auth/register', { json: body });
		assertError(res, 413, 'payload_too_large');
	});
});

describe('login', () => {
	let alice;
	before(async () => {
		alice = await register(api, { prefix: 'login' });
	});

	test('by username: 200 {accessToken, expiresIn, user} and the ' +
		'refresh cookie', async () => {
		const res = await api.post('/api/auth/login',
			{ json: { login: alice.username, password: alice.password } });
		assertStatus(res, 200);
		assert.deepEqual(Object.keys(res.body).sort(),
			['accessToken', 'expiresIn', 'user']);
		assertPrivateUser(res.body.user,
			{ id: alice.user.id, username: alice.username, email: alice.email });
		assertNoSecrets(res.body.user);
		assert.ok(Number.isSafeInteger(res.body.expiresIn) &&
			res.body.expiresIn > 0, `expiresIn ${res.body.expiresIn}`);

		const cookies = setCookies(res, 'sc_refresh');
		assert.equal(cookies.length, 1, 'one sc_refresh Set-Cookie');
		const c = cookies[0];
		assert.ok(c.value.length >= 20, 'refresh token looks random');
		assert.equal(c.attrs.get('httponly'), true, 'HttpOnly');
		assert.equal(String(c.attrs.get('samesite')).toLowerCase(), 'strict');
		assert.equal(c.attrs.get('path'), '/api/auth');
		const maxAge = Number(c.attrs.get('max-age'));
		assert.ok(Number.isInteger(maxAge) && maxAge > 0, 'Max-Age');
		assert.ok(!c.value.includes(alice.password));
	});

	test('the access token is an ES256 JWT with the documented claims',
		async () => {
			const s = await login(api, alice.username, alice.password);
			const { header, payload } = decodeJwt(s.accessToken);
			assert.equal(header.alg, 'ES256');
			assert.equal(payload.sub, String(alice.user.id));
			assert.equal(payload.username, alice.username);
			assert.equal(typeof payload.iss, 'string');
			assert.ok(typeof payload.aud === 'string' ||
				Array.isArray(payload.aud));
			assert.equal(typeof payload.jti, 'string');
			assert.ok(payload.jti.length > 0);
			assert.ok(Number.isInteger(payload.iat));
			assert.equal(payload.exp - payload.iat, s.expiresIn);
			assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 120);
			const s2 = await login(api, alice.username, alice.password);
			assert.notEqual(decodeJwt(s2.accessToken).payload.jti, payload.jti);
		});

	test('by email in any case', async () => {
		for (const e of [alice.email, alice.email.toUpperCase()]) {
			const s = await login(api, e, alice.password);
			assert.equal(s.user.id, alice.user.id);
		}
	});

	test('a wrong password and an unknown user get the same 401 ' +
		'invalid_credentials', async () => {
		const ip = randomIp();
		const wrong = await api.post('/api/auth/login',
			{ json: { login: alice.username, password: 'wrong password!' }, ip });
		const e = assertError(wrong, 401, 'invalid_credentials');
		assert.equal(setCookies(wrong, 'sc_refresh').filter((c) =>
			!isClearing(c)).length, 0, 'no refresh cookie on failure');
		const unknown = await api.post('/api/auth/login', {
			json: { login: uniqueName('ghost'), password: alice.password }, ip,
		});
		assertError(unknown, 401, 'invalid_credentials');
		assert.deepEqual(unknown.body, wrong.body);
		const unknownMail = await api.post('/api/auth/login', {
			json: { login: emailFor(uniqueName('ghost')), password: 'x'.repeat(12) },
			ip,
		});
		assert.deepEqual(unknownMail.body, wrong.body);
		assert.ok(!JSON.stringify(e).includes(alice.username));
	});

	test('a password with a NUL and more appended does not log in',
		async () => {
			const res = await api.post('/api/auth/login', {
				json: { login: alice.username, password: `${alice.password}\u0000zz` },
				ip: randomIp(),
			});
			assert.ok(res.status === 401 || res.status === 422, show(res));
			assertError(res, res.status);
		});

	test('a prefix of the password does not log in', async () => {
		const res = await api.post('/api/auth/login', {
			json: { login: alice.username, password: alice.password.slice(0, 10) },
			ip: randomIp(),
		});
		assertError(res, 401, 'invalid_credentials');
	});

	test('missing or mistyped fields are 422', async () => {
		const ip = randomIp();
		assertValidation(await api.post('/api/auth/login', { json: {}, ip }),
			['login', 'password']);
		assertValidation(await api.post('/api/auth/login',
			{ json: { login: alice.username }, ip }), ['password']);
		assertValidation(await api.post('/api/auth/login',
			{ json: { login: 42, password: alice.password }, ip }), ['login']);
		assertValidation(await api.post('/api/auth/login',
			{ json: { login: { $ne: null }, password: alice.password }, ip }),
		['login']);
	});

	test('10 failed logins for one account: the next is 429 with ' +
		'Retry-After, even with the right password', async () => {
		const victim = await register(api, { prefix: 'lock' });
		const ip = randomIp();
		for (let i = 0; i < 10; i++) {
			const res = await api.post('/api/auth/login', {
				json: { login: victim.username, password: `wrong-pass-${i}` },
				ip,
			});
			assertError(res, 401, 'invalid_credentials');
		}
		const res = await api.post('/api/auth/login',
			{ json: { login: victim.username, password: victim.password }, ip });
		assertError(res, 429, 'rate_limited');
		const ra = Number(res.headers.get('retry-after'));
		// a sliding window approximated by two fixed ones may ask for up
		// to two windows
		assert.ok(Number.isInteger(ra) && ra > 0 && ra <= 2 * 15 * 60,
			`Retry-After ${res.headers.get('retry-after')}`);
		// the account is limited, from any address
		const other = await api.post('/api/auth/login', {
			json: { login: victim.email, password: victim.password },
			ip: randomIp(),
		});
		assertError(other, 429, 'rate_limited');
		assert.ok(Number(other.headers.get('retry-after')) > 0);
		// other accounts from the first address are not
		await login(api, alice.username, alice.password, { ip });
	});

	test('20 failed logins from one IP for different accounts: the next ' +
		'is 429 with Retry-After', async () => {
		const ip = randomIp();
		for (let i = 0; i < 20; i++) {
			const res = await api.post('/api/auth/login', {
				json: { login: uniqueName(`ipl${i}`), password: 'wrong-password' },
				ip,
			});
			assertError(res, 401, 'invalid_credentials');
		}
		const res = await api.post('/api/auth/login',
			{ json: { login: alice.username, password: alice.password }, ip });
		assertError(res, 429, 'rate_limited');
		const ra = Number(res.headers.get('retry-after'));
		assert.ok(Number.isInteger(ra) && ra > 0 && ra <= 2 * 10 * 60,
			`Retry-After ${res.headers.get('retry-after')}`);
		// the same account from another address is fine
		await login(api, alice.username, alice.password, { ip: randomIp() });
	});
});

describe('access tokens on GET /api/users/me', () => {
	let s; // a session
	let keys;
	let claims; // the claims of a real token
	before(async () => {
		s = await newSession(api, { prefix: 'me' });
		keys = await suiteKeys();
		claims = decodeJwt(s.accessToken).payload;
	});

	test('with the token: 200 and the private view', async () => {
		const res = await api.get('/api/users/me', { token: s.accessToken });
		assertStatus(res, 200);
		assertPrivateUser(res.body, s.user);
		assertNoSecrets(res.body);
	});

	const unauthorized = async (headers, what) => {
		const res = await api.get('/api/users/me', { headers });
		assert.equal(res.status, 401, `${what}: ${show(res)}`);
		assertError(res, 401, 'unauthorized');
	};
	const bearer = (t) => ({ authorization: `Bearer ${t}` });
	const now = () => Math.floor(Date.now() / 1000);

	test('without a token: 401', async () => {
		await unauthorized({}, 'no header');
		await unauthorized({ authorization: 'Bearer' }, 'empty bearer');
		await unauthorized({ authorization: 'Bearer ' }, 'empty bearer');
	});

	test('with garbage or another scheme: 401', async () => {
		await unauthorized(bearer('garbage'), 'garbage');
		await unauthorized(bearer('a.b.c'), 'a.b.c');
		await unauthorized(bearer('x'.repeat(8000)), 'huge');
		await unauthorized({ authorization: `Basic ${s.accessToken}` }, 'Basic');
		await unauthorized({ authorization: s.accessToken }, 'no scheme');
	});

	test('a tampered token: 401', async () => {
		const [h, p, sig] = s.accessToken.split('.');
		// flip one character in the middle of the payload
		const i = Math.floor(p.length / 2);
		const flipped = p.slice(0, i) + (p[i] === 'A' ? 'B' : 'A') +
			p.slice(i + 1);
		await unauthorized(bearer(`${h}.${flipped}.${sig}`), 'flipped payload');
		// a meaningful change with the original signature
		const other = Buffer.from(JSON.stringify({ ...claims, sub: '1' }))
			.toString('base64url');
		await unauthorized(bearer(`${h}.${other}.${sig}`), 'sub changed');
		// a flipped signature
		const j = Math.floor(sig.length / 2);
		const badSig = sig.slice(0, j) + (sig[j] === 'A' ? 'B' : 'A') +
			sig.slice(j + 1);
		await unauthorized(bearer(`${h}.${p}.${badSig}`), 'flipped signature');
		await unauthorized(bearer(`${h}.${p}.`), 'no signature');
		await unauthorized(bearer(`${h}.${p}`), 'two parts');
	});

	test('alg "none": 401', async () => {
		const b = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
		for (const alg of ['none', 'None', 'NONE']) {
			const t = `${b({ alg, typ: 'JWT' })}.${b(claims)}.`;
			await unauthorized(bearer(t), `alg ${alg}`);
		}
	});

	test('HS256 keyed with the public key: 401', async () => {
		await unauthorized(bearer(signHS256(claims, keys.pub)),
			'HS256 with the public key PEM');
	});

	test('ES256 signed with another EC key: 401', async () => {
		const { privateKey } = crypto.generateKeyPairSync('ec',
			{ namedCurve: 'P-256' });
		await unauthorized(bearer(signES256(claims, privateKey)), 'foreign key');
	});

	test('a correctly signed token minted by the test: 200 (the minting ' +
		'below is right)', async () => {
		const t = signES256({ ...claims, iat: now(), exp: now() + 300,
			jti: crypto.randomUUID() }, keys.priv);
		const res = await api.get('/api/users/me', { token: t });
		assertStatus(res, 200);
		assert.equal(res.body.id, s.user.id);
	});

	test('correctly signed but expired: 401', async () => {
		const t = signES256({ ...claims, iat: now() - 1000, exp: now() - 60 },
			keys.priv);
		await unauthorized(bearer(t), 'expired');
	});

	test('correctly signed with the wrong audience or issuer: 401',
		async () => {
			const base = { ...claims, iat: now(), exp: now() + 300 };
			await unauthorized(bearer(signES256({ ...base, aud: 'evil.example' },
				keys.priv)), 'wrong aud');
			const noAud = { ...base };
			delete noAud.aud;
			await unauthorized(bearer(signES256(noAud, keys.priv)), 'no aud');
			await unauthorized(bearer(signES256({ ...base, iss: 'evil.example' },
				keys.priv)), 'wrong iss');
		});

	test('correctly signed with a bad sub: 401', async () => {
		const base = { ...claims, iat: now(), exp: now() + 300 };
		for (const sub of ['abc', '-1', '0', '']) {
			await unauthorized(bearer(signES256({ ...base, sub }, keys.priv)),
				`sub ${JSON.stringify(sub)}`);
		}
	});
});

describe('profile: PATCH /api/users/me and GET /api/users/:username', () => {
	let s;
	let viewer;
	before(async () => {
		s = await newSession(api, { prefix: 'prof' });
		viewer = await newSession(api, { prefix: 'view' });
	});

	const me = async () => {
		const res = await api.get('/api/users/me', { token: s.accessToken });
		assertStatus(res, 200);
		return res.body;
	};
	const patch = (json, opts = {}) =>
		api.patch('/api/users/me', { json, token: s.accessToken, ...opts });

	const values = {
		displayName: 'Alice Ä. Dancer 💃',
		avatarUrl: 'https://cdn.example.com/a/b.png?size=64',
		wsdcId: 12345,
		bio: 'West Coast Swing since 2010.\nLine two\twith a tab.',
	};

	for (const [field, value] of Object.entries(values)) {
		test(`${field} can be set alone and cleared with null`, async () => {
			const before = await me();
			let res = await patch({ [field]: value });
			assertStatus(res, 200);
			assertPrivateUser(res.body, { ...before, [field]: value });
			assert.deepEqual(await me(), { ...before, [field]: value });
			res = await patch({ [field]: null });
			assertStatus(res, 200);
			assert.deepEqual(res.body, { ...before, [field]: null });
			assert.deepEqual(await me(), { ...before, [field]: null });
		});
	}

	test('the limits themselves are accepted', async () => {
		const edge = {
			displayName: 'é'.repeat(50),
			bio: '💃'.repeat(500),
			wsdcId: 99999999,
			avatarUrl: `http://example.com/${'a'.repeat(2048 - 19)}`,
		};
		assert.equal(edge.avatarUrl.length, 2048);
		let res = await patch(edge);
		assertStatus(res, 200);
		assert.deepEqual(await me(), { ...res.body, ...edge });
		res = await patch({ wsdcId: 1 });
		assertStatus(res, 200);
		assert.equal(res.body.wsdcId, 1);
	});

	test('all fields at once, and the public profile shows them without ' +
		'email', async () => {
		let res = await patch(values);
		assertStatus(res, 200);
		assertPrivateUser(res.body, values);
		res = await api.get(`/api/users/${s.username}`,
			{ token: viewer.accessToken });
		assertStatus(res, 200);
		assertPublicUser(res.body,
			{ id: s.user.id, username: s.username, ...values });
		assert.ok(!res.text.includes(s.email), 'email hidden');
		assertNoSecrets(res.body);
		// the owner sees the same public view of themselves
		res = await api.get(`/api/users/${s.username}`,
			{ token: s.accessToken });
		assertStatus(res, 200);
		assertPublicUser(res.body, { id: s.user.id, ...values });
	});

	const invalid = [
		['displayName of 51 characters', { displayName: 'é'.repeat(51) },
			'displayName'],
		['displayName with a control character',
			{ displayName: 'a\u0001b' }, 'displayName'],
		['displayName as a number', { displayName: 5 }, 'displayName'],
		['bio of 501 characters', { bio: 'b'.repeat(501) }, 'bio'],
		['avatarUrl not a URL', { avatarUrl: 'not a url' }, 'avatarUrl'],
		['avatarUrl ftp', { avatarUrl: 'ftp://example.com/a.png' }, 'avatarUrl'],
		['avatarUrl javascript:', { avatarUrl: 'javascript:alert(1)' },
			'avatarUrl'],
		['avatarUrl data:', { avatarUrl: 'data:image/png;base64,AAAA' },
			'avatarUrl'],
		['avatarUrl over 2048', {
			avatarUrl: `https://example.com/${'a'.repeat(2048)}`,
		}, 'avatarUrl'],
		['wsdcId as a string', { wsdcId: '12345' }, 'wsdcId'],
		['wsdcId 0', { wsdcId: 0 }, 'wsdcId'],
		['wsdcId negative', { wsdcId: -5 }, 'wsdcId'],
		['wsdcId 100000000', { wsdcId: 100000000 }, 'wsdcId'],
		['wsdcId fractional', { wsdcId: 1.5 }, 'wsdcId'],
		['wsdcId huge', '{"wsdcId": 99999999999999999999999}', 'wsdcId'],
		['wsdcId 1e400', '{"wsdcId": 1e400}', 'wsdcId'],
		['unknown field email', { email: 'x@example.com' }, 'email'],
		['unknown field username', { username: 'someoneelse' }, 'username'],
		['unknown field emailVerified', { emailVerified: true },
			'emailVerified'],
		['a valid field next to an unknown one',
			{ bio: 'changed?', isAdmin: true }, 'isAdmin'],
		['a valid field next to an invalid one',
			{ bio: 'changed?', wsdcId: 'x' }, 'wsdcId'],
	];
	for (const [name, body, field] of invalid) {
		test(`${name} is 422 and changes nothing`, async () => {
			const before = await me();
			const res = typeof body === 'string'
				? await api.patch('/api/users/me', {
					body, contentType: 'application/json', token: s.accessToken,
				})
				: await patch(body);
			assertValidation(res, [field]);
			assert.deepEqual(await me(), before);
		});
	}

	test('PATCH with a non-JSON content type is 415', async () => {
		const res = await api.patch('/api/users/me', {
			body: JSON.stringify({ bio: 'x' }), contentType: 'text/plain',
			token: s.accessToken,
		});
		assertError(res, 415, 'unsupported_media_type');
	});

	test('anonymous PATCH is 401', async () => {
		const before = await me();
		const res = await api.patch('/api/users/me', { json: { bio: 'anon' } });
		assertError(res, 401, 'unauthorized');
		assert.deepEqual(await me(), before);
	});

	test('GET /api/users/:username of an unknown user is 404', async () => {
		const res = await api.get(`/api/users/${uniqueName('nobody')}`,
			{ token: s.accessToken });
		assertError(res, 404, 'not_found');
	});

	test('GET /api/users/:username anonymously is 401', async () => {
		const res = await api.get(`/api/users/${s.username}`);
		assertError(res, 401, 'unauthorized');
	});

	test('GET /api/users/:username with odd names is 404, not 500',
		async () => {
			for (const n of ['%00', '..', 'a%2Fb', 'A'.repeat(300), '%C3%28',
				'%ff%fe', "x'or'1'='1"]) {
				const res = await api.get(`/api/users/${n}`,
					{ token: s.accessToken });
				assert.ok(res.status === 404 || res.status === 400, show(res));
				assertError(res, res.status);
			}
		});

	test('the profile change is visible to others (public profile ' +
		'reflects PATCH)', async () => {
		let res = await patch({ displayName: 'Renamed', bio: null });
		assertStatus(res, 200);
		res = await api.get(`/api/users/${s.username}`,
			{ token: viewer.accessToken });
		assertStatus(res, 200);
		assert.equal(res.body.displayName, 'Renamed');
		assert.equal(res.body.bio, null);
	});
});

describe('refresh and logout', () => {
	const refresh = (jar) => api.post('/api/auth/refresh', { jar });

	test('the cookie refreshes: 200 new token, user, a different cookie; ' +
		'the old cookie again is refresh_token_reused and revokes the ' +
		'family', async () => {
		const s = await newSession(api, { prefix: 'ref' });
		const first = s.jar.get('sc_refresh');
		const oldJar = s.jar.clone();

		const res = await refresh(s.jar);
		assertStatus(res, 200);
		assert.deepEqual(Object.keys(res.body).sort(),
			['accessToken', 'expiresIn', 'user']);
		assertPrivateUser(res.body.user, { id: s.user.id });
		assert.notEqual(res.body.accessToken, s.accessToken);
		assert.equal(decodeJwt(res.body.accessToken).payload.sub,
			String(s.user.id));
		const c = setCookies(res, 'sc_refresh');
		assert.equal(c.length, 1);
		assert.equal(c[0].attrs.get('httponly'), true);
		assert.equal(String(c[0].attrs.get('samesite')).toLowerCase(), 'strict');
		assert.equal(c[0].attrs.get('path'), '/api/auth');
		const second = s.jar.get('sc_refresh');
		assert.ok(second && second !== first, 'a new refresh cookie');
		// the new access token works
		assertStatus(await api.get('/api/users/me',
			{ token: res.body.accessToken }), 200);

		// the old cookie again: reuse detected
		const reuse = await refresh(oldJar);
		assertError(reuse, 401, 'refresh_token_reused');
		// and the family is gone: the new cookie no longer works either
		const after = await refresh(s.jar.clone());
		assertError(after, 401, ['invalid_refresh_token',
			'refresh_token_reused']);
	});

	test('a chain of refreshes keeps working', async () => {
		const s = await newSession(api, { prefix: 'chain' });
		const seen = new Set([s.jar.get('sc_refresh')]);
		for (let i = 0; i < 5; i++) {
			assertStatus(await refresh(s.jar), 200);
			const v = s.jar.get('sc_refresh');
			assert.ok(!seen.has(v), 'each refresh rotates the cookie');
			seen.add(v);
		}
	});

	test('two logins are two families: reuse in one leaves the other',
		async () => {
			const s = await newSession(api, { prefix: 'fam' });
			const other = await login(api, s.username, s.password);
			const old = s.jar.clone();
			assertStatus(await refresh(s.jar), 200);
			assertError(await refresh(old), 401, 'refresh_token_reused');
			assertStatus(await refresh(other.jar), 200);
		});

	test('no cookie, or an unknown one: 401 invalid_refresh_token',
		async () => {
			assertError(await refresh(new CookieJar()), 401,
				'invalid_refresh_token');
			const jar = new CookieJar({
				sc_refresh: crypto.randomBytes(32).toString('base64url'),
			});
			assertError(await refresh(jar), 401, 'invalid_refresh_token');
			const junk = new CookieJar({ sc_refresh: '%00;' + 'x'.repeat(600) });
			assertError(await refresh(junk), 401, 'invalid_refresh_token');
		});

	test('an expired refresh token: 401', async () => {
		const s = await newSession(api, { prefix: 'rexp' });
		await sql('UPDATE auth.refresh_tokens SET expires_at = now() - ' +
			`interval '1 second' WHERE user_id = ${s.user.id}`);
		assertError(await refresh(s.jar), 401, 'invalid_refresh_token');
	});

	test('logout: 204, the cookie cleared, and it no longer refreshes',
		async () => {
			const s = await newSession(api, { prefix: 'out' });
			const kept = s.jar.clone();
			const res = await api.post('/api/auth/logout', { jar: s.jar });
			assert.equal(res.status, 204, show(res));
			assert.equal(res.text, '');
			const c = setCookies(res, 'sc_refresh');
			assert.equal(c.length, 1, 'logout sets sc_refresh');
			assert.ok(isClearing(c[0]), `cleared: ${JSON.stringify([...c[0].attrs])}`);
			assert.equal(c[0].attrs.get('path'), '/api/auth');
			assert.equal(s.jar.get('sc_refresh'), undefined);
			assertError(await refresh(kept), 401, ['invalid_refresh_token',
				'refresh_token_reused']);
		});

	test('logout revokes the whole family of the session', async () => {
		const s = await newSession(api, { prefix: 'outf' });
		const old = s.jar.clone();
		assertStatus(await refresh(s.jar), 200);
		// log out with the older (already used) cookie still revokes all
		const res = await api.post('/api/auth/logout', { jar: old });
		assert.equal(res.status, 204, show(res));
		assertError(await refresh(s.jar), 401, ['invalid_refresh_token',
			'refresh_token_reused']);
	});

	test('logout without a cookie or with a bad one: 204', async () => {
		let res = await api.post('/api/auth/logout');
		assert.equal(res.status, 204, show(res));
		res = await api.post('/api/auth/logout',
			{ jar: new CookieJar({ sc_refresh: 'nonsense' }) });
		assert.equal(res.status, 204, show(res));
	});

	test('only the hash of a refresh token is stored', async () => {
		const s = await newSession(api, { prefix: 'hash' });
		const raw = s.jar.get('sc_refresh');
		const n = await sql('SELECT count(*) FROM auth.refresh_tokens ' +
			`WHERE user_id = ${s.user.id} AND ` +
			`position(${lit(raw)} in encode(token_hash::bytea, 'escape')) > 0`);
		assert.equal(n, '0');
		const rows = await sql('SELECT count(*) FROM auth.refresh_tokens ' +
			`WHERE user_id = ${s.user.id}`);
		assert.equal(rows, '1');
	});
});

describe('verify-email', () => {
	const verify = (json) => api.post('/api/auth/verify-email', { json });

	test('registration queues a verify mail; its token verifies once',
		async () => {
			const s = await newSession(api, { prefix: 'ver' });
			const mail = await waitForMail(s.email, 'verify');
			assert.deepEqual(Object.keys(mail).filter((k) => k !== 'token').sort(),
				['createdAt', 'id', 'kind', 'link', 'subject', 'text', 'to']);
			assert.equal(mail.to, s.email);
			assert.ok(mail.subject.length > 0 && mail.text.length > 0);
			const link = new URL(mail.link);
			assert.equal(link.pathname, '/verify-email');
			assert.ok(mail.token && mail.token.length <= 128, 'token in link');
			assert.match(String(mail.createdAt), /^\d{4}-\d\d-\d\dT.*Z$/);

			const res = await verify({ token: mail.token });
			assertStatus(res, 200);
			assert.deepEqual(Object.keys(res.body), ['user']);
			assertPrivateUser(res.body.user,
				{ id: s.user.id, emailVerified: true });
			const me = await api.get('/api/users/me', { token: s.accessToken });
			assert.equal(me.body.emailVerified, true);

			assertError(await verify({ token: mail.token }), 400, 'invalid_token');
		});

	test('the token is stored hashed', async () => {
		const r = await register(api, { prefix: 'vh' });
		const mail = await waitForMail(r.email, 'verify');
		const n = await sql('SELECT count(*) FROM auth.email_tokens WHERE ' +
			`user_id = ${r.user.id} AND position(${lit(mail.token)} in ` +
			"encode(token_hash::bytea, 'escape')) > 0");
		assert.equal(n, '0');
	});

	test('a random token is 400 invalid_token', async () => {
		assertError(await verify({
			token: crypto.randomBytes(32).toString('base64url'),
		}), 400, 'invalid_token');
	});

	test('an expired token is 400 invalid_token', async () => {
		const r = await register(api, { prefix: 'vexp' });
		const mail = await waitForMail(r.email, 'verify');
		await sql("UPDATE auth.email_tokens SET expires_at = now() - interval " +
			`'1 second' WHERE user_id = ${r.user.id} AND kind = 'verify'`);
		assertError(await verify({ token: mail.token }), 400, 'invalid_token');
		const s = await login(api, r.username, r.password);
		const me = await api.get('/api/users/me', { token: s.accessToken });
		assert.equal(me.body.emailVerified, false);
	});

	test('missing, mistyped or over-long tokens are 422', async () => {
		assertValidation(await verify({}), ['token']);
		assertValidation(await verify({ token: 123 }), ['token']);
		assertValidation(await verify({ token: null }), ['token']);
		assertValidation(await verify({ token: 'a'.repeat(129) }), ['token']);
	});
});

describe('forgot-password and reset-password', () => {
	const forgot = (email, ip) =>
		api.post('/api/auth/forgot-password', { json: { email }, ip });
	const reset = (json) => api.post('/api/auth/reset-password', { json });

	test('known and unknown addresses get the same 202; only the known ' +
		'one gets a mail; the token resets once and revokes sessions',
	async () => {
		const ip = randomIp();
		const s = await newSession(api, { prefix: 'rst' });
		const otherDevice = await login(api, s.username, s.password);
		const ghost = emailFor(uniqueName('ghost'));

		const known = await forgot(s.email.toUpperCase(), ip);
		assertStatus(known, 202);
		assert.deepEqual(known.body, { ok: true });
		const unknown = await forgot(ghost, ip);
		assertStatus(unknown, 202);
		assert.deepEqual(unknown.body, known.body);
		assert.equal(unknown.text, known.text);

		const mail = await waitForMail(s.email, 'reset');
		assert.equal(new URL(mail.link).pathname, '/reset-password');
		assert.ok(mail.token && mail.token.length <= 128);
		await sleep(500);
		assert.deepEqual(await mailsFor(ghost), [], 'no mail to an unknown');

		// a too-short new password is refused before anything happens
		assertValidation(await reset({ token: mail.token, password: 'short' }),
			['password']);

		const newPassword = 'a brand new password';
		const res = await reset({ token: mail.token, password: newPassword });
		assertStatus(res, 200);
		assert.deepEqual(res.body, { ok: true });

		const lip = randomIp();
		assertError(await api.post('/api/auth/login', {
			json: { login: s.username, password: s.password }, ip: lip,
		}), 401, 'invalid_credentials');
		await login(api, s.username, newPassword, { ip: lip });

		// every existing session is revoked
		for (const jar of [s.jar, otherDevice.jar]) {
			assertError(await api.post('/api/auth/refresh', { jar }), 401,
				['invalid_refresh_token', 'refresh_token_reused']);
		}

		// single use
		assertError(await reset({ token: mail.token, password: 'yet another pw' }),
			400, 'invalid_token');
		await login(api, s.username, newPassword, { ip: lip });
	});

	test('a random or expired reset token is 400 invalid_token', async () => {
		assertError(await reset({
			token: crypto.randomBytes(32).toString('base64url'),
			password: 'whatever password',
		}), 400, 'invalid_token');

		const r = await register(api, { prefix: 'rexp' });
		assertStatus(await forgot(r.email, randomIp()), 202);
		const mail = await waitForMail(r.email, 'reset');
		await sql("UPDATE auth.email_tokens SET expires_at = now() - interval " +
			`'1 second' WHERE user_id = ${r.user.id} AND kind = 'reset'`);
		assertError(await reset({ token: mail.token, password: 'new password 1' }),
			400, 'invalid_token');
		await login(api, r.username, r.password, { ip: randomIp() });
	});

	test('a token of the other kind does not work', async () => {
		const r = await register(api, { prefix: 'kind' });
		const vmail = await waitForMail(r.email, 'verify');
		assertError(await reset({ token: vmail.token, password: 'new password 2' }),
			400, 'invalid_token');
		assertStatus(await forgot(r.email, randomIp()), 202);
		const rmail = await waitForMail(r.email, 'reset');
		assertError(await api.post('/api/auth/verify-email',
			{ json: { token: rmail.token } }), 400, 'invalid_token');
		await login(api, r.username, r.password, { ip: randomIp() });
	});

	test('validation: 422 for bad email, short password, missing fields',
		async () => {
			const ip = randomIp();
			assertValidation(await api.post('/api/auth/forgot-password',
				{ json: { email: 'nope' }, ip }), ['email']);
			assertValidation(await api.post('/api/auth/forgot-password',
				{ json: {}, ip }), ['email']);
			assertValidation(await reset({}), ['token', 'password']);
			assertValidation(await reset({ token: 'abc', password: 'p'.repeat(9) }),
				['password']);
			assertValidation(await reset({ token: 'abc', password: 'p'.repeat(129) }),
				['password']);
			assertValidation(await reset({ token: 'a'.repeat(129),
				password: 'good password' }), ['token']);
		});

	test('5 forgot-password calls per IP per hour, then 429', async () => {
		const ip = randomIp();
		for (let i = 0; i < 5; i++) {
			assertStatus(await forgot(emailFor(uniqueName('fl')), ip), 202);
		}
		assertError(await forgot(emailFor(uniqueName('fl')), ip), 429,
			'rate_limited');
		assertStatus(await forgot(emailFor(uniqueName('fl')), randomIp()), 202);
	});
});

describe('bad input never gives a 500', () => {
	let token;
	before(async () => {
		token = (await newSession(api, { prefix: 'fuzz' })).accessToken;
	});

	const deep = (n) => '['.repeat(n) + ']'.repeat(n);
	const bodies = [
		['empty', ''],
		['whitespace', '   \n'],
		['nested arrays 20', deep(20)],
		['nested arrays 5000', deep(5000)],
		['nested arrays 100000 (over the size limit)', deep(100000)],
		['nested objects', '{"a":'.repeat(3000) + '1' + '}'.repeat(3000)],
		['deep value in a field', `{"username":${deep(3000)}}`],
		['huge integer', '{"username":123456789012345678901234567890,' +
			'"wsdcId":123456789012345678901234567890}'],
		['huge float', '{"login":1e400,"password":-1e400,"wsdcId":1e400}'],
		['tiny float', '{"wsdcId":1e-400,"token":-0}'],
		['NUL escapes', '{"username":"ab\\u0000cd","email":"a\\u0000@b.co",' +
			'"password":"aaaaaaaaaa\\u0000b","login":"\\u0000",' +
			'"token":"\\u0000abc","bio":"\\u0000","displayName":"x\\u0000"}'],
		['lone surrogate escapes', '{"username":"\\ud800","email":' +
			'"\\udfff@x.io","password":"\\ud800\\ud800\\ud800\\ud800\\ud800' +
			'\\ud800","token":"\\ud800","displayName":"\\udc00"}'],
		['invalid UTF-8 bytes', Buffer.concat([
			Buffer.from('{"username":"'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
			Buffer.from('","email":"'), Buffer.from([0xe2, 0x82]),
			Buffer.from('@x.io","password":"'),
			Buffer.from([0xf0, 0x28, 0x8c, 0xbc, 0xed, 0xa0, 0x80, 0xc0, 0xaf,
				0x80, 0x80, 0x80]),
			Buffer.from('","login":"'), Buffer.from([0xc0, 0x80]),
			Buffer.from('","token":"'), Buffer.from([0xfe]),
			Buffer.from('","bio":"'), Buffer.from([0xed, 0xbf, 0xbf]),
			Buffer.from('"}')])],
		['invalid UTF-8 outside strings', Buffer.from([0x7b, 0xff, 0x7d])],
		['raw NUL byte', Buffer.from('{"username":"a\u0000b"}\u0000')],
		['BOM', '\ufeff{"email":"a@b.co"}'],
		['duplicate keys', '{"login":"a","login":"b","password":"x",' +
			'"password":"yyyyyyyyyyyy"}'],
		['wrong types everywhere', JSON.stringify({
			username: [], email: {}, password: 1, login: false, token: [1],
			displayName: [], avatarUrl: 3, wsdcId: {}, bio: true,
		})],
		['very long strings', JSON.stringify({
			username: 'u'.repeat(12000), email: `${'e'.repeat(12000)}@x.io`,
			password: 'p'.repeat(12000), login: 'l'.repeat(12000),
		})],
		['unicode everywhere', JSON.stringify({
			username: 'ü💃\u202e', email: 'ü@ü.ü', password: '💃'.repeat(20),
			login: 'ü💃', token: '💃', avatarUrl: 'http://ü.example/💃',
		})],
		['numbers as keys', '{"1":2,"":3}'],
		['truncated escape', '{"username":"\\u12"}'],
		['trailing garbage', '{}]]]]'],
		['only a quote', '"'],
	];
	const targets = [...POST_ENDPOINTS.map((p) => ['POST', p]),
		['PATCH', '/api/users/me']];

	for (const [method, p] of targets) {
		test(`${method} ${p} answers every odd body with a JSON status < 500`,
			async () => {
				for (const [name, body] of bodies) {
					const res = await api.req(method, p, {
						body, contentType: 'application/json', ip: randomIp(),
						token: p === '/api/users/me' ? token : undefined,
					});
					assert.ok(res.status < 500, `${name}: ${show(res)}`);
					if (res.status >= 400) {
						assertError(res, res.status);
					}
				}
			});
	}

	test('the daemon is still healthy afterwards', async () => {
		assertStatus(await api.get('/ready'), 200);
	});
});
