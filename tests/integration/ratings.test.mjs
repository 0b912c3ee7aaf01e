// ratings.test.mjs: ratings of a match partner through the gateway (who may
// rate what, validation, stats to the cent, lists), abuse reports, the
// rating.created topic and ratings.stats.get (scbus). Every test has its
// own users, events and matches.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
	Client, assertError, assertErrorReply, assertList, assertOkReply,
	assertRating, assertStatus, assertValidation, busCall, collectPages,
	eventWithUsers, gatewayUrl, ISO_UTC, joinEvent, matchIn, needs,
	newSessions, show, Subscriber,
} from './lib.mjs';

const gw = new Client(gatewayUrl());
const skip = needs('events', 'matchmaking', 'ratings');

const rate = (u, m, body) => gw.post('/api/ratings', {
	json: { matchId: typeof m === 'number' ? m : m.id, ...body },
	token: u.accessToken,
});

/* u rates match m: 201 {rating}; returns the rating. */
async function rateOk(u, m, body) {
	const res = await rate(u, m, body);
	assertStatus(res, 201);
	assert.deepEqual(Object.keys(res.body), ['rating'], show(res));
	const other = m.requesterId === u.user.id ? m.targetId : m.requesterId;
	assertRating(res.body.rating, { matchId: m.id, raterId: u.user.id,
		ratedId: other, score: body.score,
		comment: body.comment ?? null,
		wouldCollaborateAgain: body.wouldCollaborateAgain });
	return res.body.rating;
}

/* A pair with a match in `state` (a asked, b answered): {ev, a, b, m}. */
async function pair(prefix, state = 'accepted') {
	const { ev, users: [a, b] } = await eventWithUsers(gw, 2, prefix);
	const m = await matchIn(gw, state, a, b, ev);
	return { ev, a, b, m };
}

const stats = async (viewer, userId) => {
	const res = await gw.get(`/api/ratings/stats/${userId}`,
		{ token: viewer.accessToken });
	assertStatus(res, 200);
	assert.deepEqual(Object.keys(res.body).sort(),
		['average', 'count', 'userId', 'wouldCollaborateAgainShare'], show(res));
	return res.body;
};

