// events.test.mjs: the events daemon through the gateway (lists, search,
// pagination, one event, join/leave, participants), its bus requests and
// topics (scbus), and `events import` (validation, upsert). The seed events
// are shared by every test file: the tests that count or order things use
// events of their own, imported with unique ids and names.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
	Client, assertError, assertErrorReply, assertEvent, assertList,
	assertOkReply, assertPublicUser, assertStatus, assertValidation, busCall,
	collectPages, createEvent, createEvents, eventSpec, eventsImport,
	gatewayUrl, ISO_UTC, lit, needs, newSession, newSessions, NEXT_YEAR, show,
	sql,
	Subscriber, tableDigest, tempDir,
} from './lib.mjs';

const gw = new Client(gatewayUrl());
const skip = needs('events');

const DAY = 86400000;
const Y = NEXT_YEAR; // the upcoming events' year
const utcDate = (ms) => new Date(ms).toISOString().slice(0, 10);
const tag = () => Math.random().toString(36).slice(2, 10);

/* Items are in list order: upcoming (startDate, id) ascending, past
 * descending. */
function assertOrdered(items, when) {
	for (let i = 1; i < items.length; i++) {
		const a = items[i - 1];
		const b = items[i];
		const cmp = a.startDate < b.startDate ? -1 :
			a.startDate > b.startDate ? 1 : a.id - b.id;
		if (when === 'upcoming') {
			assert.ok(cmp < 0, `upcoming out of order at ${i}: ` +
				`${JSON.stringify(a)} then ${JSON.stringify(b)}`);
		} else {
			assert.ok(cmp > 0, `past out of order at ${i}: ` +
				`${JSON.stringify(a)} then ${JSON.stringify(b)}`);
		}
	}
}

const ids = (items) => items.map((e) => e.id);

