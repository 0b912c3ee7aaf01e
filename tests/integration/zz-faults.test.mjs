// zz-faults.test.mjs: the suite when a piece of it goes away, and comes
// back (runs last: tests/run.sh runs the files in name order). A daemon that
// depends on a stopped one answers 503 quickly and recovers by itself when
// it returns; a PostgreSQL restart costs at most some 503s, never a 500, and
// every daemon is back within seconds without being restarted.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';

import {
	Client, assertError, assertPublicUser, assertStatus, env, eventWithUsers,
	gatewayUrl, localSh, matchIn, needs, requestMatch, serviceUrl, show,
	sleep,
} from './lib.mjs';

const gw = new Client(gatewayUrl());
const DAEMONS = ['auth', 'events', 'matchmaking', 'ratings'];
const BUS_DEADLINE_MS = 3000;

const pidOf = async (s) => (await fs.readFile(
	path.join(env('SC_TEST_VAR'), 'run', `${s}.pid`), 'utf8')).trim();

/* The pid of every daemon, to prove none was restarted. */
const pids = async () => Object.fromEntries(await Promise.all(
	DAEMONS.map(async (s) => [s, await pidOf(s)])));

/* Repeat fn until it returns a truthy value or timeoutMs passes; returns
 * the last value and the time taken. */
async function until(fn, timeoutMs) {
	const t0 = Date.now();
	let v;
	for (;;) {
		v = await fn();
		if (v.ok || Date.now() - t0 > timeoutMs) {
			return { ...v, ms: Date.now() - t0 };
		}
		await sleep(100);
	}
}

/* A 503 in the suite's error shape, from a daemon or the gateway. */
function assertUnavailable(res, what) {
	assert.equal(res.status, 503, `${what}: ${show(res)}`);
	assertError(res, 503, ['service_unavailable', 'timeout']);
}

describe('a daemon goes away and comes back', needs(...DAEMONS), () => {
	test('events stopped: POST /api/matches is 503 within the bus deadline; ' +
		'events started again: it works, matchmaking untouched', async () => {
		const { ev, users: [a, b] } = await eventWithUsers(gw, 2, 'fltev');
		const before0 = await pids();
		await localSh('stop-service', 'events');
		try {
			const t0 = Date.now();
			const res = await gw.post('/api/matches', {
				json: { targetUserId: b.user.id, eventId: ev.id },
				token: a.accessToken,
			});
			const ms = Date.now() - t0;
			assertUnavailable(res, 'POST /api/matches with events down');
			assert.equal(res.body.error.code, 'service_unavailable', show(res));
			assert.match(res.body.error.message, /events/i, show(res));
			assert.ok(ms < BUS_DEADLINE_MS, `answered after ${ms} ms`);
			// the gateway's own 503 for the events routes
			assertUnavailable(await gw.get('/api/events',
				{ token: a.accessToken }), 'GET /api/events with events down');
		} finally {
			await localSh('start-service', 'events');
		}
		const r = await until(async () => {
			const res = await gw.post('/api/matches', {
				json: { targetUserId: b.user.id, eventId: ev.id },
				token: a.accessToken,
			});
			if (res.status !== 201) {
				assertUnavailable(res, 'POST /api/matches as events returns');
			}
			return { ok: res.status === 201, res };
		}, 5000);
		assertStatus(r.res, 201);
		const after0 = await pids();
		assert.notEqual(after0.events, before0.events, 'events was restarted');
		assert.equal(after0.matchmaking, before0.matchmaking,
			'matchmaking was not restarted');
	});

	test('matchmaking stopped: POST /api/ratings is 503 within the bus ' +
		'deadline; matchmaking started again: it works', async () => {
		const { ev, users: [a, b] } = await eventWithUsers(gw, 2, 'fltmm');
		const m = await matchIn(gw, 'accepted', a, b, ev);
		const before0 = await pids();
		const rate = () => gw.post('/api/ratings', {
			json: { matchId: m.id, score: 5, wouldCollaborateAgain: true },
			token: a.accessToken,
		});
		await localSh('stop-service', 'matchmaking');
		try {
			const t0 = Date.now();
			const res = await rate();
			const ms = Date.now() - t0;
			assertUnavailable(res, 'POST /api/ratings with matchmaking down');
			assert.ok(ms < BUS_DEADLINE_MS, `answered after ${ms} ms`);
		} finally {
			await localSh('start-service', 'matchmaking');
		}
		const r = await until(async () => {
			const res = await rate();
			if (res.status !== 201) {
				assertUnavailable(res, 'POST /api/ratings as matchmaking returns');
			}
			return { ok: res.status === 201, res };
		}, 5000);
		assertStatus(r.res, 201);
		assert.equal((await pids()).ratings, before0.ratings);
	});

	test('auth stopped: tokens still work; profiles are null or cached, ' +
		'a list that needs them is 503, never 500', async () => {
		const { ev, users: [a, b] } = await eventWithUsers(gw, 2, 'fltau');
		const m = await requestMatch(gw, a, b, ev);
		await localSh('stop-service', 'auth');
		try {
			let res = await gw.get(`/api/matches/${m.id}`, { token: a.accessToken });
			assertStatus(res, 200);
			for (const [side, u] of [['requester', a], ['target', b]]) {
				const p = res.body.match[side];
				if (p !== null) {
					assertPublicUser(p, { id: u.user.id, username: u.username });
				}
			}
			res = await gw.get(`/api/events/${ev.id}/participants`,
				{ token: a.accessToken });
			if (res.status === 200) {
				// served from the cache: then it must be right
				assert.deepEqual(res.body.items.map((p) => p.user.username).sort(),
					[a.username, b.username].sort());
			} else {
				assertUnavailable(res, 'participants with auth down');
			}
			assertStatus(await gw.post(`/api/events/${ev.id}/join`,
				{ token: a.accessToken }), 200);
		} finally {
			await localSh('start-service', 'auth');
		}
		const r = await until(async () => {
			const res = await gw.get(`/api/events/${ev.id}/participants`,
				{ token: a.accessToken });
			return { ok: res.status === 200, res };
		}, 5000);
		assertStatus(r.res, 200);
		assertPublicUser(r.res.body.items[0].user);
	});
});

