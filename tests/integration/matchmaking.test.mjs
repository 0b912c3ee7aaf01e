// matchmaking.test.mjs: match requests through the gateway (the state
// machine, who may do what, the pair rule, lists), the match.* topics and
// the matchmaking.matches.* bus requests (scbus), and the database trigger
// that guards the state machine. Every test has its own users and events.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
	Client, askMatch, assertBusMatch, assertError, assertErrorReply,
	assertList, assertMatch, assertOkReply, assertStatus, assertValidation,
	busCall, collectPages, createEvent, env, eventWithUsers, gatewayUrl,
	joinEvent, MATCH_STATUSES, matchIn as matchInLib, moveMatch, needs,
	newSessions, requestMatch, run, show, Subscriber,
} from './lib.mjs';

const gw = new Client(gatewayUrl());
const skip = needs('events', 'matchmaking');

const join = (u, ev) => joinEvent(gw, u, ev);
const setup = (n, prefix) => eventWithUsers(gw, n, prefix);
const ask = (from, to, ev) => askMatch(gw, from, to, ev);
const askOk = (from, to, ev) => requestMatch(gw, from, to, ev);
const moveOk = (u, m, status) => moveMatch(gw, u, m, status);
const matchIn = (state, from, to, ev) => matchInLib(gw, state, from, to, ev);
const patch = (u, m, status) => gw.patch(`/api/matches/${m.id}`,
	{ json: { status }, token: u.accessToken });

const getMatch = async (u, m) => {
	const res = await gw.get(`/api/matches/${m.id}`, { token: u.accessToken });
	assertStatus(res, 200);
	assert.deepEqual(Object.keys(res.body), ['match'], show(res));
	assertMatch(res.body.match, { id: m.id });
	return res.body.match;
};

const VALID = {
	pending: ['accepted', 'rejected', 'cancelled'],
	accepted: ['completed', 'cancelled'],
	rejected: [], cancelled: [], completed: [],
};

describe('the match state machine', skip, () => {
	let ev;
	let a; // the requester of every match here
	let t; // targets, one per match
	before(async () => {
		const s = await setup(15, 'mmsm');
		ev = s.ev;
		[a, ...t] = s.users;
	});

	test('a request is pending; both members see it with their profiles',
		async () => {
			const m = await askOk(a, t[0], ev);
			assert.equal(m.requester?.username ?? a.username, a.username);
			assert.equal(m.target?.username ?? t[0].username, t[0].username);
			for (const u of [a, t[0]]) {
				const g = await getMatch(u, m);
				assertMatch(g, { status: 'pending', requesterId: a.user.id,
					targetId: t[0].user.id, createdAt: m.createdAt });
			}
		});

	test('every allowed transition, by each member allowed to make it',
		async () => {
			const cases = [
				// [from-state, who, to]
				['pending', 'target', 'accepted'],
				['pending', 'target', 'rejected'],
				['pending', 'requester', 'cancelled'],
				['pending', 'target', 'cancelled'],
				['accepted', 'requester', 'completed'],
				['accepted', 'target', 'completed'],
				['accepted', 'requester', 'cancelled'],
				['accepted', 'target', 'cancelled'],
			];
			for (const [i, [from, who, to]] of cases.entries()) {
				const target = t[1 + i];
				const m0 = await matchIn(from, a, target, ev);
				const actor = who === 'target' ? target : a;
				const m = await moveOk(actor, m0, to);
				assert.ok(m.updatedAt >= m0.updatedAt, 'updatedAt moves on');
				assert.equal(m.createdAt, m0.createdAt);
				for (const u of [a, target]) {
					assert.equal((await getMatch(u, m)).status, to,
						`${from} -> ${to} by the ${who}`);
				}
			}
		});

	test('every transition the machine forbids is 409 invalid_transition ' +
		'{from, to}, and changes nothing', async () => {
		const targets = t.slice(9, 14);
		for (const [i, from] of Object.keys(VALID).entries()) {
			const m = await matchIn(from, a, targets[i], ev);
			for (const to of MATCH_STATUSES) {
				if (VALID[from].includes(to)) {
					continue;
				}
				// the target may make every move the machine allows
				let res = await patch(targets[i], m, to);
				const e = assertError(res, 409, 'invalid_transition');
				assert.deepEqual(e.details, { from, to }, show(res));
				// the requester, for the moves not reserved to the target
				if (!['accepted', 'rejected'].includes(to)) {
					res = await patch(a, m, to);
					assert.deepEqual(assertError(res, 409,
						'invalid_transition').details, { from, to }, show(res));
				}
			}
			const g = await getMatch(a, m);
			assert.equal(g.status, from);
			assert.equal(g.updatedAt, m.updatedAt, `${from}: updatedAt moved`);
		}
	});

	test('the requester cannot accept or reject: 403 forbidden', async () => {
		const { ev: ev2, users: [x] } = await setup(1, 'mmreq');
		await join(a, ev2);
		const m = await askOk(a, x, ev2);
		for (const to of ['accepted', 'rejected']) {
			assertError(await patch(a, m, to), 403, 'forbidden');
		}
		assert.equal((await getMatch(x, m)).status, 'pending');
		await moveOk(x, m, 'accepted');
	});

	test('a status that is not one of the five, or a bad body, is 422',
		async () => {
			const { ev: ev2, users: [x] } = await setup(1, 'mm422');
			await join(a, ev2);
			const m = await askOk(a, x, ev2);
			for (const status of ['done', 'ACCEPTED', 'Accepted', '', ' accepted',
				null, 5, true, ['accepted'], { s: 'accepted' }]) {
				assertValidation(await patch(x, m, status), ['status']);
			}
			assertValidation(await gw.patch(`/api/matches/${m.id}`,
				{ json: {}, token: x.accessToken }), ['status']);
			assertValidation(await gw.patch(`/api/matches/${m.id}`, {
				json: { status: 'accepted', eventId: 1 }, token: x.accessToken,
			}), ['eventId']);
			assertError(await gw.patch(`/api/matches/${m.id}`, {
				body: '{"status":', contentType: 'application/json',
				token: x.accessToken,
			}), 400);
			assert.equal((await getMatch(x, m)).status, 'pending');
		});
});

