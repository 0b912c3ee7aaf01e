// bus.test.mjs: auth on the nng bus, seen from another process with the
// scbus tool: auth.users.get replies and the user.registered/user.updated
// events (services/auth/README.md "Bus", proto/README.md).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
	Client, Subscriber, assertPublicUser, assertStatus, authUrl, env,
	newSession, register,
} from './lib.mjs';

const api = new Client(authUrl(), {}, { freshIp: true });
const scbus = () => path.join(env('SC_TEST_BUILD'), 'scbus');

/* `scbus call METHOD JSON`: resolves {code, reply, stdout, stderr}. */
function call(method, data) {
	const args = ['call', method];
	if (data !== undefined) {
		args.push(typeof data === 'string' ? data : JSON.stringify(data));
	}
	return new Promise((resolve, reject) => {
		execFile(scbus(), args, { timeout: 20000 }, (err, stdout, stderr) => {
			if (err && typeof err.code !== 'number') {
				reject(new Error(`scbus ${args.join(' ')}: ${err.message}`));
				return;
			}
			let reply;
			try {
				reply = JSON.parse(stdout.trim().split('\n').pop());
			} catch {
				reply = undefined;
			}
			resolve({ code: err ? err.code : 0, reply, stdout, stderr });
		});
	});
}

const describeCall = (r) =>
	`exit ${r.code}, stdout ${r.stdout.trim()}, stderr ${r.stderr.trim()}`;

function assertErrorReply(r) {
	assert.equal(r.code, 1, `error reply exits 1: ${describeCall(r)}`);
	assert.equal(r.reply?.v, 1, describeCall(r));
	assert.equal(r.reply.ok, false, describeCall(r));
	assert.equal(typeof r.reply.error?.code, 'string', describeCall(r));
	assert.equal(typeof r.reply.error?.message, 'string', describeCall(r));
	return r.reply.error;
}

describe('auth.users.get over the bus', () => {
	let a;
	let b;
	before(async () => {
		a = await register(api, { prefix: 'busa' });
		b = await register(api, { prefix: 'busb' });
	});

	test('answers public profiles of known ids, unknown ids absent',
		async () => {
			const r = await call('auth.users.get',
				{ ids: [a.user.id, 2147483000, b.user.id] });
			assert.equal(r.code, 0, describeCall(r));
			assert.equal(r.reply.v, 1);
			assert.equal(r.reply.ok, true);
			const users = r.reply.data.users;
			assert.ok(Array.isArray(users), describeCall(r));
			assert.equal(users.length, 2, describeCall(r));
			const byId = new Map(users.map((u) => [u.id, u]));
			for (const x of [a, b]) {
				assertPublicUser(byId.get(x.user.id),
					{ id: x.user.id, username: x.username });
				assert.ok(!JSON.stringify(byId.get(x.user.id)).includes(x.email),
					'no email on the bus');
			}
		});

	test('reflects a profile change', async () => {
		const s = await newSession(api, { prefix: 'busp' });
		assertStatus(await api.patch('/api/users/me', {
			json: { displayName: 'On The Bus', wsdcId: 777 },
			token: s.accessToken,
		}), 200);
		const r = await call('auth.users.get', { ids: [s.user.id] });
		assert.equal(r.code, 0, describeCall(r));
		assertPublicUser(r.reply.data.users[0],
			{ id: s.user.id, displayName: 'On The Bus', wsdcId: 777 });
	});

	test('an empty id list gives an empty list', async () => {
		const r = await call('auth.users.get', { ids: [] });
		assert.equal(r.code, 0, describeCall(r));
		assert.deepEqual(r.reply.data, { users: [] });
	});

	test('up to 100 ids are answered, more are an error reply', async () => {
		const ids = Array.from({ length: 99 }, (_, i) => 2147480000 + i);
		let r = await call('auth.users.get', { ids: [a.user.id, ...ids] });
		assert.equal(r.code, 0, describeCall(r));
		assert.equal(r.reply.data.users.length, 1);
		r = await call('auth.users.get', { ids: [a.user.id, ...ids, 1] });
		assertErrorReply(r);
	});

	test('bad data is an error reply, not a crash', async () => {
		for (const data of [{}, { ids: 'x' }, { ids: ['1'] }, { ids: [1.5] },
			{ ids: [{}] }, { ids: null }]) {
			assertErrorReply(await call('auth.users.get', data));
		}
		assertStatus(await api.get('/ready'), 200);
	});

	test('an unknown method is a not_found error reply', async () => {
		const e = assertErrorReply(await call('auth.nothing.here', {}));
		assert.equal(e.code, 'not_found');
	});
});

describe('auth events', () => {
	let sub;
	before(async () => {
		// resolves once scbus is subscribed (what is published before
		// that would be missed)
		sub = await Subscriber.open('auth', 'user.');
	});
	after(async () => {
		await sub.stop();
	});

	const eventFor = (topic, id) => (ev) =>
		ev.topic === topic && ev.data?.user?.id === id;

	test('user.registered is published with the public profile', async () => {
		let ev;
		let r;
		// pub/sub is best effort: allow for a slow subscription start
		for (let attempt = 0; attempt < 3 && !ev; attempt++) {
			r = await register(api, { prefix: 'busev' });
			ev = await sub.waitFor(eventFor('user.registered', r.user.id), 5000);
		}
		assert.ok(ev, `no user.registered event; got ${JSON.stringify(
			sub.events)}; scbus stderr: ${sub.stderr}`);
		assert.equal(typeof ev.requestId, 'string');
		assertPublicUser(ev.data.user, { id: r.user.id, username: r.username,
			displayName: null });
		assert.ok(!JSON.stringify(ev).includes(r.email), 'no email in events');
	});

	test('user.updated is published after PATCH /api/users/me', async () => {
		const s = await newSession(api, { prefix: 'busup' });
		assertStatus(await api.patch('/api/users/me', {
			json: { bio: 'updated over the bus' }, token: s.accessToken,
		}), 200);
		const ev = await sub.waitFor(eventFor('user.updated', s.user.id), 10000);
		assert.ok(ev, `no user.updated event; got ${JSON.stringify(
			sub.events)}; scbus stderr: ${sub.stderr}`);
		assertPublicUser(ev.data.user,
			{ id: s.user.id, bio: 'updated over the bus' });
	});
});
