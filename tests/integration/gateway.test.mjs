// gateway.test.mjs: the auth journey through nginx (the suite's only public
// entry), and what the gateway itself adds: request ids, security headers,
// hidden version, body limit and JSON errors for what it answers itself.
// Every request here comes from 127.0.0.1 as far as the daemon knows (nginx
// sets X-Real-IP), so these tests make no failed logins.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';

import {
	Client, assertError, assertPrivateUser, assertPublicUser, assertStatus,
	assertValidation, decodeJwt, emailFor, isClearing, login, register,
	setCookies, show, uniqueName, waitForMail, gatewayUrl, authUrl,
} from './lib.mjs';

const gw = new Client(gatewayUrl());

const assertSecurityHeaders = (res, what) => {
	// Fetch combines repeated headers with ", "; browsers read the first.
	const xcto = res.headers.get('x-content-type-options') ?? '';
	assert.equal(xcto.split(',')[0].trim().toLowerCase(), 'nosniff',
		`${what}: X-Content-Type-Options "${xcto}"`);
	assert.ok((res.headers.get('content-security-policy') ?? '').length > 0,
		`${what}: Content-Security-Policy`);
	assert.ok((res.headers.get('referrer-policy') ?? '').length > 0,
		`${what}: Referrer-Policy`);
	const server = res.headers.get('server');
	if (server !== null) {
		assert.doesNotMatch(server, /\d/, `${what}: Server "${server}"`);
	}
};

describe('the auth journey through the gateway', () => {
	test('register, verify, log in, me, profile, refresh, logout',
		async () => {
			const r = await register(gw, { prefix: 'gw' });
			assertPrivateUser(r.user, { username: r.username, email: r.email });
			assert.match(r.res.headers.get('x-request-id') ?? '',
				/^[A-Za-z0-9._-]{1,64}$/);
			assertSecurityHeaders(r.res, 'register');

			const mail = await waitForMail(r.email, 'verify');
			const v = await gw.post('/api/auth/verify-email',
				{ json: { token: mail.token } });
			assertStatus(v, 200);
			assert.equal(v.body.user.emailVerified, true);

			const s = await login(gw, r.email, r.password);
			assertPrivateUser(s.user, { id: r.user.id, emailVerified: true });
			const c = setCookies(s.res, 'sc_refresh');
			assert.equal(c.length, 1);
			assert.equal(c[0].attrs.get('path'), '/api/auth');
			assert.equal(c[0].attrs.get('httponly'), true);
			assert.equal(decodeJwt(s.accessToken).payload.sub,
				String(r.user.id));

			let res = await gw.get('/api/users/me', { token: s.accessToken });
			assertStatus(res, 200);
			assertPrivateUser(res.body, { id: r.user.id, email: r.email });
			assertSecurityHeaders(res, 'me');
			assert.ok(res.headers.get('x-request-id'));

			res = await gw.patch('/api/users/me', {
				json: { displayName: 'Via Gateway', wsdcId: 4242 },
				token: s.accessToken,
			});
			assertStatus(res, 200);
			assert.equal(res.body.displayName, 'Via Gateway');

			res = await gw.get(`/api/users/${r.username}`,
				{ token: s.accessToken });
			assertStatus(res, 200);
			assertPublicUser(res.body,
				{ id: r.user.id, displayName: 'Via Gateway', wsdcId: 4242 });

			const old = s.jar.clone();
			res = await gw.post('/api/auth/refresh', { jar: s.jar });
			assertStatus(res, 200);
			assert.notEqual(s.jar.get('sc_refresh'), old.get('sc_refresh'));

			res = await gw.post('/api/auth/logout', { jar: s.jar });
			assert.equal(res.status, 204, show(res));
			const cleared = setCookies(res, 'sc_refresh');
			assert.equal(cleared.length, 1);
			assert.ok(isClearing(cleared[0]));
			res = await gw.post('/api/auth/refresh', { jar: old });
			assertError(res, 401);
		});

	test('daemon errors pass through in the JSON shape', async () => {
		assertError(await gw.get('/api/users/me'), 401, 'unauthorized');
		assertValidation(await gw.post('/api/auth/register', { json: {} }),
			['username', 'email', 'password']);
		assertError(await gw.post('/api/auth/register',
			{ body: '{', contentType: 'application/json' }), 400,
		['bad_json', 'bad_request']);
		const r = await register(gw, { prefix: 'gwdup' });
		assertError(await gw.post('/api/auth/register', {
			json: { username: r.username, email: emailFor(uniqueName('x')),
				password: r.password },
		}), 409, 'username_taken');
	});

	test('forgot-password answers 202 through the gateway', async () => {
		const res = await gw.post('/api/auth/forgot-password',
			{ json: { email: emailFor(uniqueName('gwghost')) } });
		assertStatus(res, 202);
		assert.deepEqual(res.body, { ok: true });
	});
});

