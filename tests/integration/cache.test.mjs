// cache.test.mjs: the read caches of the events list and the matches list
// (common/cache.h, sc_daemon_cache) never serve what the database no longer
// says: a join or a match change is seen by the caller's very next read; a
// change made behind the daemons' back (SQL, `events import`) is seen as
// soon as PostgreSQL's notification arrives; and with the listening
// connection killed, the caches go off and come back empty.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import {
	Client, assertStatus, createEvent, eventWithUsers, gatewayUrl, lit,
	moveMatch, needs, newSessions, requestMatch, serviceUrl, show, sleep, sql,
} from './lib.mjs';

const gw = new Client(gatewayUrl());

/* Poll fn until it returns a truthy value or `ms` pass; the last value. */
async function eventually(fn, ms = 3000) {
	const t0 = Date.now();
	let v;
	while (!(v = await fn()) && Date.now() - t0 < ms) {
		await sleep(25);
	}
	return v;
}

/* A counter of a daemon's /metrics. */
async function metric(service, name) {
	const res = await new Client(serviceUrl(service)).get('/metrics');
	assert.equal(res.status, 200, show(res));
	const m = res.text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
	assert.ok(m, `${service} /metrics has no ${name}`);
	return Number(m[1]);
}

/* The events list as user s sees it, all pages of upcoming events. */
async function listed(s, q) {
	const res = await gw.get(`/api/events?limit=100&q=${encodeURIComponent(q)}`,
		{ token: s.accessToken });
	assertStatus(res, 200);
	return res.body.items;
}

describe('the events list cache', needs('events'), () => {
	let s, other, ev;
	before(async () => {
		[s, other] = await newSessions(gw, 2, 'cache');
		ev = await createEvent();
	});

	test('a hit is byte for byte the answer of a miss', async () => {
		const hits0 = await metric('events', 'spotlight_cache_hits_total');
		const a = await gw.get('/api/events?limit=50', { token: s.accessToken });
		const b = await gw.get('/api/events?limit=50', { token: s.accessToken });
		assertStatus(a, 200);
		assert.equal(b.text, a.text);
		assert.ok(await metric('events', 'spotlight_cache_hits_total') > hits0,
			'the second read was not served from the cache');
	});

	test('the caller sees its own join and leave at once, others theirs',
		async () => {
			let [e] = await listed(s, ev.name);
			assert.equal(e.joined, false);
			const count = e.participantCount;
			await listed(other, ev.name); // cached for both
			assertStatus(await gw.post(`/api/events/${ev.id}/join`,
				{ token: s.accessToken }), 200);
			[e] = await listed(s, ev.name);
			assert.equal(e.joined, true, 'own join not seen');
			assert.equal(e.participantCount, count + 1);
			[e] = await listed(other, ev.name);
			assert.equal(e.joined, false, "someone else's join leaked");
			assert.equal(e.participantCount, count + 1);
			assertStatus(await gw.delete(`/api/events/${ev.id}/join`,
				{ token: s.accessToken }), 200);
			[e] = await listed(s, ev.name);
			assert.equal(e.joined, false, 'own leave not seen');
			assert.equal(e.participantCount, count);
		});

	test('a change made in SQL is seen once PostgreSQL notifies',
		async () => {
			await listed(s, ev.name); // cached
			const name = `${ev.name} renamed`;
			await sql(`UPDATE events.events SET name = ${lit(name)} ` +
				`WHERE id = ${ev.id}`);
			const seen = await eventually(async () =>
				(await listed(s, ev.name))[0]?.name === name);
			assert.ok(seen, 'the rename never showed');
			await sql(`UPDATE events.events SET name = ${lit(ev.name)} ` +
				`WHERE id = ${ev.id}`);
		});

	test('an import is seen by a list cached before it', async () => {
		const before = await listed(s, 'Integration Swing');
		const fresh = await createEvent();
		const seen = await eventually(async () => (await listed(s,
			'Integration Swing')).some((e) => e.id === fresh.id));
		assert.ok(seen, `imported event ${fresh.id} never listed ` +
			`(${before.length} before)`);
	});

	test('with its listener killed the cache goes off, then comes back',
		async () => {
			const clears0 = await metric('events',
				'spotlight_cache_clears_total');
			await listed(s, ev.name);
			const killed = await sql('SELECT count(pg_terminate_backend(pid)) ' +
				"FROM pg_stat_activity WHERE usename = 'sc_events' AND " +
				"query = 'LISTEN \"events_changed\"'");
			assert.equal(killed, '1', 'no listening backend of events');
			// A change while it may be down is still seen: the cache
			// is off (DOWN) or was emptied on the way back (UP).
			const name = `${ev.name} while down`;
			await sql(`UPDATE events.events SET name = ${lit(name)} ` +
				`WHERE id = ${ev.id}`);
			const seen = await eventually(async () =>
				(await listed(s, ev.name))[0]?.name === name);
			assert.ok(seen, 'the change while down never showed');
			// DOWN and UP each empty it.
			assert.ok(await eventually(async () => await metric('events',
				'spotlight_cache_clears_total') >= clears0 + 2),
			'the listener did not come back');
			const hits0 = await metric('events', 'spotlight_cache_hits_total');
			await listed(s, ev.name);
			await listed(s, ev.name);
			assert.ok(await metric('events', 'spotlight_cache_hits_total') >
				hits0, 'the cache did not come back on');
			await sql(`UPDATE events.events SET name = ${lit(ev.name)} ` +
				`WHERE id = ${ev.id}`);
		});
});

describe('the matches list cache', needs('events', 'matchmaking'), () => {
	let a, b, ev;
	const mine = async (u) => {
		const res = await gw.get('/api/matches?limit=50', { token: u.accessToken });
		assertStatus(res, 200);
		return res.body.items;
	};
	before(async () => {
		({ ev, users: [a, b] } = await eventWithUsers(gw, 2, 'mcache'));
	});

	test('both members see a request and each move at once', async () => {
		assert.deepEqual(await mine(a), []);
		assert.deepEqual(await mine(b), []); // both cached empty
		const m = await requestMatch(gw, a, b, ev);
		assert.deepEqual((await mine(a)).map((x) => x.id), [m.id]);
		assert.deepEqual((await mine(b)).map((x) => x.id), [m.id]);
		await moveMatch(gw, b, m, 'accepted');
		assert.equal((await mine(a))[0].status, 'accepted');
		assert.equal((await mine(b))[0].status, 'accepted');
		const hits0 = await metric('matchmaking', 'spotlight_cache_hits_total');
		const again = await gw.get('/api/matches?limit=50', { token: a.accessToken });
		assert.equal(again.body.items[0].status, 'accepted');
		assert.ok(await metric('matchmaking', 'spotlight_cache_hits_total') >
			hits0, 'the repeated read was not a hit');
	});

	test('a change in SQL and a profile edit are seen', async () => {
		const [m] = await mine(a);
		await sql('UPDATE matchmaking.matches SET status = \'completed\', ' +
			`completed_at = now() WHERE id = ${m.id}`);
		assert.ok(await eventually(async () =>
			(await mine(a))[0].status === 'completed'), 'SQL change not seen');
		const bio = `bio ${Date.now()}`;
		assertStatus(await gw.patch('/api/users/me',
			{ json: { bio }, token: b.accessToken }), 200);
		assert.ok(await eventually(async () =>
			(await mine(a))[0].target?.bio === bio), 'profile edit not seen');
	});
});