describe('POST /api/ratings', skip, () => {
	test('both members rate each other; profiles are shown', async () => {
		const { a, b, m } = await pair('rtboth');
		const ra = await rateOk(a, m, { score: 5, comment: 'Great partner!',
			wouldCollaborateAgain: true });
		assert.equal(ra.rater?.username ?? a.username, a.username);
		assert.equal(ra.rated?.username ?? b.username, b.username);
		assert.ok(!JSON.stringify(ra).includes(a.email), 'no email');
		const rb = await rateOk(b, m, { score: 3, wouldCollaborateAgain: false });
		assert.equal(rb.comment, null);
		assert.notEqual(ra.id, rb.id);
	});

	test('a completed match may be rated too', async () => {
		const { a, b, m } = await pair('rtdone', 'completed');
		await rateOk(a, m, { score: 4, wouldCollaborateAgain: true });
		await rateOk(b, m, { score: 4, comment: null, wouldCollaborateAgain: true });
	});

	test('rating twice is 409 already_rated, even at once', async () => {
		const { a, b, m } = await pair('rttwice');
		await rateOk(a, m, { score: 4, wouldCollaborateAgain: true });
		assertError(await rate(a, m, { score: 2, wouldCollaborateAgain: false }),
			409, 'already_rated');
		const all = await Promise.all(Array.from({ length: 8 }, () =>
			rate(b, m, { score: 5, wouldCollaborateAgain: true })));
		assert.equal(all.filter((r) => r.status === 201).length, 1,
			all.map(show).join('\n'));
		for (const r of all.filter((x) => x.status !== 201)) {
			assertError(r, 409, 'already_rated');
		}
		const s = await stats(a, a.user.id);
		assert.equal(s.count, 1, 'b counted once');
		assert.equal(s.average, 5);
	});

	test('a pending, rejected or cancelled match is 409 match_not_rateable',
		async () => {
			for (const state of ['pending', 'rejected', 'cancelled']) {
				const { a, b, m } = await pair(`rt${state.slice(0, 4)}`, state);
				for (const u of [a, b]) {
					assertError(await rate(u, m, { score: 4,
						wouldCollaborateAgain: true }), 409, 'match_not_rateable');
				}
			}
		});

	test('someone outside the match, or an unknown match, is 404 not_found',
		async () => {
			const { ev, a, b, m } = await pair('rtout');
			const [c] = await newSessions(gw, 1, 'rtoutc');
			await joinEvent(gw, c, ev);
			assertError(await rate(c, m, { score: 1, wouldCollaborateAgain: false }),
				404, 'not_found');
			assertError(await rate(a, 2147483000, { score: 3,
				wouldCollaborateAgain: true }), 404, 'not_found');
			// c's attempt left nothing behind
			assert.equal((await stats(c, a.user.id)).count, 0);
			assert.equal((await stats(c, b.user.id)).count, 0);
		});

	test('bad scores, flags, comments and bodies are 422; none uses up the ' +
		'rating', async () => {
		const { a, m } = await pair('rt422');
		const ok = { score: 4, wouldCollaborateAgain: true };
		for (const score of [0, 6, 2.5, '5', null, -1, true, 1e10]) {
			assertValidation(await rate(a, m, { ...ok, score }), ['score']);
		}
		const { score: _s, ...noScore } = ok;
		assertValidation(await rate(a, m, noScore), ['score']);
		for (const w of ['true', null, 1, 0]) {
			assertValidation(await rate(a, m, { ...ok, wouldCollaborateAgain: w }),
				['wouldCollaborateAgain']);
		}
		assertValidation(await rate(a, m, { score: 4 }),
			['wouldCollaborateAgain']);
		assertValidation(await rate(a, m, { ...ok, comment: 'x'.repeat(1001) }),
			['comment']);
		assertValidation(await rate(a, m, { ...ok, comment: 5 }), ['comment']);
		assertValidation(await rate(a, m, { ...ok, stars: 5 }), ['stars']);
		assertValidation(await gw.post('/api/ratings',
			{ json: ok, token: a.accessToken }), ['matchId']);
		assertValidation(await gw.post('/api/ratings',
			{ json: { ...ok, matchId: String(m.id) }, token: a.accessToken }),
		['matchId']);
		assertError(await gw.post('/api/ratings', { body: '{"score":',
			contentType: 'application/json', token: a.accessToken }), 400);
		// 1000 characters is fine, counted as characters, not bytes
		await rateOk(a, m, { ...ok, comment: 'é'.repeat(1000) });
	});

	test('a comment of exactly 1000 characters is kept whole', async () => {
		const { a, m } = await pair('rt1000');
		const comment = `${'abcdefghij'.repeat(99)}0123456789`;
		const r = await rateOk(a, m, { score: 2, comment,
			wouldCollaborateAgain: false });
		assert.equal(r.comment.length, 1000);
	});
});

describe('GET /api/ratings/stats/:id', skip, () => {
	test('count, average and share, rounded to 2 decimals, after every ' +
		'rating', async () => {
		const { ev, users: [x, ...partners] } = await eventWithUsers(gw, 8,
			'rtstat');
		const plan = [
			// [score, wouldCollaborateAgain, count, average, share]
			[5, true, 1, 5, 1],
			[4, true, 2, 4.5, 1],
			[4, false, 3, 4.33, 0.67],
			[1, false, 4, 3.5, 0.5],
			[2, true, 5, 3.2, 0.6],
			[5, false, 6, 3.5, 0.5],
			[4, false, 7, 3.57, 0.43],
		];
		assert.deepEqual(await stats(partners[0], x.user.id), { userId: x.user.id,
			count: 0, average: null, wouldCollaborateAgainShare: null });
		for (const [i, [score, w, count, average, share]] of plan.entries()) {
			const p = partners[i];
			const m = await matchIn(gw, i % 2 ? 'accepted' : 'completed', p, x, ev);
			await rateOk(p, m, { score, wouldCollaborateAgain: w });
			// x's own rating of p does not count for x
			await rateOk(x, m, { score: 1, wouldCollaborateAgain: false });
			assert.deepEqual(await stats(x, x.user.id), { userId: x.user.id,
				count, average, wouldCollaborateAgainShare: share },
			`after rating ${i + 1}`);
		}
		assert.deepEqual(await stats(x, partners[0].user.id), {
			userId: partners[0].user.id, count: 1, average: 1,
			wouldCollaborateAgainShare: 0,
		});
	});

	test('ratings.stats.get over the bus, users without ratings at 0',
		async () => {
			const { a, b, m } = await pair('rtbus');
			await rateOk(a, m, { score: 3, wouldCollaborateAgain: true });
			await rateOk(b, m, { score: 4, wouldCollaborateAgain: false });
			const data = assertOkReply(await busCall('ratings.stats.get',
				{ userIds: [a.user.id, b.user.id, 2147483000] }));
			assert.deepEqual(Object.keys(data), ['stats']);
			const by = new Map(data.stats.map((s) => [s.userId, s]));
			assert.equal(by.size, 3, JSON.stringify(data));
			assert.deepEqual(by.get(a.user.id), { userId: a.user.id, count: 1,
				average: 4, wouldCollaborateAgainShare: 0 });
			assert.deepEqual(by.get(b.user.id), { userId: b.user.id, count: 1,
				average: 3, wouldCollaborateAgainShare: 1 });
			assert.deepEqual(by.get(2147483000), { userId: 2147483000, count: 0,
				average: null, wouldCollaborateAgainShare: null });
			for (const d of [{}, { userIds: 'x' }, { userIds: ['1'] },
				{ userIds: Array.from({ length: 101 }, (_, i) => i + 1) }]) {
				assertErrorReply(await busCall('ratings.stats.get', d),
					['bad_request', 'validation_failed']);
			}
		});
});