describe('GET /api/events: upcoming, past, search, pages', skip, () => {
	let s;
	let t; // the tag in the names of this block's events
	let upcoming; // own upcoming events
	let past; // own past events
	before(async () => {
		s = await newSession(gw, { prefix: 'evlist' });
		t = tag();
		// 23 upcoming events over 8 start dates, so several share a
		// date and the id decides their order; 9 past ones.
		const up = Array.from({ length: 23 }, (_, i) => eventSpec({
			name: `Pager ${t} upcoming ${i}`,
			startDate: `${Y}-0${1 + (i % 8)}-1${i % 3}`,
			endDate: `${Y}-0${1 + (i % 8)}-1${(i % 3) + 2}`,
		}));
		const old = Array.from({ length: 9 }, (_, i) => eventSpec({
			name: `Pager ${t} past ${i}`,
			startDate: `2025-0${1 + (i % 4)}-0${1 + (i % 2)}`,
			endDate: `2025-0${1 + (i % 4)}-0${3 + (i % 2)}`,
		}));
		const made = await createEvents([...up, ...old]);
		upcoming = made.slice(0, 23);
		past = made.slice(23);
	});

	test('upcoming is the default: only events not over, by start date ' +
		'then id', async () => {
		const a = await collectPages(gw, '/api/events', s.accessToken, 100);
		const b = await collectPages(gw, '/api/events?when=upcoming',
			s.accessToken, 100);
		assert.deepEqual(ids(a.items), ids(b.items));
		const today = utcDate(Date.now());
		for (const e of a.items) {
			assertEvent(e);
			assert.ok(e.endDate >= today, `over: ${JSON.stringify(e)}`);
		}
		assertOrdered(a.items, 'upcoming');
		const got = new Set(ids(a.items));
		for (const e of upcoming) {
			assert.ok(got.has(e.id), `own upcoming event ${e.id} missing`);
		}
		for (const e of past) {
			assert.ok(!got.has(e.id), `past event ${e.id} listed as upcoming`);
		}
		// the seed has at least 30 events, most of them upcoming
		assert.ok(a.items.length >= 23 + 15, `only ${a.items.length}`);
	});

	test('past: only events over, newest start date first', async () => {
		const { items } = await collectPages(gw, '/api/events?when=past',
			s.accessToken, 100);
		const today = utcDate(Date.now());
		for (const e of items) {
			assertEvent(e);
			assert.ok(e.endDate < today, `not over: ${JSON.stringify(e)}`);
		}
		assertOrdered(items, 'past');
		const got = new Set(ids(items));
		for (const e of past) {
			assert.ok(got.has(e.id), `own past event ${e.id} missing`);
		}
		for (const e of upcoming) {
			assert.ok(!got.has(e.id), `upcoming event ${e.id} listed as past`);
		}
	});

	test('an event ending today (UTC) is upcoming, one that ended ' +
		'yesterday is past', async (ctx) => {
		const now = Date.now();
		if (now % DAY > DAY - 60000) {
			ctx.skip('too close to midnight UTC');
			return;
		}
		const u = tag();
		const [today, yesterday] = await createEvents([
			eventSpec({ name: `Edge ${u} today`, startDate: utcDate(now - 2 * DAY),
				endDate: utcDate(now) }),
			eventSpec({ name: `Edge ${u} yesterday`,
				startDate: utcDate(now - 2 * DAY), endDate: utcDate(now - DAY) }),
		]);
		let res = await gw.get(`/api/events?when=upcoming&q=Edge%20${u}`,
			{ token: s.accessToken });
		assertStatus(res, 200);
		assert.deepEqual(ids(res.body.items), [today.id]);
		res = await gw.get(`/api/events?when=past&q=Edge%20${u}`,
			{ token: s.accessToken });
		assertStatus(res, 200);
		assert.deepEqual(ids(res.body.items), [yesterday.id]);
	});

	test('pages of 7 walk the whole list: no duplicates, no gaps, the same ' +
		'order as one big page', async () => {
		for (const q of [`&q=${encodeURIComponent(`Pager ${t}`)}`, '']) {
			for (const when of ['upcoming', 'past']) {
				const p = `/api/events?when=${when}${q}`;
				const big = await collectPages(gw, p, s.accessToken, 100);
				const small = await collectPages(gw, p, s.accessToken, 7);
				assert.deepEqual(ids(small.items), ids(big.items), p);
				assert.equal(new Set(ids(small.items)).size, small.items.length,
					`duplicates in ${p}`);
				assert.ok(small.pages >= Math.ceil(big.items.length / 7), p);
				if (q !== '') {
					const own = when === 'upcoming' ? upcoming : past;
					assert.deepEqual(new Set(ids(small.items)),
						new Set(ids(own)), p);
					// 23 = 7+7+7+2, 9 = 7+2
					assert.equal(small.pages, when === 'upcoming' ? 4 : 2, p);
				}
			}
		}
	});

	test('limit defaults to 20, 1 and 100 are allowed', async () => {
		let res = await gw.get('/api/events', { token: s.accessToken });
		assertStatus(res, 200);
		assertList(res.body);
		assert.equal(res.body.items.length, 20, 'over 20 upcoming exist');
		assert.notEqual(res.body.nextCursor, null);
		res = await gw.get('/api/events?limit=1', { token: s.accessToken });
		assertStatus(res, 200);
		assert.equal(res.body.items.length, 1);
		res = await gw.get('/api/events?limit=100', { token: s.accessToken });
		assertStatus(res, 200);
		assert.ok(res.body.items.length > 20);
	});

	test('q: a case-insensitive substring of the name or the location',
		async () => {
			const u = tag();
			const [byName, byLoc] = await createEvents([
				eventSpec({ name: `Boogie ${u} Nights`, location: 'Nowhere' }),
				eventSpec({ name: 'Some Swing Event', location: `Camp${u}ville` }),
			]);
			const find = async (q) => {
				const res = await gw.get(`/api/events?q=${encodeURIComponent(q)}`,
					{ token: s.accessToken });
				assertStatus(res, 200);
				return ids(res.body.items);
			};
			assert.deepEqual(await find(`bOOGIE ${u.toUpperCase()} nIGHTS`),
				[byName.id]);
			assert.deepEqual(await find(`${u} nights`), [byName.id]);
			assert.deepEqual(await find(`CAMP${u.toUpperCase()}`), [byLoc.id]);
			assert.deepEqual(await find(`${u}VILLE`), [byLoc.id]);
			assert.deepEqual(await find(u), [byName.id, byLoc.id].sort(
				(a, b) => a - b));
			assert.deepEqual(await find(`${u} no such thing`), []);
		});

	test('q: % _ and \\ match themselves, not anything', async () => {
		const u = tag();
		const [pct, , und, , bs] = await createEvents([
			eventSpec({ name: `Pct ${u} 100% Swing` }),
			eventSpec({ name: `Pct ${u} 100x Swing` }),
			eventSpec({ name: `Und ${u} a_b` }),
			eventSpec({ name: `Und ${u} axb` }),
			eventSpec({ name: `Bs ${u} back\\slash` }),
		]);
		const find = async (q) => {
			const res = await gw.get(`/api/events?q=${encodeURIComponent(q)}`,
				{ token: s.accessToken });
			assertStatus(res, 200);
			return ids(res.body.items);
		};
		assert.deepEqual(await find(`${u} 100%`), [pct.id]);
		assert.deepEqual(await find(`${u} 100% sw`), [pct.id]);
		assert.deepEqual(await find(`${u} a_b`), [und.id]);
		assert.deepEqual(await find(`${u}%`), [], 'a trailing % is literal');
		assert.deepEqual(await find(`${u}_`), [], 'a trailing _ is literal');
		assert.deepEqual(await find(`%${u}`), [], 'a leading % is literal');
		assert.deepEqual(await find(`${u} back\\slash`), [bs.id]);
		assert.deepEqual(await find(`${u} back\\`), [bs.id]);
		assert.deepEqual(await find(`${u} 100\\%`), []);
	});

	test('q up to 100 characters; longer is 422', async () => {
		let res = await gw.get(`/api/events?q=${'q'.repeat(100)}`,
			{ token: s.accessToken });
		assertStatus(res, 200);
		assert.deepEqual(res.body.items, []);
		res = await gw.get(`/api/events?q=${'q'.repeat(101)}`,
			{ token: s.accessToken });
		assertValidation(res, ['q']);
	});

	test('a bad when, limit or cursor is 422 naming it', async () => {
		for (const when of ['soon', 'UPCOMING', 'all', 'past,upcoming']) {
			assertValidation(await gw.get(`/api/events?when=${when}`,
				{ token: s.accessToken }), ['when']);
		}
		for (const limit of ['0', '101', '-1', 'abc', '1.5', '1e2', '20x',
			'99999999999999999999']) {
			assertValidation(await gw.get(`/api/events?limit=${limit}`,
				{ token: s.accessToken }), ['limit']);
		}
		// not base64url; base64url of a key that is not this list's
		for (const cursor of ['!!!', 'not a cursor', 'Zm9v',
			Buffer.from('x|y|z|w').toString('base64url'),
			Buffer.from('2027-01-01').toString('base64url'),
			Buffer.from('2027-13-45|1').toString('base64url'),
			Buffer.from('2027-01-01|abc').toString('base64url'),
			'A'.repeat(2000)]) {
			const res = await gw.get(
				`/api/events?cursor=${encodeURIComponent(cursor)}`,
				{ token: s.accessToken });
			const e = assertValidation(res, ['cursor']);
			assert.deepEqual(e.details, { cursor: 'is not valid' }, show(res));
		}
	});
});

