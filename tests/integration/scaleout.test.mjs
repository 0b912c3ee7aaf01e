// scaleout.test.mjs: several signaling instances behind the gateway behave
// as one (services/signaling/README.md, "Scale-out"). Clients connect
// DIRECTLY to different instances (SC_TEST_SIGNALING_SIO_URLS) and through
// the gateway (polling with its upgrade, pinned to one instance by the
// session id's prefix): they chat in an event room and a private room and
// each hears every message once; presence (active_users, user_joined,
// user_left, several tabs on several instances) is one view; the WebRTC
// relay crosses instances and says partner_offline only when the partner
// has no socket in the private room anywhere; live match notices reach each
// socket once; an instance stopped (goodbye) or killed (silence: forgotten
// after three heartbeats) takes its users out of every room, and one
// started afresh learns who is where.
//
// The suite must run at least two instances (deploy/local.sh does in test
// mode): with one, this file FAILS rather than skips, since then nothing
// here would be tested.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
	Client, eventWithUsers, gatewayUrl, localSh, matchIn, needs, newSession,
	sleep,
} from './lib.mjs';
import {
	assertMessage, callErr, callOk, closeAll, connect, joinRoom,
} from './signaling-lib.mjs';

const skip = needs('signaling');
const live = !skip.skip;
const gw = live ? new Client(gatewayUrl()) : null;
/* Every instance's Socket.IO listener, instance 0 first. */
const urls = (process.env.SC_TEST_SIGNALING_SIO_URLS ?? '').split(/\s+/)
	.filter(Boolean).map((u) => u.replace(/\/+$/, ''));
const instances = Number(process.env.SC_TEST_SIGNALING_INSTANCES ?? 1);

/* How long a presence delta may take between instances (it is one bus
 * message; this is slack for a loaded machine). */
const DELTA_MS = 300;
/* An instance falls silent: forgotten after 3 heartbeats (2 s each). */
const EXPIRY_MS = 15000;

after(closeAll);

const join = (s, ev) => joinRoom(s, ev.id);
const ids = (users) => users.map((x) => x.id).sort((a, b) => a - b);

/* The sid prefix of a socket's Engine.IO session ("s0", "s1"), or "". */
const instanceOf = (s) => (s.io.engine.id ?? '').split('.')[0];

describe('scale-out: the suite runs several signaling instances', skip, () => {
	test('at least two instances, each its own sessions', async () => {
		assert.ok(instances >= 2 && urls.length === instances,
			'the suite runs ' +
			`SC_TEST_SIGNALING_INSTANCES=${instances} signaling instance(s) ` +
			`(SC_TEST_SIGNALING_SIO_URLS='${urls.join(' ')}'): the scale-out ` +
			'tests need two; deploy/local.sh starts two in test mode ' +
			'(SC_SIGNALING_INSTANCES)');
		for (const [i, url] of urls.entries()) {
			const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
			assert.equal(res.status, 200);
			const open = JSON.parse((await res.text()).slice(1));
			assert.match(open.sid, new RegExp(`^s${i}\\.[A-Za-z0-9_-]{20}$`),
				`instance ${i}'s sid`);
		}
	});

	test('through the gateway a polling session upgrades on its instance',
		async () => {
			const u = await newSession(gw, { prefix: 'soup' });
			const seen = new Set();
			for (let i = 0; i < 4; i++) {
				const s = await connect(u.accessToken, { url: gatewayUrl(),
					transports: ['polling', 'websocket'] });
				const pending = callOk(s, 'leave_event_room', { eventId: 1 });
				if (s.io.engine.transport.name !== 'websocket') {
					await new Promise((resolve, reject) => {
						s.io.engine.once('upgrade', resolve);
						setTimeout(() => reject(new Error('no upgrade')), 8000);
					});
				}
				await pending;
				await callOk(s, 'leave_event_room', { eventId: 1 });
				const inst = instanceOf(s);
				assert.match(inst, /^s\d$/, `sid ${s.io.engine.id}`);
				seen.add(inst);
				// polling alone, held and posting, stays on its instance too
				const p = await connect(u.accessToken, { url: gatewayUrl(),
					transports: ['polling'] });
				for (let k = 0; k < 3; k++) {
					await callOk(p, 'leave_event_room', { eventId: 1 });
				}
				p.close();
			}
			console.log(`# gateway sessions landed on ${[...seen].join(', ')}`);
		});
});