describe('POST /api/matches: who may ask whom', skip, () => {
	test('a bad body is 422 naming the fields', async () => {
		const { ev, users: [a] } = await setup(1, 'mmbody');
		assertValidation(await gw.post('/api/matches',
			{ json: {}, token: a.accessToken }), ['targetUserId', 'eventId']);
		assertValidation(await gw.post('/api/matches', {
			json: { targetUserId: '5', eventId: String(ev.id) },
			token: a.accessToken,
		}), ['targetUserId', 'eventId']);
		assertValidation(await gw.post('/api/matches', {
			json: { targetUserId: 1.5, eventId: ev.id, extra: true },
			token: a.accessToken,
		}), ['targetUserId', 'extra']);
		for (const bad of [0, -3, null]) {
			assertValidation(await gw.post('/api/matches', {
				json: { targetUserId: bad, eventId: ev.id },
				token: a.accessToken,
			}), ['targetUserId']);
		}
	});

	test('asking oneself is 422 self_match', async () => {
		const { ev, users: [a] } = await setup(1, 'mmself');
		assertError(await ask(a, a, ev), 422, 'self_match');
	});

	test('an unknown event is 404 not_found', async () => {
		const { users: [a, b] } = await setup(2, 'mmnoev');
		assertError(await ask(a, b, 2147483000), 404, 'not_found');
	});

	test('the requester must have joined: 403 not_participant', async () => {
		const { ev, users: [b] } = await setup(1, 'mmnp');
		const [a] = await newSessions(gw, 1, 'mmnpa');
		assertError(await ask(a, b, ev), 403, 'not_participant');
		// and neither joined
		const [c] = await newSessions(gw, 1, 'mmnpc');
		assertError(await ask(a, c, ev), 403, 'not_participant');
	});

	test('the target must have joined: 422 target_not_participant',
		async () => {
			const { ev, users: [a] } = await setup(1, 'mmtnp');
			const [c] = await newSessions(gw, 1, 'mmtnpc');
			assertError(await ask(a, c, ev), 422, 'target_not_participant');
			// a user that does not exist has joined nothing either
			assertError(await ask(a, 2147483000, ev), 422,
				'target_not_participant');
			// one who left
			await join(c, ev);
			assertStatus(await gw.delete(`/api/events/${ev.id}/join`,
				{ token: c.accessToken }), 200);
			assertError(await ask(a, c, ev), 422, 'target_not_participant');
		});

	test('one live match per pair per event: 409 match_exists {matchId}, ' +
		'either direction', async () => {
		const { ev, users: [a, b] } = await setup(2, 'mmdup');
		const m = await askOk(a, b, ev);
		for (const [x, y] of [[a, b], [b, a]]) {
			const e = assertError(await ask(x, y, ev), 409, 'match_exists');
			assert.deepEqual(e.details, { matchId: m.id });
		}
		await moveOk(b, m, 'accepted');
		assert.deepEqual(assertError(await ask(b, a, ev), 409,
			'match_exists').details, { matchId: m.id });
		await moveOk(a, m, 'completed');
		assert.deepEqual(assertError(await ask(a, b, ev), 409,
			'match_exists').details, { matchId: m.id });
		// another event is another pair
		const ev2 = await createEvent();
		await join(a, ev2);
		await join(b, ev2);
		await askOk(b, a, ev2);
	});

	test('after a cancel the pair may ask again; after a reject it may not',
		async () => {
			const { ev, users: [a, b] } = await setup(2, 'mmagain');
			const m1 = await askOk(a, b, ev);
			await moveOk(a, m1, 'cancelled');
			const m2 = await askOk(b, a, ev);
			assert.notEqual(m2.id, m1.id);
			await moveOk(b, m2, 'cancelled');
			const m3 = await askOk(a, b, ev);
			await moveOk(b, m3, 'rejected');
			for (const [x, y] of [[a, b], [b, a]]) {
				assert.deepEqual(assertError(await ask(x, y, ev), 409,
					'match_exists').details, { matchId: m3.id });
			}
			// the cancelled ones are still there, unchanged
			assert.equal((await getMatch(a, m1)).status, 'cancelled');
			assert.equal((await getMatch(b, m2)).status, 'cancelled');
		});

	test('ten identical requests at once make one match', async () => {
		const { ev, users: [a, b] } = await setup(2, 'mmrace');
		const all = await Promise.all(Array.from({ length: 10 },
			() => ask(a, b, ev)));
		const ok = all.filter((r) => r.status === 201);
		assert.equal(ok.length, 1, all.map(show).join('\n'));
		for (const r of all.filter((x) => x.status !== 201)) {
			assert.deepEqual(assertError(r, 409, 'match_exists').details,
				{ matchId: ok[0].body.match.id });
		}
	});
});