describe('GET /api/ratings/user/:id', skip, () => {
	test('received (the default) and given, newest first, in pages; anyone ' +
		'may read them', async () => {
		const { ev, users: [x, p1, p2, p3, reader] } = await eventWithUsers(gw,
			5, 'rtlist');
		const received = [];
		const given = [];
		for (const p of [p1, p2, p3]) {
			const m = await matchIn(gw, 'accepted', x, p, ev);
			received.push(await rateOk(p, m, { score: 4, comment: `from ${p.username}`,
				wouldCollaborateAgain: true }));
			given.push(await rateOk(x, m, { score: 5, wouldCollaborateAgain: true }));
		}
		received.reverse();
		given.reverse();
		const ids = (xs) => xs.map((r) => r.id);
		for (const [q, want] of [['', received], ['?direction=received', received],
			['?direction=given', given]]) {
			const res = await gw.get(`/api/ratings/user/${x.user.id}${q}`,
				{ token: reader.accessToken });
			assertStatus(res, 200);
			assertList(res.body);
			assert.deepEqual(ids(res.body.items), ids(want), q);
			for (const [i, r] of res.body.items.entries()) {
				assertRating(r, { ...want[i], rater: r.rater, rated: r.rated });
			}
			const pages = await collectPages(gw,
				`/api/ratings/user/${x.user.id}${q}`, reader.accessToken, 2);
			assert.equal(pages.pages, 2, q);
			assert.deepEqual(ids(pages.items), ids(want), q);
		}
		const res = await gw.get(`/api/ratings/user/${reader.user.id}`,
			{ token: x.accessToken });
		assertStatus(res, 200);
		assert.deepEqual(res.body, { items: [], nextCursor: null });
	});

	test('a bad direction, limit or cursor is 422', async () => {
		const [u] = await newSessions(gw, 1, 'rtlbad');
		const p = `/api/ratings/user/${u.user.id}`;
		for (const [q, field] of [['?direction=both', 'direction'],
			['?direction=GIVEN', 'direction'], ['?limit=0', 'limit'],
			['?limit=101', 'limit'], ['?limit=x', 'limit'],
			['?cursor=%21%21', 'cursor'],
			[`?cursor=${Buffer.from('nope').toString('base64url')}`, 'cursor']]) {
			assertValidation(await gw.get(`${p}${q}`, { token: u.accessToken }),
				[field]);
		}
	});
});