/* n users of a new event; users[i] gets a socket on instance i % n
 * (directly), and the gateway client a socket through nginx. */
async function spread(n, prefix) {
	const { ev, users } = await eventWithUsers(gw, n, prefix);
	const sockets = await Promise.all(users.map((u, i) =>
		connect(u.accessToken, { url: urls[i % urls.length] })));
	return { ev, users, sockets };
}

describe('scale-out: one event room over two instances', skip, () => {
	test('presence and chat cross instances, each message once', async () => {
		const { ev, users: [a, b, c], sockets: [sa, sb] } = await spread(3,
			'soroom');
		const sc = await connect(c.accessToken, { url: gatewayUrl(),
			transports: ['polling', 'websocket'] });

		const ja = await join(sa, ev);
		assert.deepEqual(ids(ja.users), [a.user.id]);
		await sleep(DELTA_MS);
		// b, on the other instance, sees a in the list
		const jb = await join(sb, ev);
		assert.deepEqual(ids(jb.users), ids([a.user, b.user]));
		const person = jb.users.find((x) => x.id === a.user.id);
		assert.deepEqual(person, { id: a.user.id, username: a.username,
			displayName: null, avatarUrl: null });
		// and a hears of b once
		assert.deepEqual(await sa.inbox.get('user_joined'),
			{ eventId: ev.id, user: { id: b.user.id, username: b.username,
				displayName: null, avatarUrl: null } });
		await sleep(DELTA_MS);
		const jc = await join(sc, ev);
		assert.deepEqual(ids(jc.users), ids([a.user, b.user, c.user]));
		for (const s of [sa, sb]) {
			await s.inbox.get('user_joined', (x) => x.user.id === c.user.id);
		}

		// each one speaks: the other two hear it once, the sender never
		const sent = [];
		for (const [s, u] of [[sa, a], [sb, b], [sc, c]]) {
			const r = await callOk(s, 'send_event_message',
				{ eventId: ev.id, content: `hello from ${u.username}` });
			assertMessage(r.message, { eventId: ev.id, userId: u.user.id });
			sent.push(r.message);
		}
		for (const [i, s] of [sa, sb, sc].entries()) {
			for (const [j, m] of sent.entries()) {
				if (i !== j) {
					assert.deepEqual(await s.inbox.get('event_message',
						(x) => x.id === m.id), m);
				}
			}
		}
		await sleep(DELTA_MS);
		for (const [i, s] of [sa, sb, sc].entries()) {
			const got = s.inbox.all('event_message').map((x) => x.id).sort();
			assert.deepEqual(got, sent.filter((_, j) => j !== i)
				.map((m) => m.id).sort(), `socket ${i} heard each once`);
			assert.equal(s.inbox.all('user_joined').length,
				[2, 1, 0][i], `socket ${i}: user_joined once per newcomer`);
		}

		// the other instance's client leaves: user_left once, everywhere
		sb.close();
		for (const s of [sa, sc]) {
			assert.deepEqual(await s.inbox.get('user_left'),
				{ eventId: ev.id, userId: b.user.id });
		}
		await sleep(DELTA_MS);
		assert.equal(sa.inbox.all('user_left').length, 1);
		const again = await join(sa, ev);
		assert.deepEqual(ids(again.users), ids([a.user, c.user]));
	});

	test('a user with tabs on both instances arrives once and leaves with ' +
		'the last tab', async () => {
		const { ev, users: [obs, u] } = await eventWithUsers(gw, 2, 'sotabs');
		const so = await connect(obs.accessToken, { url: urls[0] });
		await join(so, ev);
		const t0 = await connect(u.accessToken, { url: urls[0] });
		const t1 = await connect(u.accessToken, { url: urls[1] });
		await join(t1, ev);
		await so.inbox.get('user_joined', (x) => x.user.id === u.user.id);
		await sleep(DELTA_MS);
		const j0 = await join(t0, ev);
		// listed once, though present on both instances
		assert.deepEqual(ids(j0.users), ids([obs.user, u.user]));
		await so.inbox.none('user_joined', (x) => x.user.id === u.user.id &&
			so.inbox.all('user_joined').length > 1, DELTA_MS);
		assert.equal(so.inbox.all('user_joined').length, 1);

		t1.close(); // still there through t0
		await so.inbox.none('user_left', () => true, 2 * DELTA_MS);
		t0.close(); // gone
		assert.deepEqual(await so.inbox.get('user_left'),
			{ eventId: ev.id, userId: u.user.id });
		await sleep(DELTA_MS);
		assert.equal(so.inbox.all('user_left').length, 1);
	});

	test('leaving the event takes the user out on every instance',
		async () => {
			const { ev, users: [a, b], sockets: [sa, sb] } = await spread(2,
				'soleft');
			await join(sa, ev);
			await join(sb, ev);
			const res = await gw.delete(`/api/events/${ev.id}/join`,
				{ token: b.accessToken });
			assert.equal(res.status, 200);
			assert.deepEqual(await sa.inbox.get('user_left'),
				{ eventId: ev.id, userId: b.user.id });
			await sleep(DELTA_MS);
			assert.equal(sa.inbox.all('user_left').length, 1);
			await callErr(sb, 'send_event_message', { eventId: ev.id,
				content: 'still here?' }, 'not_participant');
			assert.ok(a);
		});
});