describe('PostgreSQL restarts under the daemons', needs(...DAEMONS), () => {
	test('503 at most during the gap, never 500; every daemon answers ' +
		'again within seconds, without a restart', async (t) => {
		const { ev, users: [a, b, c] } = await eventWithUsers(gw, 3, 'fltdb');
		const m = await matchIn(gw, 'accepted', a, b, ev);
		const before0 = await pids();
		const tok = { token: a.accessToken };
		const probes = {
			auth: () => gw.get('/api/users/me', tok),
			events: () => gw.get(`/api/events/${ev.id}`, tok),
			matchmaking: () => gw.get(`/api/matches/${m.id}`, tok),
			ratings: () => gw.get(`/api/ratings/stats/${b.user.id}`, tok),
		};
		const seen = Object.fromEntries(DAEMONS.map((s) => [s, new Map()]));
		const bad = [];
		const probeAll = async () => {
			const out = {};
			await Promise.all(DAEMONS.map(async (s) => {
				const res = await probes[s]();
				seen[s].set(res.status, (seen[s].get(res.status) ?? 0) + 1);
				if (res.status !== 200 && res.status !== 503) {
					bad.push(`${s}: ${show(res)}`);
				} else if (res.status === 503) {
					try {
						assertUnavailable(res, s);
					} catch (e) {
						bad.push(`${s}: ${e.message}`);
					}
				}
				out[s] = res.status;
			}));
			return out;
		};

		// probe all the time while PostgreSQL restarts
		let restarting = true;
		const restart = localSh('restart-db').finally(() => {
			restarting = false;
		});
		while (restarting) {
			await probeAll();
			await sleep(20);
		}
		await restart;
		const t0 = Date.now();
		const r = await until(async () => {
			const st = await probeAll();
			return { ok: DAEMONS.every((s) => st[s] === 200), st };
		}, 15000);
		const summary = JSON.stringify(Object.fromEntries(DAEMONS.map((s) =>
			[s, Object.fromEntries(seen[s])])));
		t.diagnostic(`statuses seen (status: count): ${summary}; all 200 ` +
			`${Date.now() - t0} ms after pg_ctl restart returned`);
		assert.deepEqual(bad, [], `answers other than 200/503: ${summary}`);
		assert.ok(r.ok, `not every daemon recovered within 15 s: ` +
			`${JSON.stringify(r.st)}; seen ${summary}`);
		assert.ok(Date.now() - t0 < 10000, `recovery took ${Date.now() - t0} ms`);

		// writes work on every daemon again, and /ready says so
		for (const s of DAEMONS) {
			const res = await new Client(serviceUrl(s)).get('/ready');
			assertStatus(res, 200);
		}
		assertStatus(await gw.patch('/api/users/me',
			{ json: { bio: 'after the restart' }, ...tok }), 200);
		assertStatus(await gw.post(`/api/events/${ev.id}/join`,
			{ token: c.accessToken }), 200);
		await requestMatch(gw, c, a, ev);
		assertStatus(await gw.post('/api/ratings', {
			json: { matchId: m.id, score: 4, wouldCollaborateAgain: true }, ...tok,
		}), 201);
		assert.deepEqual(await pids(), before0, 'no daemon was restarted');
	});
});