describe('GET /api/matches', skip, () => {
	let a;
	let b;
	let ms; // m1..m6 as created
	let ev1;
	let ev2;
	before(async () => {
		const s = await setup(5, 'mmlist');
		ev1 = s.ev;
		let c;
		let d;
		let e;
		[a, b, c, d, e] = s.users;
		ev2 = await createEvent();
		await Promise.all(s.users.map((u) => join(u, ev2)));
		const m1 = await askOk(a, b, ev1); // pending
		const m2 = await matchIn('accepted', c, a, ev1);
		const m3 = await matchIn('rejected', a, d, ev1);
		const m4 = await matchIn('completed', a, b, ev2);
		const m5 = await matchIn('cancelled', e, a, ev2);
		const m6 = await askOk(b, c, ev2); // without a
		ms = [m1, m2, m3, m4, m5, m6];
	});

	const list = async (u, query = '') => {
		const res = await gw.get(`/api/matches${query}`, { token: u.accessToken });
		assertStatus(res, 200);
		assertList(res.body);
		for (const m of res.body.items) {
			assertMatch(m);
		}
		return res.body.items.map((m) => m.id);
	};
	const idsOf = (...ns) => ns.map((n) => ms[n - 1].id);

	test('my matches as requester or target, newest first', async () => {
		assert.deepEqual(await list(a), idsOf(5, 4, 3, 2, 1));
		assert.deepEqual(await list(b), idsOf(6, 4, 1));
	});

	test('filtered by status and by event', async () => {
		assert.deepEqual(await list(a, '?status=pending'), idsOf(1));
		assert.deepEqual(await list(a, '?status=accepted'), idsOf(2));
		assert.deepEqual(await list(a, '?status=rejected'), idsOf(3));
		assert.deepEqual(await list(a, '?status=completed'), idsOf(4));
		assert.deepEqual(await list(a, '?status=cancelled'), idsOf(5));
		assert.deepEqual(await list(a, `?eventId=${ev1.id}`), idsOf(3, 2, 1));
		assert.deepEqual(await list(a, `?eventId=${ev2.id}`), idsOf(5, 4));
		assert.deepEqual(await list(a, `?eventId=${ev1.id}&status=accepted`),
			idsOf(2));
		assert.deepEqual(await list(a, `?eventId=${ev2.id}&status=accepted`), []);
		assert.deepEqual(await list(b, `?eventId=${ev2.id}&status=pending`),
			idsOf(6));
		assert.deepEqual(await list(a, '?eventId=2147483000'), []);
	});

	test('pages', async () => {
		const p = await collectPages(gw, '/api/matches', a.accessToken, 2);
		assert.equal(p.pages, 3);
		assert.deepEqual(p.items.map((m) => m.id), idsOf(5, 4, 3, 2, 1));
		const q = await collectPages(gw, `/api/matches?eventId=${ev1.id}`,
			a.accessToken, 1);
		assert.deepEqual(q.items.map((m) => m.id), idsOf(3, 2, 1));
	});

	test('bad filters, limit or cursor are 422', async () => {
		for (const [query, field] of [['?status=done', 'status'],
			['?status=PENDING', 'status'], ['?eventId=abc', 'eventId'],
			['?eventId=-1', 'eventId'], ['?eventId=1.5', 'eventId'],
			['?limit=0', 'limit'], ['?limit=101', 'limit'], ['?limit=x', 'limit'],
			['?cursor=%21%21', 'cursor'],
			[`?cursor=${Buffer.from('nope').toString('base64url')}`, 'cursor']]) {
			assertValidation(await gw.get(`/api/matches${query}`,
				{ token: a.accessToken }), [field]);
		}
	});

	test('a new user has no matches', async () => {
		const [n] = await newSessions(gw, 1, 'mmnone');
		const res = await gw.get('/api/matches', { token: n.accessToken });
		assertStatus(res, 200);
		assert.deepEqual(res.body, { items: [], nextCursor: null });
	});
});