describe('scale-out: a private room and the WebRTC relay over two instances',
	skip, () => {
		test('members on different instances chat and signal; the partner ' +
			'is offline only when absent everywhere', async () => {
			const { ev, users: [a, b], sockets: [sa, sb] } = await spread(2,
				'sopriv');
			const m = await matchIn(gw, 'accepted', a, b, ev);
			const matchId = m.id;
			await callOk(sa, 'join_private_room', { matchId });
			await callOk(sb, 'join_private_room', { matchId });
			await sleep(DELTA_MS);

			const ra = await callOk(sa, 'send_private_message',
				{ matchId, content: 'film at 3?' });
			assert.deepEqual(await sb.inbox.get('private_message'), ra.message);
			const rb = await callOk(sb, 'send_private_message',
				{ matchId, type: 'link', content: 'https://example.com/h3.mp4' });
			assert.deepEqual(await sa.inbox.get('private_message'), rb.message);

			const offer = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n' };
			const answer = { type: 'answer', sdp: 'v=0\r\n' };
			const cand = { candidate: 'candidate:1 1 udp 2122260223 ' +
				'192.0.2.1 54400 typ host', sdpMid: '0', sdpMLineIndex: 0 };
			assert.deepEqual(await callOk(sa, 'webrtc_offer', { matchId, offer }),
				{ ok: true });
			assert.deepEqual(await sb.inbox.get('webrtc_offer'),
				{ matchId, fromUserId: a.user.id, offer });
			await callOk(sb, 'webrtc_answer', { matchId, answer });
			assert.deepEqual(await sa.inbox.get('webrtc_answer'),
				{ matchId, fromUserId: b.user.id, answer });
			await callOk(sa, 'webrtc_ice_candidate', { matchId, candidate: cand });
			await callOk(sa, 'webrtc_ice_candidate', { matchId, candidate: null });
			await sb.inbox.get('webrtc_ice_candidate', (x) => x.candidate === null);
			await sleep(DELTA_MS);
			assert.deepEqual(sb.inbox.all('webrtc_ice_candidate'), [
				{ matchId, fromUserId: a.user.id, candidate: cand },
				{ matchId, fromUserId: a.user.id, candidate: null }]);
			assert.equal(sb.inbox.all('webrtc_offer').length, 1);
			assert.equal(sb.inbox.all('private_message').length, 1);
			assert.equal(sa.inbox.all('private_message').length, 1);
			assert.equal(sa.inbox.all('webrtc_offer').length, 0);

			// b's second tab, on a's instance, in the room too: both tabs
			// get the next signal once (one here, one over the bus)
			const sb2 = await connect(b.accessToken, { url: urls[0] });
			await callOk(sb2, 'join_private_room', { matchId });
			await callOk(sa, 'webrtc_offer', { matchId, offer });
			for (const s of [sb, sb2]) {
				await s.inbox.get('webrtc_offer');
			}
			await sleep(DELTA_MS);
			assert.equal(sb.inbox.all('webrtc_offer').length, 2);
			assert.equal(sb2.inbox.all('webrtc_offer').length, 1);

			// the local tab leaves: the remote one still counts
			await callOk(sb2, 'leave_private_room', { matchId });
			await callOk(sa, 'webrtc_offer', { matchId, offer });
			await sb.inbox.get('webrtc_offer', () =>
				sb.inbox.all('webrtc_offer').length === 3);
			// the remote one leaves the room: offline, though connected
			await callOk(sb, 'leave_private_room', { matchId });
			await sleep(DELTA_MS);
			await callErr(sa, 'webrtc_offer', { matchId, offer },
				'partner_offline');
			// back in, then disconnected: offline again
			await callOk(sb, 'join_private_room', { matchId });
			await sleep(DELTA_MS);
			await callOk(sa, 'webrtc_offer', { matchId, offer });
			sb.close();
			await sleep(DELTA_MS);
			await callErr(sa, 'webrtc_offer', { matchId, offer },
				'partner_offline');
			// and the other direction: a is offline for b's tab
			await callOk(sa, 'leave_private_room', { matchId });
			await callOk(sb2, 'join_private_room', { matchId });
			await callErr(sb2, 'webrtc_answer', { matchId, answer },
				'partner_offline');
		});
	});