/* Send raw bytes to the gateway; resolves {status, type, body} of the
 * answer (read until nginx closes or 3 s pass). */
function rawRequest(bytes) {
	const { hostname, port } = new URL(gatewayUrl());
	return new Promise((resolve, reject) => {
		const sock = net.connect(Number(port), hostname);
		const chunks = [];
		const done = () => {
			const text = Buffer.concat(chunks).toString('latin1');
			const [head, body = ''] = text.split('\r\n\r\n');
			const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
			const type = /\r\ncontent-type: *([^\r]*)/i.exec(head)?.[1] ?? '';
			resolve({ status, type, body, head });
		};
		sock.setTimeout(3000, () => sock.destroy());
		sock.on('data', (c) => chunks.push(c));
		sock.on('close', done);
		sock.on('error', reject);
		sock.write(bytes);
	});
}

describe('what the gateway adds', () => {
	test('what nginx refuses itself is in the JSON error shape too',
		async () => {
			const cases = [
				['GET /x y z\r\n\r\n', 400, 'bad_request'],
				['GARBAGE\r\n\r\n', 400, 'bad_request'],
				['GET /api/events HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n',
					400, 'bad_request'],
				[`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40000)}` +
					'\r\n\r\n', 400, 'bad_request'],
				[`GET /api/events?q=${'a'.repeat(9000)} HTTP/1.1\r\n` +
					'Host: x\r\nConnection: close\r\n\r\n', 414, 'uri_too_long'],
				['DELETE /index.html HTTP/1.1\r\nHost: x\r\n' +
					'Connection: close\r\n\r\n', 405, 'method_not_allowed'],
				['GET / HTTP/3.0\r\nHost: x\r\n\r\n', 505,
					'http_version_not_supported'],
			];
			for (const [bytes, status, code] of cases) {
				const what = JSON.stringify(bytes.slice(0, 60));
				const r = await rawRequest(bytes);
				assert.equal(r.status, status, `${what}: ${r.head}`);
				assert.match(r.type, /^application\/json/, `${what}: ${r.type}`);
				assert.equal(JSON.parse(r.body).error.code, code, what);
			}
			// The error pages are not reachable as pages.
			const res = await gw.get('/_errors/400.json');
			assert.notEqual(res.status, 400);
		});

	test('every proxied API answer carries a sane X-Request-Id that the ' +
		'client cannot choose', async () => {
		const res = await gw.get('/api/users/me',
			{ headers: { 'x-request-id': 'client-chosen-id' } });
		const id = res.headers.get('x-request-id') ?? '';
		assert.match(id, /^[A-Za-z0-9._-]{1,64}$/, `X-Request-Id "${id}"`);
		assert.notEqual(id, 'client-chosen-id');
		const again = await gw.get('/api/users/me');
		assert.notEqual(again.headers.get('x-request-id'), id, 'ids differ');
	});

	test('security headers are on answers and on errors; the Server ' +
		'header has no version', async () => {
		assertSecurityHeaders(await gw.get('/'), 'GET /');
		assertSecurityHeaders(await gw.get('/api/users/me'), '401');
		assertSecurityHeaders(await gw.get('/api/nope'), '404');
		assertSecurityHeaders(await gw.post('/api/auth/register',
			{ json: {} }), '422');
	});

	test('a body over 1 MiB is 413 in the JSON error shape', async () => {
		const res = await gw.post('/api/auth/register', {
			body: JSON.stringify({ pad: 'x'.repeat(1024 * 1024 + 16) }),
			contentType: 'application/json',
		});
		assertError(res, 413, 'payload_too_large');
		assertSecurityHeaders(res, '413');
	});

	test('a body over the daemon\'s 64 KiB (but under 1 MiB) is the ' +
		'daemon\'s 413', async () => {
		const res = await gw.post('/api/auth/register', {
			json: { pad: 'x'.repeat(100 * 1024) },
		});
		assertError(res, 413, 'payload_too_large');
	});

	test('an unknown /api/ path is a JSON 404', async () => {
		for (const p of ['/api/nope', '/api/', '/api/authx', '/api/usersx/1']) {
			assertError(await gw.get(p), 404, 'not_found');
		}
		assertError(await gw.get('/api/auth/nope'), 404, 'not_found');
	});

	test('/health and /ready of the daemon are not exposed', async () => {
		const daemon = await new Client(authUrl()).get('/health');
		assert.deepEqual(daemon.body, { status: 'ok' });
		for (const p of ['/health', '/ready']) {
			const res = await gw.get(p);
			const isDaemon = res.body !== undefined &&
				typeof res.body === 'object' && res.body !== null &&
				'status' in res.body;
			assert.ok(!isDaemon, `${p} leaks the daemon's answer: ${show(res)}`);
			assert.ok(res.status === 404 || (res.status === 200 &&
				/text\/html/.test(res.headers.get('content-type') ?? '')),
			`${p}: ${show(res)}`);
		}
	});
});