describe('rating.created', skip, () => {
	let sub;
	before(async () => {
		sub = await Subscriber.open('ratings', 'rating.');
	});
	after(async () => {
		await sub?.stop();
	});

	test('is published with the rating, once', async () => {
		const { a, b, m } = await pair('rtev');
		const r = await rateOk(a, m, { score: 5, comment: 'secret words',
			wouldCollaborateAgain: true });
		const ev = await sub.expect((e) => e.topic === 'rating.created' &&
			e.data?.rating?.id === r.id, 'rating.created');
		assert.deepEqual(ev.data, { rating: { id: r.id, matchId: m.id,
			raterId: a.user.id, ratedId: b.user.id, score: 5,
			wouldCollaborateAgain: true, createdAt: r.createdAt } });
		assert.match(ev.data.rating.createdAt, ISO_UTC);
		// a refused second rating publishes nothing: b's rating is next
		assertError(await rate(a, m, { score: 1, wouldCollaborateAgain: false }),
			409, 'already_rated');
		const rb = await rateOk(b, m, { score: 2, wouldCollaborateAgain: false });
		await sub.expect((e) => e.data?.rating?.id === rb.id, 'b\'s rating');
		assert.equal(sub.matching((e) => e.data?.rating?.matchId === m.id &&
			e.data?.rating?.raterId === a.user.id).length, 1);
	});
});

// reports need auth (the reported user must exist) and, for the one about
// a match, matchmaking to make it
describe('POST /api/reports', needs('events', 'matchmaking', 'ratings'), () => {
	let r; // the reporter
	let others;
	before(async () => {
		[r, ...others] = await newSessions(gw, 7, 'rprt');
	});
	const report = (u, body) => gw.post('/api/reports',
		{ json: body, token: u.accessToken });

	const assertReport = (res, expect) => {
		assertStatus(res, 201);
		assert.deepEqual(Object.keys(res.body), ['report'], show(res));
		const p = res.body.report;
		assert.deepEqual(Object.keys(p).sort(), ['createdAt', 'details', 'id',
			'matchId', 'reason', 'reportedUserId', 'status'], show(res));
		assert.ok(Number.isSafeInteger(p.id) && p.id > 0);
		assert.match(p.createdAt, ISO_UTC);
		assert.deepEqual({ ...p, id: 0, createdAt: '' },
			{ id: 0, createdAt: '', status: 'open', details: null, matchId: null,
				...expect });
		return p;
	};

	test('every reason is accepted; details and matchId are optional',
		async () => {
			const reasons = ['harassment', 'no_show', 'inappropriate', 'spam',
				'other'];
			for (const [i, reason] of reasons.entries()) {
				const body = { reportedUserId: others[i].user.id, reason };
				if (i % 2 === 0) {
					body.details = `details ${i}`;
				}
				assertReport(await report(r, body), body);
			}
			const { a, b, m } = await pair('rprtm', 'completed');
			const body = { reportedUserId: b.user.id, reason: 'no_show',
				details: 'did not come', matchId: m.id };
			assertReport(await report(a, body), body);
		});

	test('one open report per pair: 409 report_exists; others may report ' +
		'the same user', async () => {
		const target = others[5];
		assertReport(await report(r, { reportedUserId: target.user.id,
			reason: 'spam' }), { reportedUserId: target.user.id, reason: 'spam' });
		assertError(await report(r, { reportedUserId: target.user.id,
			reason: 'harassment', details: 'again' }), 409, 'report_exists');
		assertReport(await report(others[4], { reportedUserId: target.user.id,
			reason: 'spam' }), { reportedUserId: target.user.id, reason: 'spam' });
	});

	test('self 422 self_report, unknown user 404, bad fields 422', async () => {
		assertError(await report(r, { reportedUserId: r.user.id,
			reason: 'spam' }), 422, 'self_report');
		assertError(await report(r, { reportedUserId: 2147483000,
			reason: 'spam' }), 404, 'not_found');
		const u = others[0].user.id;
		for (const [body, fields] of [
			[{}, ['reportedUserId', 'reason']],
			[{ reportedUserId: u, reason: 'rude' }, ['reason']],
			[{ reportedUserId: u, reason: 'SPAM' }, ['reason']],
			[{ reportedUserId: u, reason: null }, ['reason']],
			[{ reportedUserId: String(u), reason: 'spam' }, ['reportedUserId']],
			[{ reportedUserId: u, reason: 'spam', details: 'd'.repeat(1001) },
				['details']],
			[{ reportedUserId: u, reason: 'spam', matchId: 'x' }, ['matchId']],
			[{ reportedUserId: u, reason: 'spam', status: 'closed' }, ['status']],
		]) {
			assertValidation(await report(r, body), fields);
		}
	});
});
