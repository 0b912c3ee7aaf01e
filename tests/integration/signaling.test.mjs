// signaling.test.mjs: the Socket.IO endpoint with the official
// socket.io-client (through the gateway, and directly when the suite names
// the listener): connecting with good and bad tokens over each transport,
// event rooms with chat, history and presence, private rooms and the WebRTC
// relay for the members of an accepted match only, match requests live,
// acks and refusals, rate limits, a restart with the client reconnecting by
// itself, and raw WebSocket abuse (npm ws) that must not hurt anyone else.
// Users, events and matches are made through the other daemons' APIs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { after, describe, test } from 'node:test';

import {
	assertError, assertMatch, assertStatus, Client, collectPages, env,
	eventWithUsers, gatewayUrl, matchIn, needs, newSession, requestMatch,
	signES256, sleep, sql, suiteKeys,
} from './lib.mjs';
import {
	assertAckError, assertMessage, call, callErr, callOk, closeAll,
	closeCode, connect, connectError, frame, joinRoom, rawSocket, restarter,
	sioRoutes, sioUrl,
} from './signaling-lib.mjs';

const skip = needs('signaling');
if (skip.skip) {
	console.log(`# signaling tests skipped: ${skip.skip}`);
}
const live = !skip.skip;
const gw = live ? new Client(gatewayUrl()) : null;
const routes = live ? sioRoutes() : [];

after(closeAll);

const PERSON_KEYS = ['avatarUrl', 'displayName', 'id', 'username'];

/* An own event with n users who joined it, each with a connected socket. */
async function room(n, prefix) {
	const { ev, users } = await eventWithUsers(gw, n, prefix);
	const sockets = await Promise.all(users.map((u) =>
		connect(u.accessToken)));
	return { ev, users, sockets };
}

const join = (s, ev) => joinRoom(s, ev.id);

/* ---- connecting ---------------------------------------------------------- */

describe('connecting', skip, () => {
	for (const r of routes) {
		test(`a good token connects over WebSocket only (${r.name})`,
			async () => {
				const u = await newSession(gw, { prefix: 'sgws' });
				const s = await connect(u.accessToken, { url: r.url });
				assert.equal(s.connected, true);
				assert.equal(s.io.engine.transport.name, 'websocket');
				assert.equal(typeof s.id, 'string');
				// the connection is usable: an event answered
				await callOk(s, 'leave_event_room', { eventId: 1 });
				s.close();
			});

		test(`polling upgrades to WebSocket (${r.name})`, async () => {
			const u = await newSession(gw, { prefix: 'sgpoll' });
			const s = await connect(u.accessToken, {
				url: r.url, transports: ['polling', 'websocket'] });
			// events flow during and after the upgrade
			const first = callOk(s, 'leave_event_room', { eventId: 2 });
			if (s.io.engine.transport.name !== 'websocket') {
				await new Promise((resolve, reject) => {
					s.io.engine.once('upgrade', resolve);
					setTimeout(() => reject(new Error('no upgrade')), 5000);
				});
			}
			assert.equal(s.io.engine.transport.name, 'websocket');
			await first;
			await callOk(s, 'leave_event_room', { eventId: 3 });
			s.close();
		});

		test(`polling alone works (${r.name})`, async () => {
			const u = await newSession(gw, { prefix: 'sgpo' });
			const s = await connect(u.accessToken, {
				url: r.url, transports: ['polling'] });
			assert.equal(s.io.engine.transport.name, 'polling');
			for (let i = 0; i < 3; i++) {
				await callOk(s, 'leave_event_room', { eventId: 4 + i });
			}
			s.close();
		});

		test(`bad, missing and expired tokens get connect_error (${r.name})`,
			async () => {
				const u = await newSession(gw, { prefix: 'sgbad' });
				const { priv } = await suiteKeys();
				const now = Math.floor(Date.now() / 1000);
				const claims = { iss: 'spotlight.cam', aud: 'spotlight.cam',
					sub: String(u.user.id), username: u.username,
					jti: crypto.randomUUID() };
				const expired = signES256({ ...claims, iat: now - 1000,
					exp: now - 10 }, priv);
				const other = crypto.generateKeyPairSync('ec',
					{ namedCurve: 'P-256' }).privateKey;
				const forged = signES256({ ...claims, iat: now,
					exp: now + 600 }, other);
				const tampered = u.accessToken.slice(0, -4) +
					(u.accessToken.endsWith('AAAA') ? 'BBBB' : 'AAAA');
				for (const [what, token] of [['garbage', 'not-a-jwt'],
					['missing', undefined], ['expired', expired],
					['signed by another key', forged],
					['tampered', tampered], ['empty', '']]) {
					const e = await connectError(token, { url: r.url });
					assert.equal(e.message, 'invalid or expired token', what);
				}
				// a token that is not a string
				const e = await connectError(undefined, { url: r.url,
					io: { auth: { token: 42 } } });
				assert.equal(e.message, 'invalid or expired token');
				// the same user's good token still works
				const s = await connect(u.accessToken, { url: r.url });
				s.close();
			});
	}

	test('Engine.IO refuses bad handshakes with the protocol\'s errors',
		async () => {
			const base = `${sioUrl()}/socket.io/`;
			const cases = [
				['?EIO=3&transport=polling', 5],
				['?EIO=4&transport=carrier-pigeon', 0],
				['?EIO=4&transport=polling&sid=nope', 1],
			];
			for (const [q, code] of cases) {
				const res = await fetch(base + q);
				assert.equal(res.status, 400, q);
				assert.equal((await res.json()).code, code, q);
			}
			const ok = await fetch(`${base}?EIO=4&transport=polling`);
			assert.equal(ok.status, 200);
			const open = JSON.parse((await ok.text()).slice(1));
			assert.deepEqual(open.upgrades, ['websocket']);
			assert.ok(open.pingInterval > 0 && open.pingTimeout > 0 &&
				open.maxPayload > 0, JSON.stringify(open));
		});
});