describe('match.* events', skip, () => {
	let sub;
	before(async () => {
		sub = await Subscriber.open('matchmaking', 'match.');
	});
	after(async () => {
		await sub?.stop();
	});

	const short = (m, status) => ({ id: m.id, eventId: m.eventId, status,
		requesterId: m.requesterId, targetId: m.targetId });
	const expectEvent = async (topic, m, status, by) => {
		const ev = await sub.expect((e) => e.topic === topic &&
			e.data?.match?.id === m.id, topic);
		assert.deepEqual(ev.data, { match: short(m, status), byUserId: by.user.id });
		assert.equal(typeof ev.requestId, 'string');
	};

	test('requested, accepted, completed, rejected, cancelled: each once, ' +
		'with the match and who did it', async () => {
		const { ev, users: [a, b, c] } = await setup(3, 'mmev');
		const m1 = await askOk(a, b, ev);
		await expectEvent('match.requested', m1, 'pending', a);
		await moveOk(b, m1, 'accepted');
		await expectEvent('match.accepted', m1, 'accepted', b);
		// a refused move publishes nothing
		assertError(await patch(b, m1, 'rejected'), 409, 'invalid_transition');
		await moveOk(b, m1, 'completed');
		await expectEvent('match.completed', m1, 'completed', b);

		const m2 = await askOk(c, a, ev);
		await expectEvent('match.requested', m2, 'pending', c);
		await moveOk(a, m2, 'rejected');
		await expectEvent('match.rejected', m2, 'rejected', a);

		const m3 = await askOk(b, c, ev);
		await moveOk(c, m3, 'cancelled');
		await expectEvent('match.cancelled', m3, 'cancelled', c);

		// nothing more for m1 and m2 than the above (m3's events came later)
		const of = (m) => sub.matching((e) => e.data?.match?.id === m.id)
			.map((e) => e.topic);
		assert.deepEqual(of(m1), ['match.requested', 'match.accepted',
			'match.completed']);
		assert.deepEqual(of(m2), ['match.requested', 'match.rejected']);
		// a refused request publishes nothing either
		assertError(await ask(a, b, ev), 409, 'match_exists');
		const m4 = await askOk(c, b, ev);
		await expectEvent('match.requested', m4, 'pending', c);
		assert.equal(sub.matching((e) => e.topic === 'match.requested' &&
			e.data?.match?.requesterId === a.user.id &&
			e.data?.match?.targetId === b.user.id).length, 1);
	});
});