describe('GET /api/events/:id', skip, () => {
	let s;
	let ev;
	before(async () => {
		s = await newSession(gw, { prefix: 'evone' });
		ev = await createEvent({ description: 'A weekend of West Coast Swing.' });
	});

	test('gives the event', async () => {
		const res = await gw.get(`/api/events/${ev.id}`, { token: s.accessToken });
		assertStatus(res, 200);
		assertEvent(res.body, {
			id: ev.id, worldsdcId: ev.worldsdcId, name: ev.name,
			location: ev.location, startDate: ev.startDate, endDate: ev.endDate,
			description: ev.description, participantCount: 0, joined: false,
		});
	});

	test('404 not_found for an unknown or malformed id, on every route',
		async () => {
			for (const id of ['2147483000', '9223372036854775807',
				'99999999999999999999999', 'abc', '0', '-1', '1.5', '1e3',
				'%20', `${ev.id}abc`]) {
				assertError(await gw.get(`/api/events/${id}`,
					{ token: s.accessToken }), 404, 'not_found');
				assertError(await gw.post(`/api/events/${id}/join`,
					{ token: s.accessToken }), 404, 'not_found');
				assertError(await gw.delete(`/api/events/${id}/join`,
					{ token: s.accessToken }), 404, 'not_found');
				assertError(await gw.get(`/api/events/${id}/participants`,
					{ token: s.accessToken }), 404, 'not_found');
			}
		});
});