describe('scale-out: live notices reach each socket once', skip, () => {
	test('match_request_received and match_accepted, sockets on both ' +
		'instances and the gateway', async () => {
		const { ev, users: [a, b] } = await eventWithUsers(gw, 2, 'sonote');
		const bs = [await connect(b.accessToken, { url: urls[0] }),
			await connect(b.accessToken, { url: urls[1] }),
			await connect(b.accessToken, { url: gatewayUrl() })];
		const as = [await connect(a.accessToken, { url: urls[1] }),
			await connect(a.accessToken, { url: urls[0] })];
		const r = await callOk(as[0], 'send_match_request',
			{ targetUserId: b.user.id, eventId: ev.id });
		for (const s of bs) {
			const got = await s.inbox.get('match_request_received',
				(x) => x.matchId === r.match.id);
			assert.equal(got.fromUser.id, a.user.id);
		}
		await callOk(bs[1], 'accept_match_request', { matchId: r.match.id });
		for (const s of as) {
			await s.inbox.get('match_accepted', (x) => x.matchId === r.match.id);
		}
		await sleep(2 * DELTA_MS);
		for (const s of bs) {
			assert.equal(s.inbox.all('match_request_received').length, 1);
			assert.equal(s.inbox.all('match_updated').length, 2);
		}
		for (const s of as) {
			assert.equal(s.inbox.all('match_accepted').length, 1);
			assert.equal(s.inbox.all('match_updated').length, 2);
		}
	});
});

/* ---- an instance goes away and comes back ------------------------------ */

const lastUnit = () => (instances > 1 ? `signaling-${instances - 1}` : '');

function pidOf(unit) {
	const f = path.join(process.env.SC_TEST_VAR ?? '', 'run', `${unit}.pid`);
	return Number(readFileSync(f, 'utf8').trim());
}

