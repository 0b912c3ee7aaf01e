// journey.test.mjs: three dancers through the whole product, via the
// gateway only: register and log in (auth), join one event (events), ask
// each other for a match (matchmaking), rate each other (ratings), and every
// history list agrees with what happened.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
	Client, assertError, assertMatch, assertPrivateUser, assertRating,
	assertStatus, createEvent, gatewayUrl, login, moveMatch, needs, register,
	requestMatch,
} from './lib.mjs';

const gw = new Client(gatewayUrl());

describe('the journey of three dancers', needs('auth', 'events',
	'matchmaking', 'ratings'), () => {
	test('register, join, match, accept and reject, complete, rate, and ' +
		'read it all back', async () => {
		// register and log in
		const people = [];
		for (const prefix of ['ana', 'ben', 'cleo']) {
			const r = await register(gw, { prefix });
			const s = await login(gw, r.username, r.password);
			const me = await gw.get('/api/users/me', { token: s.accessToken });
			assertStatus(me, 200);
			assertPrivateUser(me.body, { id: r.user.id, username: r.username });
			people.push({ ...r, ...s });
		}
		const [a, b, c] = people;
		const tok = (u) => ({ token: u.accessToken });

		// one event, found by searching for it, joined by all three
		const ev = await createEvent({ name: `Journey Jam ${a.username}`,
			location: 'Lisbon, Portugal' });
		let res = await gw.get(
			`/api/events?q=${encodeURIComponent(`journey jam ${a.username}`)}`,
			tok(a));
		assertStatus(res, 200);
		assert.deepEqual(res.body.items.map((e) => e.id), [ev.id]);
		for (const [i, u] of people.entries()) {
			res = await gw.post(`/api/events/${ev.id}/join`, tok(u));
			assertStatus(res, 200);
			assert.equal(res.body.event.participantCount, i + 1);
		}
		res = await gw.get(`/api/events/${ev.id}/participants`, tok(c));
		assertStatus(res, 200);
		assert.deepEqual(res.body.items.map((p) => p.user.username),
			[a.username, b.username, c.username]);

		// A asks B, B accepts; A asks C, C says no
		let ab = await requestMatch(gw, a, b, ev);
		ab = await moveMatch(gw, b, ab, 'accepted');
		let ac = await requestMatch(gw, a, c, ev);
		ac = await moveMatch(gw, c, ac, 'rejected');
		assertError(await gw.post('/api/matches', {
			json: { targetUserId: a.user.id, eventId: ev.id }, ...tok(c),
		}), 409, 'match_exists');

		// A and B dance, then B marks it completed
		ab = await moveMatch(gw, b, ab, 'completed');
		assertError(await gw.patch(`/api/matches/${ab.id}`,
			{ json: { status: 'cancelled' }, ...tok(a) }), 409,
		'invalid_transition');

		// they rate each other; C cannot rate the rejected match
		res = await gw.post('/api/ratings', { json: { matchId: ab.id, score: 5,
			comment: 'Lovely connection', wouldCollaborateAgain: true }, ...tok(a) });
		assertStatus(res, 201);
		const aRatesB = res.body.rating;
		assertRating(aRatesB, { raterId: a.user.id, ratedId: b.user.id });
		res = await gw.post('/api/ratings', { json: { matchId: ab.id, score: 4,
			wouldCollaborateAgain: true }, ...tok(b) });
		assertStatus(res, 201);
		const bRatesA = res.body.rating;
		assertError(await gw.post('/api/ratings', { json: { matchId: ac.id,
			score: 1, wouldCollaborateAgain: false }, ...tok(c) }), 409,
		'match_not_rateable');

		// stats
		const stats = async (u) => {
			const r = await gw.get(`/api/ratings/stats/${u.user.id}`, tok(c));
			assertStatus(r, 200);
			return r.body;
		};
		assert.deepEqual(await stats(a), { userId: a.user.id, count: 1,
			average: 4, wouldCollaborateAgainShare: 1 });
		assert.deepEqual(await stats(b), { userId: b.user.id, count: 1,
			average: 5, wouldCollaborateAgainShare: 1 });
		assert.deepEqual(await stats(c), { userId: c.user.id, count: 0,
			average: null, wouldCollaborateAgainShare: null });

		// everyone's history agrees
		const matchesOf = async (u, q = '') => {
			const r = await gw.get(`/api/matches${q}`, tok(u));
			assertStatus(r, 200);
			r.body.items.forEach((m) => assertMatch(m));
			return r.body.items.map((m) => [m.id, m.status]);
		};
		assert.deepEqual(await matchesOf(a),
			[[ac.id, 'rejected'], [ab.id, 'completed']]);
		assert.deepEqual(await matchesOf(b), [[ab.id, 'completed']]);
		assert.deepEqual(await matchesOf(c), [[ac.id, 'rejected']]);
		assert.deepEqual(await matchesOf(a, `?eventId=${ev.id}&status=completed`),
			[[ab.id, 'completed']]);
		res = await gw.get(`/api/matches/${ab.id}`, tok(b));
		assertStatus(res, 200);
		assertMatch(res.body.match, { id: ab.id, status: 'completed',
			requesterId: a.user.id, targetId: b.user.id });
		assert.equal(res.body.match.requester?.username ?? a.username,
			a.username);

		const ratingsOf = async (u, direction) => {
			const r = await gw.get(
				`/api/ratings/user/${u.user.id}?direction=${direction}`, tok(c));
			assertStatus(r, 200);
			r.body.items.forEach((x) => assertRating(x));
			return r.body.items.map((x) => x.id);
		};
		assert.deepEqual(await ratingsOf(a, 'given'), [aRatesB.id]);
		assert.deepEqual(await ratingsOf(a, 'received'), [bRatesA.id]);
		assert.deepEqual(await ratingsOf(b, 'given'), [bRatesA.id]);
		assert.deepEqual(await ratingsOf(b, 'received'), [aRatesB.id]);
		assert.deepEqual(await ratingsOf(c, 'given'), []);
		assert.deepEqual(await ratingsOf(c, 'received'), []);

		res = await gw.get(`/api/events/${ev.id}`, tok(b));
		assertStatus(res, 200);
		assert.equal(res.body.participantCount, 3);
		assert.equal(res.body.joined, true);
	});
});