describe('matchmaking bus requests', skip, () => {
	let ev;
	let a;
	let b;
	let c; // joined
	let out; // not joined
	before(async () => {
		const s = await setup(3, 'mmrpc');
		ev = s.ev;
		[a, b, c] = s.users;
		[out] = await newSessions(gw, 1, 'mmrpco');
	});

	test('matchmaking.matches.get answers the short match', async () => {
		const m = await askOk(a, b, ev);
		const data = assertOkReply(await busCall('matchmaking.matches.get',
			{ matchId: m.id }));
		assert.deepEqual(Object.keys(data), ['match']);
		assertBusMatch(data.match, { id: m.id, eventId: ev.id,
			status: 'pending', requesterId: a.user.id, targetId: b.user.id });
		assertErrorReply(await busCall('matchmaking.matches.get',
			{ matchId: 2147483000 }), 'not_found');
		for (const d of [{}, { matchId: 'x' }, { matchId: null }]) {
			assertErrorReply(await busCall('matchmaking.matches.get', d),
				['bad_request', 'validation_failed']);
		}
	});

	test('matchmaking.matches.create and .update act as userId with the ' +
		'HTTP rules and codes', async () => {
		const create = (userId, targetUserId, eventId = ev.id) =>
			busCall('matchmaking.matches.create',
				{ userId, targetUserId, eventId });
		const update = (userId, matchId, status) =>
			busCall('matchmaking.matches.update', { userId, matchId, status });

		let data = assertOkReply(await create(c.user.id, a.user.id));
		const m = data.match;
		assert.equal(m.status, 'pending');
		assert.equal(m.requesterId, c.user.id);
		assert.equal(m.targetId, a.user.id);
		assert.equal(m.eventId, ev.id);
		assert.equal((await getMatch(a, m)).status, 'pending');

		assertErrorReply(await create(c.user.id, a.user.id), 'match_exists');
		assertErrorReply(await create(a.user.id, c.user.id), 'match_exists');
		assertErrorReply(await create(c.user.id, c.user.id), 'self_match');
		assertErrorReply(await create(out.user.id, c.user.id), 'not_participant');
		assertErrorReply(await create(c.user.id, out.user.id),
			'target_not_participant');
		assertErrorReply(await create(c.user.id, b.user.id, 2147483000),
			'not_found');

		assertErrorReply(await update(c.user.id, m.id, 'accepted'), 'forbidden');
		assertErrorReply(await update(b.user.id, m.id, 'accepted'), 'not_found');
		assertErrorReply(await update(a.user.id, m.id, 'completed'),
			'invalid_transition');
		assertErrorReply(await update(a.user.id, m.id, 'done'),
			'validation_failed');
		assertErrorReply(await update(a.user.id, 2147483000, 'accepted'),
			'not_found');
		data = assertOkReply(await update(a.user.id, m.id, 'accepted'));
		assert.equal(data.match.id, m.id);
		assert.equal(data.match.status, 'accepted');
		assert.equal((await getMatch(c, m)).status, 'accepted');
		data = assertOkReply(await update(c.user.id, m.id, 'completed'));
		assert.equal(data.match.status, 'completed');
	});
});

describe('the database guards the state machine', skip, () => {
	/* Run SQL as superuser, expecting it to fail. */
	const sqlFails = async (query) => {
		const r = await run('psql', [env('SC_TEST_DATABASE_URL'), '-X', '-A',
			'-t', '-q', '-v', 'ON_ERROR_STOP=1', '-c', query]);
		assert.notEqual(r.code, 0, `${query} succeeded: ${r.stdout}`);
		return r.stderr;
	};
	const statusOf = async (m) => (await run('psql', [
		env('SC_TEST_DATABASE_URL'), '-X', '-A', '-t', '-q', '-c',
		`SELECT status FROM matchmaking.matches WHERE id = ${m.id}`,
	])).stdout.trim();

	test('a forbidden UPDATE by hand, even as superuser, is refused',
		async () => {
			const { ev, users: [a, b, c] } = await setup(3, 'mmdb');
			const done = await matchIn('completed', a, b, ev);
			let err = await sqlFails('UPDATE matchmaking.matches SET ' +
				`status = 'pending' WHERE id = ${done.id}`);
			assert.match(err, /ERROR/);
			assert.equal(await statusOf(done), 'completed');
			await sqlFails('UPDATE matchmaking.matches SET status = ' +
				`'accepted' WHERE id = ${done.id}`);

			const pending = await askOk(a, c, ev);
			await sqlFails('UPDATE matchmaking.matches SET status = ' +
				`'completed', completed_at = now(), responded_at = now() ` +
				`WHERE id = ${pending.id}`);
			err = await sqlFails('UPDATE matchmaking.matches SET target_id = ' +
				`${a.user.id + 1000000} WHERE id = ${pending.id}`);
			assert.match(err, /ERROR/);
			await sqlFails('UPDATE matchmaking.matches SET event_id = ' +
				`${ev.id + 1000000} WHERE id = ${pending.id}`);
			assert.equal(await statusOf(pending), 'pending');
			// the API still moves it along an allowed edge
			await moveOk(c, pending, 'accepted');
		});
});