describe('join and leave', skip, () => {
	test('join and leave are idempotent; participantCount and joined follow',
		async () => {
			const ev = await createEvent();
			const [a, b] = await newSessions(gw, 2, 'evjoin');
			const join = (u) => gw.post(`/api/events/${ev.id}/join`,
				{ token: u.accessToken });
			const leave = (u) => gw.delete(`/api/events/${ev.id}/join`,
				{ token: u.accessToken });
			const get = async (u) => {
				const res = await gw.get(`/api/events/${ev.id}`,
					{ token: u.accessToken });
				assertStatus(res, 200);
				return res.body;
			};

			let res = await join(a);
			assertStatus(res, 200);
			assert.deepEqual(Object.keys(res.body), ['event'], show(res));
			assertEvent(res.body.event, { id: ev.id, joined: true,
				participantCount: 1 });
			res = await join(a);
			assertStatus(res, 200);
			assertEvent(res.body.event, { joined: true, participantCount: 1 });
			assertEvent(await get(a), { joined: true, participantCount: 1 });
			assertEvent(await get(b), { joined: false, participantCount: 1 });

			res = await join(b);
			assertEvent(res.body.event, { joined: true, participantCount: 2 });

			res = await leave(a);
			assertStatus(res, 200);
			assert.deepEqual(Object.keys(res.body), ['event'], show(res));
			assertEvent(res.body.event, { joined: false, participantCount: 1 });
			res = await leave(a);
			assertStatus(res, 200);
			assertEvent(res.body.event, { joined: false, participantCount: 1 });
			assertEvent(await get(a), { joined: false, participantCount: 1 });
			assertEvent(await get(b), { joined: true, participantCount: 1 });

			// the list shows `joined` for the caller too
			const list = await gw.get(
				`/api/events?q=${encodeURIComponent(ev.name)}`,
				{ token: b.accessToken });
			assertStatus(list, 200);
			assert.equal(list.body.items.length, 1);
			assertEvent(list.body.items[0], { id: ev.id, joined: true });
			res = await leave(b);
			assertEvent(res.body.event, { joined: false, participantCount: 0 });
		});

	test('30 users joining at once count 30; leaving at once counts 0',
		async () => {
			const ev = await createEvent();
			const users = await newSessions(gw, 30, 'evrush');
			let all = await Promise.all(users.map((u) =>
				gw.post(`/api/events/${ev.id}/join`, { token: u.accessToken })));
			for (const res of all) {
				assertStatus(res, 200);
				assert.equal(res.body.event.joined, true);
			}
			const counts = all.map((r) => r.body.event.participantCount)
				.sort((x, y) => x - y);
			assert.equal(counts[29], 30, `counts ${counts}`);
			let res = await gw.get(`/api/events/${ev.id}`,
				{ token: users[0].accessToken });
			assertEvent(res.body, { participantCount: 30 });
			assert.equal(await sql('SELECT count(*) FROM events.participants ' +
				`WHERE event_id = ${ev.id}`), '30');

			all = await Promise.all(users.map((u) =>
				gw.delete(`/api/events/${ev.id}/join`, { token: u.accessToken })));
			for (const r of all) {
				assertStatus(r, 200);
				assert.equal(r.body.event.joined, false);
			}
			res = await gw.get(`/api/events/${ev.id}`,
				{ token: users[0].accessToken });
			assertEvent(res.body, { participantCount: 0 });
			assert.equal(await sql('SELECT participant_count FROM events.events ' +
				`WHERE id = ${ev.id}`), '0');
		});

	test('one user joining 10 times at once counts once', async () => {
		const ev = await createEvent();
		const u = await newSession(gw, { prefix: 'evtwice' });
		const all = await Promise.all(Array.from({ length: 10 }, () =>
			gw.post(`/api/events/${ev.id}/join`, { token: u.accessToken })));
		// every answer, the no-op ones racing the one that changed the
		// row included, shows the count after the change
		for (const res of all) {
			assertStatus(res, 200);
			assert.equal(res.body.event.participantCount, 1, 'a join racing ' +
				`the first one answered a stale count: ${show(res)}`);
			assertEvent(res.body.event, { joined: true, participantCount: 1 });
		}
		const left = await Promise.all(Array.from({ length: 10 }, () =>
			gw.delete(`/api/events/${ev.id}/join`, { token: u.accessToken })));
		for (const res of left) {
			assertStatus(res, 200);
			assert.equal(res.body.event.participantCount, 0, 'a leave racing ' +
				`the one that removed the row answered a stale count: ${show(res)}`);
			assertEvent(res.body.event, { joined: false, participantCount: 0 });
		}
	});
});

describe('GET /api/events/:id/participants', skip, () => {
	test('public profiles in join order, paginated, no email', async () => {
		const ev = await createEvent();
		const users = await newSessions(gw, 5, 'evpart');
		for (const u of users) {
			assertStatus(await gw.post(`/api/events/${ev.id}/join`,
				{ token: u.accessToken }), 200);
		}
		const p = `/api/events/${ev.id}/participants`;
		const big = await collectPages(gw, p, users[0].accessToken, 100);
		assert.deepEqual(big.items.map((x) => x.user.id),
			users.map((u) => u.user.id));
		for (const [i, item] of big.items.entries()) {
			assert.deepEqual(Object.keys(item).sort(), ['joinedAt', 'user'],
				JSON.stringify(item));
			assertPublicUser(item.user, { id: users[i].user.id,
				username: users[i].username });
			assert.match(item.joinedAt, ISO_UTC);
			assert.ok(!JSON.stringify(item).includes(users[i].email), 'email');
			if (i > 0) {
				assert.ok(item.joinedAt >= big.items[i - 1].joinedAt);
			}
		}
		const small = await collectPages(gw, p, users[0].accessToken, 2);
		assert.equal(small.pages, 3);
		assert.deepEqual(small.items.map((x) => x.user.id),
			users.map((u) => u.user.id));

		// someone who left is no longer listed; a stranger may read it
		assertStatus(await gw.delete(`/api/events/${ev.id}/join`,
			{ token: users[2].accessToken }), 200);
		const stranger = await newSession(gw, { prefix: 'evstr' });
		const res = await gw.get(p, { token: stranger.accessToken });
		assertStatus(res, 200);
		assert.deepEqual(res.body.items.map((x) => x.user.id),
			users.filter((_, i) => i !== 2).map((u) => u.user.id));
	});

	test('an event nobody joined has an empty list; bad limit and cursor ' +
		'are 422', async () => {
		const ev = await createEvent();
		const u = await newSession(gw, { prefix: 'evpempty' });
		const p = `/api/events/${ev.id}/participants`;
		const res = await gw.get(p, { token: u.accessToken });
		assertStatus(res, 200);
		assert.deepEqual(res.body, { items: [], nextCursor: null });
		for (const limit of ['0', '101', 'x']) {
			assertValidation(await gw.get(`${p}?limit=${limit}`,
				{ token: u.accessToken }), ['limit']);
		}
		const e = assertValidation(await gw.get(`${p}?cursor=%21%21`,
			{ token: u.accessToken }), ['cursor']);
		assert.deepEqual(e.details, { cursor: 'is not valid' });
	});
});

