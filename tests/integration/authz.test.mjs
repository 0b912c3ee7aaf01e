// authz.test.mjs: who may call what, over every endpoint of events,
// matchmaking and ratings: no token or a bad one is 401 (through the gateway
// and straight at each daemon), the owner succeeds, and someone else's
// match is a 404 that cannot be told apart from a match that does not
// exist.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, test } from 'node:test';

import {
	Client, assertError, assertStatus, decodeJwt, eventWithUsers, gatewayUrl,
	matchIn, needs, newSessions, requestMatch, serviceUrl, show, signES256,
	suiteKeys,
} from './lib.mjs';

const gw = new Client(gatewayUrl());
const NOPE = 2147483000; // an id nothing has

/* Every endpoint of the three daemons: [service, method, path, body,
 * owner's success status], from a context of real ids, in an order the
 * owner can call them in. */
function endpoints(x) {
	return [
		['events', 'GET', '/api/events', undefined, 200],
		['events', 'GET', `/api/events/${x.ev.id}`, undefined, 200],
		['events', 'POST', `/api/events/${x.ev.id}/join`, undefined, 200],
		['events', 'GET', `/api/events/${x.ev.id}/participants`, undefined, 200],
		['matchmaking', 'GET', '/api/matches', undefined, 200],
		['matchmaking', 'POST', '/api/matches',
			{ targetUserId: x.fresh.user.id, eventId: x.ev.id }, 201],
		['matchmaking', 'GET', `/api/matches/${x.pending.id}`, undefined, 200],
		['matchmaking', 'PATCH', `/api/matches/${x.pending.id}`,
			{ status: 'cancelled' }, 200],
		['ratings', 'POST', '/api/ratings',
			{ matchId: x.accepted.id, score: 4, wouldCollaborateAgain: true }, 201],
		['ratings', 'GET', `/api/ratings/user/${x.partner.user.id}`, undefined,
			200],
		['ratings', 'GET', `/api/ratings/stats/${x.partner.user.id}`, undefined,
			200],
		['ratings', 'POST', '/api/reports',
			{ reportedUserId: x.partner.user.id, reason: 'other' }, 201],
		// last: the owner's other calls need them to be a participant
		['events', 'DELETE', `/api/events/${x.ev.id}/join`, undefined, 200],
	];
}

const call = (client, [, method, path, body], opts = {}) =>
	client.req(method, path, body === undefined ? opts : { ...opts, json: body });