/* ---- event rooms: chat and history ----------------------------------------- */

describe('event chat', skip, () => {
	test('three participants chat; messages are stored before the ack',
		async () => {
			const { ev, users: [a, b, c], sockets: [sa, sb, sc] } =
				await room(3, 'sgchat');
			for (const s of [sa, sb, sc]) {
				await join(s, ev);
			}
			const r = await callOk(sa, 'send_event_message',
				{ eventId: ev.id, content: '  hello everyone \n' });
			assertMessage(r.message, { eventId: ev.id, userId: a.user.id,
				username: a.username, displayName: null, type: 'text',
				content: 'hello everyone' });
			// stored when acknowledged
			assert.equal(await sql('SELECT room_kind || \'/\' || room_id || ' +
				`'/' || content FROM chat.messages WHERE id = ${r.message.id}`),
			`event/${ev.id}/hello everyone`);
			for (const s of [sb, sc]) {
				assert.deepEqual(await s.inbox.get('event_message',
					(m) => m.id === r.message.id), r.message);
			}
			await sa.inbox.none('event_message', (m) => m.id === r.message.id);

			const rb = await callOk(sb, 'send_event_message',
				{ eventId: ev.id, content: 'hi a 👋' });
			const rc = await callOk(sc, 'send_event_message',
				{ eventId: ev.id, content: 'hi both', type: 'text' });
			await sa.inbox.get('event_message', (m) => m.id === rc.message.id);
			assert.ok(rb.message.id > r.message.id);
			assert.ok(rc.message.id > rb.message.id);

			// history, newest first, for any participant
			const h = await gw.get(`/api/chat/events/${ev.id}/messages`,
				{ token: c.accessToken });
			assertStatus(h, 200);
			assert.deepEqual(h.body, { items: [rc.message, rb.message,
				r.message], nextCursor: null });
			// paged by two
			const p1 = await gw.get(`/api/chat/events/${ev.id}/messages` +
				'?limit=2', { token: b.accessToken });
			assertStatus(p1, 200);
			assert.deepEqual(p1.body.items, [rc.message, rb.message]);
			assert.equal(p1.body.nextCursor, String(rb.message.id));
			const p2 = await gw.get(`/api/chat/events/${ev.id}/messages` +
				`?limit=2&before=${p1.body.nextCursor}`,
			{ token: b.accessToken });
			assert.deepEqual(p2.body, { items: [r.message], nextCursor: null });
			const all = await collectPages(gw,
				`/api/chat/events/${ev.id}/messages`, a.accessToken, 1);
			assert.deepEqual(all.items.map((m) => m.id),
				[rc.message.id, rb.message.id, r.message.id]);
		});

	test('a sender\'s messages keep their order', async () => {
		const { ev, sockets: [sa, sb] } = await room(2, 'sgorder');
		await join(sa, ev);
		await join(sb, ev);
		const acks = await Promise.all(Array.from({ length: 8 }, (_, i) =>
			callOk(sa, 'send_event_message', { eventId: ev.id,
				content: `m${i}` })));
		const ids = acks.map((x) => x.message.id);
		assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
		await sb.inbox.get('event_message', (m) => m.content === 'm7');
		assert.deepEqual(sb.inbox.all('event_message').map((m) => m.content),
			['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
	});

	test('a retry with the same clientId stores and broadcasts once',
		async () => {
			const { ev, users: [a], sockets: [sa, sb] } =
				await room(2, 'sgretry');
			await join(sa, ev);
			await join(sb, ev);
			const clientId = `c-${crypto.randomBytes(6).toString('hex')}`;
			const one = await callOk(sa, 'send_event_message',
				{ eventId: ev.id, content: 'once', clientId });
			const two = await callOk(sa, 'send_event_message',
				{ eventId: ev.id, content: 'once', clientId });
			assert.deepEqual(two.message, one.message);
			await sb.inbox.get('event_message', (m) => m.id === one.message.id);
			await sb.inbox.none('event_message', (m) => m.id !== one.message.id);
			assert.equal(sb.inbox.all('event_message').length, 1);
			assert.equal(await sql('SELECT count(*) FROM chat.messages WHERE ' +
				`user_id = ${a.user.id}`), '1');
		});

	test('history is for participants only and checks its query',
		async () => {
			const { ev, users: [a] } = await eventWithUsers(gw, 1, 'sghist');
			const outsider = await newSession(gw, { prefix: 'sgout' });
			const path = `/api/chat/events/${ev.id}/messages`;
			assertError(await gw.get(path), 401);
			assertError(await gw.get(path, { token: outsider.accessToken }),
				403, 'not_participant');
			assertError(await gw.get('/api/chat/events/999999999/messages',
				{ token: a.accessToken }), 404, 'not_found');
			assertError(await gw.get('/api/chat/events/abc/messages',
				{ token: a.accessToken }), 404, 'not_found');
			for (const q of ['limit=0', 'limit=101', 'limit=x', 'before=-1',
				'before=abc', 'before=', 'cursor=abc', 'before=5&cursor=6']) {
				assertError(await gw.get(`${path}?${q}`,
					{ token: a.accessToken }), 422, 'validation_failed');
			}
			const empty = await gw.get(path, { token: a.accessToken });
			assertStatus(empty, 200);
			assert.deepEqual(empty.body, { items: [], nextCursor: null });
		});
});

/* ---- presence -------------------------------------------------------------- */

describe('presence', skip, () => {
	test('two tabs of one user: joined once, left after the last tab',
		async () => {
			const { ev, users: [u1, u2] } = await eventWithUsers(gw, 2,
				'sgtabs');
			const obs = await connect(u2.accessToken);
			const j0 = await join(obs, ev);
			assert.deepEqual(j0.users.map((x) => x.id), [u2.user.id]);

			const tab1 = await connect(u1.accessToken);
			const tab2 = await connect(u1.accessToken);
			const j1 = await join(tab1, ev);
			assert.deepEqual(j1.users.map((x) => x.id).sort((x, y) => x - y),
				[u1.user.id, u2.user.id].sort((x, y) => x - y));
			for (const p of j1.users) {
				assert.deepEqual(Object.keys(p).sort(), PERSON_KEYS);
			}
			const au = await tab1.inbox.get('active_users');
			assert.deepEqual(au, { eventId: ev.id, users: j1.users });
			const joined = await obs.inbox.get('user_joined',
				(x) => x.user.id === u1.user.id);
			assert.deepEqual(joined, { eventId: ev.id, user: {
				id: u1.user.id, username: u1.username, displayName: null,
				avatarUrl: null } });

			// the second tab: listed once, nobody told again
			const j2 = await join(tab2, ev);
			assert.equal(j2.users.filter((x) => x.id === u1.user.id).length, 1);
			assert.equal(j2.users.length, 2);
			await obs.inbox.none('user_joined', (x) => x.user.id === u1.user.id &&
				x !== joined);
			assert.equal(obs.inbox.all('user_joined').length, 1);
			// nor does the first tab hear of its own second tab
			assert.equal(tab1.inbox.all('user_joined').length, 0);

			// one tab closes: still there
			tab1.close();
			await obs.inbox.none('user_left', () => true, 600);
			// the last one leaves the room: gone
			await callOk(tab2, 'leave_event_room', { eventId: ev.id });
			assert.deepEqual(await obs.inbox.get('user_left'),
				{ eventId: ev.id, userId: u1.user.id });
			// and a disconnect does the same
			await join(tab2, ev);
			await obs.inbox.get('user_joined', (x) => x.user.id === u1.user.id &&
				obs.inbox.all('user_joined').length === 2);
			tab2.close();
			await obs.inbox.get('user_left', () =>
				obs.inbox.all('user_left').length === 2);
			const j3 = await join(obs, ev); // joining again: just the list
			assert.deepEqual(j3.users.map((x) => x.id), [u2.user.id]);
		});

	test('leaving the event takes the user out of its room', async () => {
		const { ev, users: [u1, u2], sockets: [s1, s2] } = await room(2,
			'sgleft');
		await join(s1, ev);
		await join(s2, ev);
		const res = await gw.delete(`/api/events/${ev.id}/join`,
			{ token: u1.accessToken });
		assertStatus(res, 200);
		assert.deepEqual(await s2.inbox.get('user_left', undefined, 5000),
			{ eventId: ev.id, userId: u1.user.id });
		await callErr(s1, 'send_event_message', { eventId: ev.id,
			content: 'still here?' }, 'not_participant');
		await callErr(s1, 'join_event_room', { eventId: ev.id },
			'not_participant');
		assert.ok(u2);
	});
});

/* ---- who may do what --------------------------------------------------------- */

describe('event rooms are for participants', skip, () => {
	test('a non-participant is refused', async () => {
		const { ev, sockets: [sa] } = await room(1, 'sgnp');
		await join(sa, ev);
		const outsider = await newSession(gw, { prefix: 'sgnpo' });
		const so = await connect(outsider.accessToken);
		await callErr(so, 'join_event_room', { eventId: ev.id },
			'not_participant');
		await callErr(so, 'send_event_message', { eventId: ev.id,
			content: 'let me in' }, 'not_participant');
		await callErr(so, 'join_event_room', { eventId: 999999999 },
			'not_found');
		// the room did not hear of them
		await sa.inbox.none('user_joined');
		await sa.inbox.none('event_message');
	});
});

/* ---- private rooms and WebRTC ------------------------------------------------ */

describe('private rooms and the WebRTC relay', skip, () => {
	test('members of an accepted match chat and signal; an outsider cannot',
		async () => {
			const { ev, users: [a, b, c], sockets: [sa, sb, sc] } =
				await room(3, 'sgpriv');
			const m = await matchIn(gw, 'accepted', a, b, ev);
			const matchId = m.id;
			assert.deepEqual(await callOk(sa, 'join_private_room',
				{ matchId }), { ok: true, matchId });
			await callOk(sb, 'join_private_room', { matchId });
			await callErr(sc, 'join_private_room', { matchId }, 'not_found');
			await callErr(sc, 'join_private_room', { matchId: 999999999 },
				'not_found');

			const r = await callOk(sa, 'send_private_message',
				{ matchId, content: 'film at 3?' });
			assertMessage(r.message, { matchId, userId: a.user.id,
				content: 'film at 3?', type: 'text' });
			assert.deepEqual(await sb.inbox.get('private_message'), r.message);
			const link = await callOk(sb, 'send_private_message', { matchId,
				type: 'link', content: 'https://example.com/heat3.mp4' });
			assert.equal(link.message.type, 'link');
			await sa.inbox.get('private_message',
				(x) => x.id === link.message.id);
			await callErr(sa, 'send_private_message', { matchId,
				type: 'link', content: 'not a url' }, 'validation_failed');
			await callErr(sc, 'send_private_message',
				{ matchId, content: 'hi' }, 'forbidden');
			await sc.inbox.none('private_message');

			// WebRTC, relayed unchanged with who sent it
			const offer = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n' };
			const answer = { type: 'answer', sdp: 'v=0\r\n' };
			const cand = { candidate: 'candidate:1 1 udp 2122260223 ' +
				'192.0.2.1 54400 typ host', sdpMid: '0', sdpMLineIndex: 0 };
			assert.deepEqual(await callOk(sa, 'webrtc_offer',
				{ matchId, offer }), { ok: true });
			assert.deepEqual(await sb.inbox.get('webrtc_offer'),
				{ matchId, fromUserId: a.user.id, offer });
			await callOk(sb, 'webrtc_answer', { matchId, answer });
			assert.deepEqual(await sa.inbox.get('webrtc_answer'),
				{ matchId, fromUserId: b.user.id, answer });
			await callOk(sa, 'webrtc_ice_candidate',
				{ matchId, candidate: cand });
			await callOk(sa, 'webrtc_ice_candidate',
				{ matchId, candidate: null });
			await sb.inbox.get('webrtc_ice_candidate',
				(x) => x.candidate === null);
			assert.deepEqual(sb.inbox.all('webrtc_ice_candidate'), [
				{ matchId, fromUserId: a.user.id, candidate: cand },
				{ matchId, fromUserId: a.user.id, candidate: null }]);
			// never echoed to the sender
			assert.equal(sa.inbox.all('webrtc_offer').length, 0);
			// the outsider can neither send nor hear
			await callErr(sc, 'webrtc_offer', { matchId, offer }, 'not_found');
			await sc.inbox.none('webrtc_answer');
			await callErr(sa, 'webrtc_offer', { matchId, offer: 'v=0' },
				'validation_failed');

			// the partner away from the room: said so
			await callOk(sb, 'leave_private_room', { matchId });
			await callErr(sa, 'webrtc_offer', { matchId, offer },
				'partner_offline');

			// history for the two members only
			const h = await gw.get(`/api/chat/matches/${matchId}/messages`,
				{ token: b.accessToken });
			assertStatus(h, 200);
			assert.deepEqual(h.body.items, [link.message, r.message]);
			assertError(await gw.get(`/api/chat/matches/${matchId}/messages`,
				{ token: c.accessToken }), 404, 'not_found');
		});

	test('a pending match has no private room; a cancel closes it',
		async () => {
			const { ev, users: [a, b, c], sockets: [sa, sb] } = await room(3,
				'sgpend');
			const pending = await requestMatch(gw, a, c, ev);
			await callErr(sa, 'join_private_room', { matchId: pending.id },
				'match_not_active');
			await callErr(sa, 'webrtc_offer', { matchId: pending.id,
				offer: { type: 'offer', sdp: 'v=0' } }, 'match_not_active');

			const m = await matchIn(gw, 'accepted', a, b, ev);
			await callOk(sa, 'join_private_room', { matchId: m.id });
			await callOk(sb, 'join_private_room', { matchId: m.id });
			await callOk(sa, 'send_private_message', { matchId: m.id,
				content: 'see you' });
			const res = await gw.patch(`/api/matches/${m.id}`,
				{ json: { status: 'cancelled' }, token: b.accessToken });
			assertStatus(res, 200);
			// match.cancelled reaches signaling: the chat closes
			let last;
			for (let i = 0; i < 50; i++) {
				last = await call(sa, 'send_private_message',
					{ matchId: m.id, content: `still there ${i}?` });
				if (!last.ok) {
					break;
				}
				await sleep(100);
			}
			assert.equal(last.ok, false, JSON.stringify(last));
			assertAckError(last.error, 'match_not_active');
			await callErr(sa, 'webrtc_offer', { matchId: m.id,
				offer: { type: 'offer', sdp: 'v=0' } }, 'match_not_active');
		});
});

/* ---- match requests, live ------------------------------------------------------ */

describe('match requests', skip, () => {
	test('a request arrives live and its acceptance too', async () => {
		const { ev, users: [a, b, c], sockets: [sa, sb] } = await room(3,
			'sgmatch');
		const r = await callOk(sa, 'send_match_request',
			{ targetUserId: b.user.id, eventId: ev.id });
		assertMatch(r.match, { status: 'pending', requesterId: a.user.id,
			targetId: b.user.id, eventId: ev.id });
		const got = await sb.inbox.get('match_request_received',
			(x) => x.matchId === r.match.id);
		assert.equal(got.fromUser.id, a.user.id);
		assert.equal(got.fromUser.username, a.username);
		// both members hear of the change
		await sa.inbox.get('match_updated', (x) => x.match.id === r.match.id);

		const acc = await callOk(sb, 'accept_match_request',
			{ matchId: r.match.id });
		assertMatch(acc.match, { id: r.match.id, status: 'accepted' });
		const note = await sa.inbox.get('match_accepted',
			(x) => x.matchId === r.match.id);
		assert.equal(note.partner.id, b.user.id);
		assert.equal(note.partner.username, b.username);
		// and the private room opens at once
		await callOk(sa, 'join_private_room', { matchId: r.match.id });

		// a request made over REST reaches the target's socket too
		const viaRest = await requestMatch(gw, c, b, ev);
		const got2 = await sb.inbox.get('match_request_received',
			(x) => x.matchId === viaRest.id);
		assert.equal(got2.fromUser.id, c.user.id);
	});

	test('matchmaking\'s refusals come back in the ack', async () => {
		const { ev, users: [a, b], sockets: [sa, sb] } = await room(2,
			'sgmerr');
		await callErr(sa, 'send_match_request', { targetUserId: a.user.id,
			eventId: ev.id }, 'self_match');
		const r = await callOk(sa, 'send_match_request',
			{ targetUserId: b.user.id, eventId: ev.id });
		const dup = await callErr(sa, 'send_match_request',
			{ targetUserId: b.user.id, eventId: ev.id }, 'match_exists');
		assert.deepEqual(dup.details, { matchId: r.match.id });
		// only the target accepts, once
		await callErr(sa, 'accept_match_request', { matchId: r.match.id },
			'forbidden');
		await callOk(sb, 'accept_match_request', { matchId: r.match.id });
		const again = await callErr(sb, 'accept_match_request',
			{ matchId: r.match.id }, 'invalid_transition');
		assert.deepEqual(again.details, { from: 'accepted', to: 'accepted' });
		await callErr(sb, 'accept_match_request', { matchId: 999999999 },
			'not_found');
		await callErr(sa, 'send_match_request', { targetUserId: b.user.id },
			'validation_failed');
	});
});

/* ---- acks and refusals ------------------------------------------------------------- */

describe('acks and refusals', skip, () => {
	test('bad payloads and unknown events are refused clearly', async () => {
		const u = await newSession(gw, { prefix: 'sgack' });
		const s = await connect(u.accessToken);
		await callErr(s, 'no_such_event', {}, 'unknown_event');
		const e = await callErr(s, 'join_event_room', { eventId: 'x',
			color: 'red' }, 'validation_failed');
		assert.equal(typeof e.details.eventId, 'string');
		assert.equal(typeof e.details.color, 'string');
		await callErr(s, 'join_event_room', 5, 'validation_failed');
		await callErr(s, 'send_event_message', { eventId: 1,
			content: ' \n ' }, 'validation_failed');
		await callErr(s, 'send_event_message', { eventId: 1,
			content: 'x'.repeat(2001) }, 'validation_failed');
		await callErr(s, 'webrtc_offer', { matchId: 1,
			offer: { sdp: 'x'.repeat(70000) } }, 'validation_failed');
		// binary attachments are refused, not a reason to drop the socket
		await callErr(s, 'send_event_message', Buffer.from([1, 2, 3]),
			'validation_failed');

		// without an ack: an `error` event naming the event
		s.emit('no_such_event', {});
		const u1 = await s.inbox.get('error', (x) => x.code === 'unknown_event');
		assert.equal(u1.event, 'no_such_event');
		s.emit('join_event_room', { eventId: -1 });
		const v1 = await s.inbox.get('error',
			(x) => x.code === 'validation_failed');
		assert.equal(v1.event, 'join_event_room');
		assert.equal(typeof v1.details.eventId, 'string');
		// still connected and answering
		assert.equal(s.connected, true);
		await callOk(s, 'leave_event_room', { eventId: 1 });
	});

	test('rate limits refuse with rate_limited and recover', async () => {
		const { ev, users: [a], sockets: [s, other] } = await room(2,
			'sgrate');
		await join(s, ev);
		await join(other, ev);
		// 40 at once: past the default burst (10 messages, 20 events)
		const acks = await Promise.all(Array.from({ length: 40 }, (_, i) =>
			call(s, 'send_event_message', { eventId: ev.id,
				content: `flood ${i}` })));
		const ok = acks.filter((x) => x.ok);
		const limited = acks.filter((x) => !x.ok);
		assert.ok(ok.length >= 5, `${ok.length} of 40 accepted`);
		assert.ok(limited.length >= 1, `none of 40 refused: are the ` +
			'rate limits (SC_RATE_MESSAGES_*) raised for this suite?');

		for (const x of limited) {
			assertAckError(x.error, 'rate_limited');
			assert.ok(x.error.details.retryAfterMs > 0);
		}
		// what was refused was not stored (nor broadcast)
		assert.equal(await sql('SELECT count(*) FROM chat.messages WHERE ' +
			`user_id = ${a.user.id}`), String(ok.length));
		await sleep(300);
		assert.equal(other.inbox.all('event_message').length, ok.length);
		// without an ack: an error event
		for (let i = 0; i < 30; i++) {
			s.emit('send_event_message', { eventId: ev.id, content: 'more' });
		}
		const e = await s.inbox.get('error', (x) => x.code === 'rate_limited');
		assert.equal(e.event, 'send_event_message');
		assert.ok(e.details.retryAfterMs > 0);
		// a flood hears of it once a second, not once per event
		await sleep(200);
		assert.equal(s.inbox.all('error',
			(x) => x.code === 'rate_limited').length, 1);
		// a little later the socket may talk again
		await sleep(Math.max(...limited.map((x) =>
			x.error.details.retryAfterMs)) + 600);
		await callOk(s, 'send_event_message', { eventId: ev.id,
			content: 'calm again' });
		// another socket of the same user has its own budget
		const s2 = await connect(a.accessToken);
		await join(s2, ev);
	});
});

/* ---- raw WebSocket abuse --------------------------------------------------------- */

describe('bad frames', skip, () => {
	test('each gets its close code and nobody else notices', async () => {
		const { ev, sockets: [healthy] } = await room(1, 'sgraw');
		await join(healthy, ev);
		const cases = [
			['an unmasked frame', 1002, (ws) => ws.send('4hello',
				{ mask: false })],
			['text that is not UTF-8', 1007, (ws) => ws.send(
				Buffer.from([0x34, 0xc3, 0x28]), { binary: false })],
			['a message over maxPayload', 1009, (ws, open) => ws.send(
				'4' + 'x'.repeat(open.maxPayload + 16))],
			['an unknown opcode', 1002, (ws) => ws._socket.write(
				frame(0x3, '4x'))],
			['a ping over 125 bytes', 1002, (ws) => ws._socket.write(
				frame(0x9, Buffer.alloc(126)))],
			['a continuation with no start', 1002, (ws) => ws._socket.write(
				frame(0x0, '4x'))],
		];
		for (const [what, code, send] of cases) {
			const { ws, open } = await rawSocket();
			assert.equal(typeof open.sid, 'string');
			send(ws, open);
			assert.equal(await closeCode(ws), code, what);
			// the others carry on
			await callOk(healthy, 'send_event_message',
				{ eventId: ev.id, content: `after ${what}` });
		}
		// and new clients still get in
		const u = await newSession(gw, { prefix: 'sgraw2' });
		const s = await connect(u.accessToken, { url: sioUrl() });
		assert.equal(s.connected, true);
	});
});

/* ---- restart and reconnect ------------------------------------------------------- */

const restart = live ? restarter() : 'signaling not running';

describe('restart', skip, () => {
	test('a stop finishes the messages being stored, then clients reconnect ' +
		'by themselves', { skip: typeof restart === 'string' ? restart : false },
	async () => {
		const { ev, users: [a, b] } = await eventWithUsers(gw, 2,
			'sgrestart');
		const sa = await connect(a.accessToken, { reconnection: true });
		const sb = await connect(b.accessToken, { reconnection: true });
		await join(sa, ev);
		await join(sb, ev);
		for (const s of [sa, sb]) {
			s.io.on('reconnect', () => s.emit('join_event_room',
				{ eventId: ev.id }));
		}
		const events = [];
		sa.on('disconnect', (reason) => events.push(`disconnect ${reason}`));

		// Inserts wait behind a lock for 2 s: the stop comes while these
		// messages are being stored.
		const locker = spawn('psql', [env('SC_TEST_DATABASE_URL'), '-X',
			'-q', '-c', 'BEGIN; LOCK TABLE chat.messages IN EXCLUSIVE MODE; ' +
			'SELECT pg_sleep(2); COMMIT;']);
		const unlocked = new Promise((resolve) => locker.on('exit', resolve));
		for (let i = 0; i < 50; i++) {
			if (await sql('SELECT count(*) FROM pg_locks l JOIN pg_class c ' +
				'ON c.oid = l.relation WHERE c.relname = \'messages\' AND ' +
				'l.mode = \'ExclusiveLock\' AND l.granted') === '1') {
				break;
			}
			await sleep(50);
		}
		const inflight = Array.from({ length: 3 }, (_, i) =>
			call(sa, 'send_event_message', { eventId: ev.id,
				content: `inflight ${i}` }, 20000).then((r) => {
				events.push(`ack ${i}`);
				return r;
			}));
		await sleep(200);
		const restarting = restart();

		// While it drains, new events are refused, never taken and lost.
		let refused;
		for (let i = 0; i < 40 && !refused; i++) {
			const r = await call(sa, 'leave_event_room', { eventId: 1 });
			if (!r.ok) {
				refused = r.error;
			} else {
				await sleep(100);
			}
		}
		assert.ok(refused, 'no refusal while draining');
		assertAckError(refused, 'shutting_down');
		const late = await call(sa, 'send_event_message',
			{ eventId: ev.id, content: 'too late' });
		assertAckError(late.error, 'shutting_down');

		// the messages being stored are stored and acknowledged, before the
		// connection closes
		const results = await Promise.all(inflight);
		for (const r of results) {
			assert.equal(r.ok, true, JSON.stringify(r));
			assert.equal(await sql('SELECT count(*) FROM chat.messages ' +
				`WHERE id = ${r.message.id}`), '1');
		}
		await unlocked;
		assert.equal(await sql('SELECT count(*) FROM chat.messages WHERE ' +
			`user_id = ${a.user.id} AND content = 'too late'`), '0');
		await restarting;
		for (let i = 0; i < 50 && !events.some((e) =>
			e.startsWith('disconnect')); i++) {
			await sleep(100);
		}
		const d = events.findIndex((e) => e.startsWith('disconnect'));
		assert.ok(d >= 3, `acks before the close: ${events.join(', ')}`);
		assert.match(events[d], /transport close|transport error/);

		// back by itself, in its room again
		for (const s of [sa, sb]) {
			for (let i = 0; i < 100 && !s.connected; i++) {
				await sleep(100);
			}
			assert.equal(s.connected, true, 'reconnected');
		}
		let r;
		for (let i = 0; i < 50; i++) {
			r = await call(sa, 'send_event_message',
				{ eventId: ev.id, content: 'back again' });
			if (r.ok || r.error.code !== 'not_participant') {
				break;
			}
			await sleep(100); // the rejoin after reconnecting is on its way
		}
		assert.equal(r?.ok, true, JSON.stringify(r));
		await sb.inbox.get('event_message', (m) => m.id === r.message.id);
	});
});

/* ---- REST: ICE servers ------------------------------------------------------------ */

describe('ice servers', skip, () => {
	test('STUN/TURN list for a logged-in user only', async () => {
		const u = await newSession(gw, { prefix: 'sgice' });
		assertError(await gw.get('/api/chat/ice-servers'), 401);
		const res = await gw.get('/api/chat/ice-servers',
			{ token: u.accessToken });
		assertStatus(res, 200);
		assert.ok(Array.isArray(res.body.iceServers));
		assert.ok(res.body.iceServers.length >= 1);
		for (const s of res.body.iceServers) {
			assert.ok(Array.isArray(s.urls) && s.urls.length > 0);
			for (const url of s.urls) {
				assert.match(url, /^(stun|stuns|turn|turns):/);
			}
		}
		assert.ok(Number.isInteger(res.body.ttl) && res.body.ttl > 0);
		assert.match(res.headers.get('cache-control') ?? '', /no-store/);
	});
});