describe('events on the bus', skip, () => {
	let sub;
	before(async () => {
		sub = await Subscriber.open('events', 'event.');
	});
	after(async () => {
		await sub?.stop();
	});

	test('event.joined and event.left, only when something changed',
		async () => {
			const ev = await createEvent();
			const u = await newSession(gw, { prefix: 'evbus' });
			const of = (topic) => (e) => e.topic === topic &&
				e.data?.eventId === ev.id && e.data?.userId === u.user.id;

			assertStatus(await gw.post(`/api/events/${ev.id}/join`,
				{ token: u.accessToken }), 200);
			const joined = await sub.expect(of('event.joined'), 'event.joined');
			assert.deepEqual(joined.data, { eventId: ev.id, userId: u.user.id,
				participantCount: 1 });
			assert.equal(typeof joined.requestId, 'string');
			// a repeated join publishes nothing: the next event seen is
			// the leave (one publisher keeps its order)
			assertStatus(await gw.post(`/api/events/${ev.id}/join`,
				{ token: u.accessToken }), 200);
			assertStatus(await gw.delete(`/api/events/${ev.id}/join`,
				{ token: u.accessToken }), 200);
			const left = await sub.expect(of('event.left'), 'event.left');
			assert.deepEqual(left.data, { eventId: ev.id, userId: u.user.id,
				participantCount: 0 });
			assertStatus(await gw.delete(`/api/events/${ev.id}/join`,
				{ token: u.accessToken }), 200);
			// a marker: another user's join, after the repeated leave
			const m = await newSession(gw, { prefix: 'evbusm' });
			assertStatus(await gw.post(`/api/events/${ev.id}/join`,
				{ token: m.accessToken }), 200);
			await sub.expect((e) => e.topic === 'event.joined' &&
				e.data?.userId === m.user.id, 'marker event.joined');
			assert.equal(sub.matching(of('event.joined')).length, 1,
				'one event.joined');
			assert.equal(sub.matching(of('event.left')).length, 1,
				'one event.left');
		});
});

describe('events bus requests', skip, () => {
	let ev;
	let a;
	let b;
	let c;
	before(async () => {
		ev = await createEvent({ description: 'bus' });
		[a, b, c] = await newSessions(gw, 3, 'evrpc');
		for (const u of [a, b]) {
			assertStatus(await gw.post(`/api/events/${ev.id}/join`,
				{ token: u.accessToken }), 200);
		}
	});

	test('events.participants.check answers the subset that joined',
		async () => {
			const r = await busCall('events.participants.check', {
				eventId: ev.id,
				userIds: [c.user.id, b.user.id, 2147483000, a.user.id],
			});
			const data = assertOkReply(r);
			assert.deepEqual(Object.keys(data).sort(), ['eventId', 'participants']);
			assert.equal(data.eventId, ev.id);
			assert.deepEqual([...data.participants].sort((x, y) => x - y),
				[a.user.id, b.user.id].sort((x, y) => x - y));
			const none = assertOkReply(await busCall('events.participants.check',
				{ eventId: ev.id, userIds: [c.user.id] }));
			assert.deepEqual(none.participants, []);
			const hundred = Array.from({ length: 99 }, (_, i) => 2147400000 + i);
			const many = assertOkReply(await busCall('events.participants.check',
				{ eventId: ev.id, userIds: [a.user.id, ...hundred] }));
			assert.deepEqual(many.participants, [a.user.id]);
		});

	test('events.participants.check: unknown event is not_found, bad data ' +
		'an error reply', async () => {
		assertErrorReply(await busCall('events.participants.check',
			{ eventId: 2147483000, userIds: [a.user.id] }), 'not_found');
		const bad = ['bad_request', 'validation_failed'];
		for (const data of [{}, { eventId: 'x', userIds: [1] },
			{ eventId: ev.id }, { eventId: ev.id, userIds: 'x' },
			{ eventId: ev.id, userIds: ['1'] }, { eventId: ev.id, userIds: [1.5] },
			{ eventId: ev.id, userIds: Array.from({ length: 101 }, (_, i) => i + 1) },
		]) {
			assertErrorReply(await busCall('events.participants.check', data), bad);
		}
	});

	test('events.events.get answers the event without `joined`', async () => {
		const data = assertOkReply(await busCall('events.events.get',
			{ eventId: ev.id }));
		assert.deepEqual(Object.keys(data), ['event']);
		assertEvent(data.event, { id: ev.id, worldsdcId: ev.worldsdcId,
			name: ev.name, description: 'bus', participantCount: 2 },
		{ joined: false });
		assertErrorReply(await busCall('events.events.get',
			{ eventId: 2147483000 }), 'not_found');
		for (const d of [{}, { eventId: 'x' }, { eventId: null }]) {
			assertErrorReply(await busCall('events.events.get', d),
				['bad_request', 'validation_failed']);
		}
	});
});