describe('authorization', needs('events', 'matchmaking', 'ratings'), () => {
	let x; // the context: owner, partner, fresh, stranger, ev, matches
	let bad; // name -> Authorization header value (or undefined: none)
	before(async () => {
		const { ev, users: [owner, partner, fresh, other] } =
			await eventWithUsers(gw, 4, 'authz');
		const [stranger] = await newSessions(gw, 1, 'authzs');
		// owner is the target of `pending` (may cancel it) and a member
		// of `accepted` (may rate it)
		const pending = await requestMatch(gw, partner, owner, ev);
		const accepted = await matchIn(gw, 'accepted', owner, other, ev);
		x = { ev, owner, partner, fresh, other, stranger, pending, accepted };

		const keys = await suiteKeys();
		const claims = decodeJwt(owner.accessToken).payload;
		const now = Math.floor(Date.now() / 1000);
		const { privateKey } = crypto.generateKeyPairSync('ec',
			{ namedCurve: 'P-256' });
		const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
		bad = {
			'no token': undefined,
			'a garbage token': 'Bearer garbage',
			'an empty bearer': 'Bearer ',
			'another scheme': `Basic ${owner.accessToken}`,
			'an expired token': `Bearer ${signES256({ ...claims,
				iat: now - 1000, exp: now - 60 }, keys.priv)}`,
			'a token of another key': `Bearer ${signES256(claims, privateKey)}`,
			'alg none': `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
		};
	});

	test('no token or a bad one: 401 unauthorized on every endpoint, ' +
		'through the gateway and at the daemon, and nothing happens',
	async () => {
		const before0 = {
			count: (await gw.get(`/api/events/${x.ev.id}`,
				{ token: x.owner.accessToken })).body.participantCount,
		};
		for (const e of endpoints(x)) {
			const direct = new Client(serviceUrl(e[0]));
			for (const [what, auth] of Object.entries(bad)) {
				const headers = auth === undefined ? {} : { authorization: auth };
				for (const [where, client] of [['gateway', gw], ['daemon', direct]]) {
					const res = await call(client, e, { headers });
					assert.equal(res.status, 401,
						`${e[1]} ${e[2]} with ${what} via the ${where}: ${show(res)}`);
					assertError(res, 401, 'unauthorized');
					assert.match(res.headers.get('www-authenticate') ?? '',
						/^Bearer\b/i, `${e[1]} ${e[2]}: WWW-Authenticate`);
				}
			}
		}
		// nothing was joined, asked, changed, rated or reported
		let res = await gw.get(`/api/events/${x.ev.id}`,
			{ token: x.owner.accessToken });
		assert.equal(res.body.participantCount, before0.count);
		res = await gw.get(`/api/matches/${x.pending.id}`,
			{ token: x.owner.accessToken });
		assert.equal(res.body.match.status, 'pending');
		res = await gw.get('/api/matches', { token: x.fresh.accessToken });
		assert.deepEqual(res.body.items, []);
		res = await gw.get(`/api/ratings/user/${x.other.user.id}`,
			{ token: x.owner.accessToken });
		assert.deepEqual(res.body.items, []);
	});

	test('someone else\'s match is 404 exactly like a match that does not ' +
		'exist', async () => {
		const same = async (what, real, fake, secretIds) => {
			assert.equal(real.status, 404, `${what}: ${show(real)}`);
			const e1 = assertError(real, 404, 'not_found');
			assertError(fake, 404, 'not_found');
			const e2 = fake.body.error;
			assert.deepEqual(e1.details, e2.details, `${what}: details differ`);
			for (const s of secretIds) {
				assert.ok(!real.text.includes(s), `${what} leaks ${s}: ${show(real)}`);
			}
		};
		const m = x.pending;
		const secrets = [x.partner.username, x.owner.username,
			String(x.owner.user.id), String(x.partner.user.id)];
		const tok = { token: x.stranger.accessToken };
		await same(`GET /api/matches/${m.id}`,
			await gw.get(`/api/matches/${m.id}`, tok),
			await gw.get(`/api/matches/${NOPE}`, tok), secrets);
		for (const status of ['accepted', 'rejected', 'cancelled', 'completed',
			'pending']) {
			await same(`PATCH ${status}`,
				await gw.patch(`/api/matches/${m.id}`, { json: { status }, ...tok }),
				await gw.patch(`/api/matches/${NOPE}`, { json: { status }, ...tok }),
				secrets);
		}
		// a body that is bad anyway gets the same answer for both ids too
		const r1 = await gw.patch(`/api/matches/${m.id}`,
			{ json: { status: 'bogus' }, ...tok });
		const r2 = await gw.patch(`/api/matches/${NOPE}`,
			{ json: { status: 'bogus' }, ...tok });
		assert.equal(r1.status, r2.status, `${show(r1)} vs ${show(r2)}`);
		assert.equal(r1.body?.error?.code, r2.body?.error?.code);
		// rating it, too
		const body = { score: 5, wouldCollaborateAgain: true };
		await same('POST /api/ratings',
			await gw.post('/api/ratings',
				{ json: { ...body, matchId: x.accepted.id }, ...tok }),
			await gw.post('/api/ratings', { json: { ...body, matchId: NOPE }, ...tok }),
			[x.other.username, String(x.other.user.id)]);
		// the match is untouched
		const res = await gw.get(`/api/matches/${m.id}`,
			{ token: x.partner.accessToken });
		assert.equal(res.body.match.status, 'pending');
		// and it is absent from the stranger's list
		const list = await gw.get('/api/matches', tok);
		assertStatus(list, 200);
		assert.deepEqual(list.body.items, []);
	});

	test('a member of another match at the same event cannot see this one',
		async () => {
			// x.other is in `accepted` with the owner, not in `pending`
			const res = await gw.get(`/api/matches/${x.pending.id}`,
				{ token: x.other.accessToken });
			assertError(res, 404, 'not_found');
			assertError(await gw.patch(`/api/matches/${x.pending.id}`,
				{ json: { status: 'cancelled' }, token: x.other.accessToken }),
			404, 'not_found');
		});

	test('the owner succeeds on every endpoint', async () => {
		for (const e of endpoints(x)) {
			const res = await call(gw, e, { token: x.owner.accessToken });
			assertStatus(res, e[4]);
		}
	});
});