/* Join the room from a socket on a freshly started instance: `want` (user
 * ids) are in its list, or, when the instance is still learning who is
 * where, arrive as user_joined within ms. Returns the ids it knows. */
async function joinAndLearn(s, ev, want, ms) {
	const j = await join(s, ev);
	const known = new Set(j.users.map((x) => x.id));
	for (const id of want) {
		if (!known.has(id)) {
			await s.inbox.get('user_joined', (x) => x.user.id === id, ms);
			known.add(id);
		}
	}
	return [...known].sort((a, b) => a - b);
}

describe('scale-out: an instance stops, crashes, starts', skip, () => {
	before(() => {
		assert.ok(instances >= 2, 'needs two signaling instances');
		assert.ok(process.env.SC_TEST_VAR && process.env.SC_TEST_REPO,
			'needs the deploy/local.sh suite (SC_TEST_VAR, SC_TEST_REPO)');
	});

	test('a stopped instance\'s users leave at once; a new one learns who ' +
		'is where', async () => {
		const unit = lastUnit();
		const { ev, users: [a, b, d] } = await eventWithUsers(gw, 3, 'sostop');
		const sa = await connect(a.accessToken, { url: urls[0] });
		const sb = await connect(b.accessToken, { url: urls.at(-1) });
		await join(sa, ev);
		await join(sb, ev);
		await sa.inbox.get('user_joined', (x) => x.user.id === b.user.id);
		const t0 = Date.now();
		await localSh('stop-service', unit);
		assert.deepEqual(await sa.inbox.get('user_left', undefined, 5000),
			{ eventId: ev.id, userId: b.user.id });
		console.log(`# user_left ${Date.now() - t0} ms after the stop began`);
		await localSh('start-service', unit);
		// the new instance asks the others for their snapshot at their
		// first heartbeat: its first joiner sees a
		const t1 = Date.now();
		const sd = await connect(d.accessToken, { url: urls.at(-1) });
		assert.deepEqual(await joinAndLearn(sd, ev, [a.user.id], 8000),
			ids([a.user, d.user]));
		console.log(`# the new instance knew a ${Date.now() - t1} ms after ` +
			'it answered /health');
		await sa.inbox.get('user_joined', (x) => x.user.id === d.user.id);
		// and chat flows both ways again
		const r = await callOk(sd, 'send_event_message',
			{ eventId: ev.id, content: 'back' });
		await sa.inbox.get('event_message', (x) => x.id === r.message.id);
		const r2 = await callOk(sa, 'send_event_message',
			{ eventId: ev.id, content: 'welcome back' });
		await sd.inbox.get('event_message', (x) => x.id === r2.message.id);
	});

	test('a killed instance is forgotten after its heartbeats stop',
		async () => {
			const unit = lastUnit();
			const { ev, users: [a, b] } = await eventWithUsers(gw, 2, 'sokill');
			const sa = await connect(a.accessToken, { url: urls[0] });
			const sb = await connect(b.accessToken, { url: urls.at(-1) });
			await join(sa, ev);
			await join(sb, ev);
			await sa.inbox.get('user_joined', (x) => x.user.id === b.user.id);
			const t0 = Date.now();
			process.kill(pidOf(unit), 'SIGKILL');
			assert.deepEqual(await sa.inbox.get('user_left', undefined,
				EXPIRY_MS), { eventId: ev.id, userId: b.user.id });
			const took = Date.now() - t0;
			console.log(`# user_left ${took} ms after the kill`);
			assert.ok(took > 1000, `forgotten after ${took} ms: too soon for ` +
				'an expiry (was it a goodbye?)');
			await localSh('start-service', unit);
			// a fresh client there works with the rest again
			const sb2 = await connect(b.accessToken, { url: urls.at(-1) });
			await joinAndLearn(sb2, ev, [a.user.id], 8000);
			await sa.inbox.get('user_joined', () =>
				sa.inbox.all('user_joined').length === 2);
			await sleep(DELTA_MS);
			assert.equal(sa.inbox.all('user_joined').length, 2);
		});
});