/* ---- import --------------------------------------------------------------- */

const HEADER = 'worldsdcId,name,location,startDate,endDate,description';

describe('events import', skip, () => {
	let dir;
	before(async () => {
		dir = await tempDir();
	});
	after(async () => {
		await fs.rm(dir, { recursive: true, force: true });
	});

	const write = async (name, text) => {
		const f = path.join(dir, name);
		await fs.writeFile(f, text);
		return f;
	};

	/* Import `file`: exit 1, every expected problem reported on a line
	 * naming the file with its line (or JSON entry) and the field, and the
	 * events table unchanged. problems: [{line, entry, field}] (field a
	 * string or a list of acceptable names). */
	const rejects = async (file, problems, extraArgs = []) => {
		const before0 = await tableDigest('events.events');
		const r = await eventsImport([...extraArgs, file]);
		const out = `${r.stdout}${r.stderr}`;
		const why = `events import ${path.basename(file)}: exit ${r.code}:\n${out}`;
		assert.equal(r.code, 1, why);
		assert.ok(out.includes(file), `the file is named: ${why}`);
		const lines = out.split('\n');
		for (const p of problems) {
			const at = [];
			if (p.line !== undefined) {
				at.push(`${file}:${p.line}:`);
			}
			if (p.entry !== undefined) {
				at.push(`${file}: entry ${p.entry}`);
			}
			const fields = p.field === undefined ? [] :
				Array.isArray(p.field) ? p.field : [p.field];
			const hit = lines.find((l) => at.some((x) => l.includes(x)) &&
				(fields.length === 0 || fields.some((f) => l.includes(f))));
			assert.ok(hit, `expected a problem at ${at.join(' or ')}` +
				`${fields.length ? ` naming ${fields.join('|')}` : ''}: ${why}`);
		}
		assert.equal(await tableDigest('events.events'), before0,
			`the events table changed: ${why}`);
		return out;
	};

	/* A JSON array with one entry per line: entry k (1-based) starts on
	 * line k + 1. */
	const jsonLines = (entries) =>
		`[\n${entries.map((e) => typeof e === 'string' ? e :
			JSON.stringify(e)).join(',\n')}\n]\n`;

	/* One CSV record, quoted as RFC 4180 asks where needed. */
	const csvField = (v) => (/[",\r\n]/.test(v) ?
		`"${v.replace(/"/g, '""')}"` : v);
	const csvRow = (e) => [e.worldsdcId, e.name, e.location, e.startDate,
		e.endDate, e.description ?? ''].map(csvField).join(',');

	test('a CSV with an unknown column is refused', async () => {
		const e = eventSpec();
		const f = await write('unknown-col.csv',
			`worldsdcId,title,location,startDate,endDate\n` +
			`${e.worldsdcId},${e.name},${e.location},${e.startDate},${e.endDate}\n`);
		await rejects(f, [{ line: 1, field: 'title' }]);
	});

	test('a CSV without a required column is refused', async () => {
		const e = eventSpec();
		const f = await write('missing-col.csv',
			`worldsdcId,name,startDate,endDate\n` +
			`${e.worldsdcId},${e.name},${e.startDate},${e.endDate}\n`);
		await rejects(f, [{ line: 1, field: 'location' }]);
	});

	test('bad dates are refused with their line and field, good rows ' +
		'before them not written', async () => {
		const rows = [
			eventSpec(), // line 2: fine, and new: must not be written
			eventSpec({ startDate: '2027-02-30', endDate: '2027-03-02' }),
			eventSpec({ endDate: '2027/07/01' }),
			eventSpec({ startDate: '' }),
			eventSpec({ startDate: '27-01-01', endDate: '2027-01-03' }),
			eventSpec({ startDate: '2027-1-5', endDate: '2027-01-07' }),
			eventSpec({ endDate: '2027-06-13T00:00:00Z' }),
		];
		const f = await write('bad-dates.csv',
			`${HEADER}\n${rows.map(csvRow).join('\n')}\n`);
		await rejects(f, [
			{ line: 3, field: 'startDate' }, { line: 4, field: 'endDate' },
			{ line: 5, field: 'startDate' }, { line: 6, field: 'startDate' },
			{ line: 7, field: 'startDate' }, { line: 8, field: 'endDate' },
		]);
	});

	test('endDate before startDate is refused', async () => {
		const f = await write('reversed.json', jsonLines([eventSpec(),
			eventSpec({ startDate: '2027-05-10', endDate: '2027-05-09' })]));
		await rejects(f, [{ line: 3, entry: 2, field: ['endDate', 'startDate'] }]);
	});

	test('a worldsdcId twice in one file is refused', async () => {
		const a = eventSpec();
		const f = await write('dup.json', jsonLines([a, eventSpec(),
			{ ...eventSpec(), worldsdcId: a.worldsdcId }]));
		await rejects(f, [{ line: 4, entry: 3, field: 'worldsdcId' }]);
	});

	test('bad JSON entries: each problem with its line and field',
		async () => {
			const long = eventSpec({ name: 'n'.repeat(201) });
			const noName = eventSpec();
			delete noName.name;
			const f = await write('bad-entries.json', jsonLines([
				eventSpec(), // entry 1, fine
				noName, // 2
				{ ...eventSpec(), title: 'x' }, // 3: unknown field
				{ ...eventSpec(), startDate: 20270610 }, // 4
				eventSpec({ worldsdcId: 'has space' }), // 5
				long, // 6
				eventSpec({ description: 'd'.repeat(5001) }), // 7
				eventSpec({ worldsdcId: 'w'.repeat(65) }), // 8
				eventSpec({ location: '' }), // 9
			]));
			await rejects(f, [
				{ line: 3, entry: 2, field: 'name' },
				{ line: 4, entry: 3, field: 'title' },
				{ line: 5, entry: 4, field: 'startDate' },
				{ line: 6, entry: 5, field: 'worldsdcId' },
				{ line: 7, entry: 6, field: 'name' },
				{ line: 8, entry: 7, field: 'description' },
				{ line: 9, entry: 8, field: 'worldsdcId' },
				{ line: 10, entry: 9, field: 'location' },
			]);
		});

	test('malformed JSON and a JSON that is not an array are refused',
		async () => {
			const e = eventSpec();
			await rejects(await write('truncated.json',
				`[\n${JSON.stringify(e)},\n{"worldsdcId": "x",\n`), []);
			await rejects(await write('trailing-comma.json',
				`[\n${JSON.stringify(e)},\n]\n`), []);
			await rejects(await write('object.json', JSON.stringify(e)), []);
			await rejects(await write('array-of-strings.json', '["a"]\n'),
				[{ line: 1, entry: 1 }]);
		});

	test('a CSV with a badly quoted field is refused', async () => {
		const a = eventSpec();
		const b = eventSpec();
		await rejects(await write('bad-quote.csv', `${HEADER}\n` +
			`${csvRow(a)}\n` +
			`${b.worldsdcId},"Bad "quoted" name",Paris,2027-01-01,2027-01-02,\n`),
		[{ line: 3 }]);
		await rejects(await write('open-quote.csv', `${HEADER}\n` +
			`${csvRow(a)}\n` +
			`${b.worldsdcId},"never closed,Paris,2027-01-01,2027-01-02,\n`),
		[{ line: 3 }]);
		await rejects(await write('short-row.csv', `${HEADER}\n` +
			`${csvRow(a)}\n${b.worldsdcId},Name,Paris,2027-01-01\n`),
		[{ line: 3 }]);
	});

	test('CSV line numbers count the lines of a quoted field with a newline',
		async () => {
			const a = eventSpec({ description: 'first line\nsecond line' });
			const b = eventSpec({ startDate: 'never' });
			await rejects(await write('multiline.csv',
				`${HEADER}\n${csvRow(a)}\n${csvRow(b)}\n`),
			[{ line: 4, field: 'startDate' }]);
		});

	test('a file that does not exist or has an unknown extension is refused',
		async () => {
			const before0 = await tableDigest('events.events');
			let r = await eventsImport([path.join(dir, 'nope.json')]);
			assert.notEqual(r.code, 0, `${r.stdout}${r.stderr}`);
			const f = await write('events.txt', jsonLines([eventSpec()]));
			r = await eventsImport([f]);
			assert.notEqual(r.code, 0, `${r.stdout}${r.stderr}`);
			assert.equal(await tableDigest('events.events'), before0);
		});

	test('a good CSV imports (RFC 4180 quoting, CRLF); a re-import ' +
		'updates in place', async () => {
		const u = tag();
		const x1 = eventSpec({ name: `Swing, "Quoted" ${u}`,
			location: 'Paris, France', startDate: `${Y}-03-01`,
			endDate: `${Y}-03-03`, description: 'Line one\nline two' });
		const x2 = eventSpec({ name: `Plain ${u}`, location: 'Berlin',
			startDate: `${Y}-04-01`, endDate: `${Y}-04-01`,
			description: 'Café — 5€' });
		const q = (v) => `"${v.replace(/"/g, '""')}"`;
		const row = (e) => [e.worldsdcId, q(e.name), q(e.location), e.startDate,
			e.endDate, q(e.description)].join(',');
		const f1 = await write(`good-${u}.csv`,
			`${HEADER}\r\n${row(x1)}\r\n${row(x2)}\r\n`);
		let r = await eventsImport([f1]);
		assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
		assert.match(`${r.stdout}${r.stderr}`,
			/imported 2 events \(2 new, 0 updated\)/);
		const s = await newSession(gw, { prefix: 'evimp' });
		let res = await gw.get(`/api/events?q=${encodeURIComponent(u)}`,
			{ token: s.accessToken });
		assertStatus(res, 200);
		assert.equal(res.body.items.length, 2);
		const [e1, e2] = res.body.items;
		assertEvent(e1, { worldsdcId: x1.worldsdcId, name: x1.name,
			location: x1.location, startDate: x1.startDate, endDate: x1.endDate,
			description: x1.description, participantCount: 0 });
		assertEvent(e2, { worldsdcId: x2.worldsdcId, name: x2.name,
			description: x2.description });

		// someone joins; the re-import must not touch the count
		assertStatus(await gw.post(`/api/events/${e1.id}/join`,
			{ token: s.accessToken }), 200);
		const x3 = eventSpec({ name: `Third ${u}`, startDate: `${Y}-05-01`,
			endDate: `${Y}-05-02`, description: 'new' });
		const renamed = [{ ...x1, name: `Renamed One ${u}` },
			{ ...x2, name: `Renamed Two ${u}`, location: 'Hamburg',
				endDate: `${Y}-04-02` }, x3];
		const f2 = await write(`again-${u}.csv`,
			`${HEADER}\n${renamed.map(row).join('\n')}\n`);
		r = await eventsImport([f2]);
		assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
		assert.match(`${r.stdout}${r.stderr}`,
			/imported 3 events \(1 new, 2 updated\)/);
		res = await gw.get(`/api/events?q=${encodeURIComponent(u)}`,
			{ token: s.accessToken });
		assert.equal(res.body.items.length, 3);
		const [n1, n2, n3] = res.body.items;
		assertEvent(n1, { id: e1.id, name: `Renamed One ${u}`,
			participantCount: 1, joined: true });
		assertEvent(n2, { id: e2.id, name: `Renamed Two ${u}`,
			location: 'Hamburg', endDate: `${Y}-04-02` });
		assertEvent(n3, { worldsdcId: x3.worldsdcId, name: x3.name });
		assert.equal(await sql('SELECT count(*) FROM events.events WHERE ' +
			`worldsdc_id IN (${[x1, x2, x3].map((e) => lit(e.worldsdcId))
				.join(', ')})`), '3');
	});

	test('JSON and CSV files in one run, and --format for another name',
		async () => {
			const u = tag();
			const a = eventSpec({ name: `Multi A ${u}`, description: 'json' });
			const b = eventSpec({ name: `Multi B ${u}` });
			const c = eventSpec({ name: `Multi C ${u}` });
			const fa = await write(`multi-${u}.json`, JSON.stringify([a]));
			const fb = await write(`multi-${u}.csv`, `${HEADER}\n${csvRow(b)}\n`);
			let r = await eventsImport([fa, fb]);
			assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
			const fc = await write(`multi-${u}.data`, JSON.stringify([c]));
			r = await eventsImport(['--format', 'json', fc]);
			assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
			assert.equal(await sql('SELECT count(*) FROM events.events WHERE ' +
				`name LIKE ${lit(`Multi _ ${u}`)}`), '3');
			// the same text read as CSV is refused
			await rejects(fc, [], ['--format', 'csv']);
		});
});
