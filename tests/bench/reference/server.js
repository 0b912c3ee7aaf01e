// server.js: the express + pg reference the events and matchmaking daemons
// are measured against (tests/bench/events.bench.mjs). One node process (one
// core), pg Pools connecting as the daemons' own roles, the same SQL, the
// same ES256 bearer-token checks (node's crypto), the same JSON:
//   GET /api/events?when&q&limit&cursor    as services/events
//   GET /api/matches?status&eventId&limit&cursor    as services/matchmaking
// Public profiles in match replies come from auth.users through a third pool
// (role sc_auth) with a 30 s in-process cache, as the daemon's
// common/profiles.h cache over the bus.
//
// Environment:
//   REF_ADDR, REF_PORT              where to listen (127.0.0.1, 7090)
//   REF_EVENTS_DATABASE_URL         postgresql://sc_events@.../spotlight
//   REF_MATCHMAKING_DATABASE_URL    postgresql://sc_matchmaking@.../spotlight
//   REF_AUTH_DATABASE_URL           postgresql://sc_auth@.../spotlight
//   REF_POOL_SIZE                   connections per pool (10, pg's default)
//   REF_PREPARED                    1: named prepared statements (default);
//                                   0: unnamed ones, as the daemons send
//   SC_JWT_PUBLIC_KEY_FILE          the suite's ES256 public key (PEM)
//   SC_JWT_ISSUER, SC_JWT_AUDIENCE  (spotlight.cam)
// Prints "listening on ADDR:PORT" once it accepts connections.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const express = require('express');
const pg = require('pg');

// ids are bigint in SQL, integers in our JSON.
pg.types.setTypeParser(20, (v) => Number(v));

const env = (name, def) => {
	const v = process.env[name];
	return v === undefined || v === '' ? def : v;
};
const need = (name) => {
	const v = env(name);
	if (v === undefined) {
		console.error(`reference: ${name} is not set`);
		process.exit(2);
	}
	return v;
};

const ADDR = env('REF_ADDR', '127.0.0.1');
const PORT = Number(env('REF_PORT', '7090'));
const POOL_SIZE = Number(env('REF_POOL_SIZE', '10'));
const ISSUER = env('SC_JWT_ISSUER', 'spotlight.cam');
const AUDIENCE = env('SC_JWT_AUDIENCE', 'spotlight.cam');
const PUBLIC_KEY = crypto.createPublicKey(
	fs.readFileSync(need('SC_JWT_PUBLIC_KEY_FILE')));
const PROFILE_TTL_MS = 30000;

const pool = (url) => new pg.Pool({ connectionString: url, max: POOL_SIZE });

/* One statement on a pool: as a named prepared statement (parsed and
 * planned once per connection, REF_PREPARED=1, the default) or an unnamed
 * one (REF_PREPARED=0). Resolves the rows. */
const PREPARED = env('REF_PREPARED', '1') !== '0';
const stmtNames = new Map();
async function query(db, text, values) {
	if (!PREPARED) {
		return (await db.query(text, values)).rows;
	}
	let name = stmtNames.get(text);
	if (name === undefined) {
		name = `s${stmtNames.size + 1}`;
		stmtNames.set(text, name);
	}
	return (await db.query({ name, text, values })).rows;
}
const eventsDb = pool(need('REF_EVENTS_DATABASE_URL'));
const matchesDb = pool(need('REF_MATCHMAKING_DATABASE_URL'));
const authDb = pool(need('REF_AUTH_DATABASE_URL'));

/* ---- replies ------------------------------------------------------------ */

function replyError(res, status, code, message, details) {
	const error = { code, message };
	if (details !== undefined) {
		error.details = details;
	}
	res.status(status).json({ error });
}

function dbFailed(res, err) {
	console.error(`reference: query failed: ${err.message}`);
	replyError(res, 503, 'service_unavailable',
		'the database is unavailable, try again');
}

/* ---- tokens (the checks of common/token.c) ------------------------------ */

const B64URL = /^[A-Za-z0-9_-]+$/;
const TOKEN_MAX_LEN = 4096;
const IAT_SKEW_S = 60;

function decodeJson(segment) {
	try {
		const v = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
		return v !== null && typeof v === 'object' && !Array.isArray(v)
			? v : null;
	} catch {
		return null;
	}
}

/* The user id of a valid access token, or 0. */
function verifyToken(token) {
	if (token.length === 0 || token.length > TOKEN_MAX_LEN) {
		return 0;
	}
	const parts = token.split('.');
	if (parts.length !== 3 || !parts.every((p) => B64URL.test(p) &&
		p.length % 4 !== 1)) {
		return 0;
	}
	const header = decodeJson(parts[0]);
	if (header === null || header.alg !== 'ES256' || 'crit' in header) {
		return 0;
	}
	const sig = Buffer.from(parts[2], 'base64url');
	if (sig.length !== 64 || !crypto.verify('sha256',
		Buffer.from(`${parts[0]}.${parts[1]}`),
		{ key: PUBLIC_KEY, dsaEncoding: 'ieee-p1363' }, sig)) {
		return 0;
	}
	const c = decodeJson(parts[1]);
	const now = Math.floor(Date.now() / 1000);
	if (c === null || c.iss !== ISSUER ||
		!(c.aud === AUDIENCE ||
			(Array.isArray(c.aud) && c.aud.includes(AUDIENCE))) ||
		!Number.isInteger(c.exp) || c.exp <= 0 || now >= c.exp ||
		!Number.isInteger(c.iat) || c.iat > now + IAT_SKEW_S ||
		('nbf' in c && (!Number.isInteger(c.nbf) ||
			c.nbf > now + IAT_SKEW_S)) ||
		typeof c.sub !== 'string' || !/^[1-9][0-9]{0,18}$/.test(c.sub) ||
		typeof c.username !== 'string' || c.username.length === 0 ||
		Buffer.byteLength(c.username) > 63) {
		return 0;
	}
	const id = Number(c.sub);
	return Number.isSafeInteger(id) ? id : 0;
}

/* Express middleware: req.userId from the bearer token, else 401. */
function requireUser(req, res, next) {
	const h = req.get('authorization') ?? '';
	const m = /^Bearer ([^ ]+)$/i.exec(h);
	const id = m === null ? 0 : verifyToken(m[1]);
	if (id === 0) {
		res.set('WWW-Authenticate', 'Bearer');
		replyError(res, 401, 'unauthorized',
			'a valid access token is required');
		return;
	}
	req.userId = id;
	next();
}

/* ---- lists (common/cursor.h, the ?limit= rule) -------------------------- */

const invalid = (res, details) => replyError(res, 422, 'validation_failed',
	'invalid input', details);

/* ?limit=: default 20, else 1..100 in plain decimal digits; null when bad. */
function parseLimit(l) {
	if (l === undefined) {
		return 20;
	}
	if (typeof l !== 'string' || !/^[0-9]{1,19}$/.test(l) ||
		Number(l) < 1 || Number(l) > 100) {
		return null;
	}
	return Number(l);
}

const cursorOf = (key) => Buffer.from(key).toString('base64url');

/* A cursor's key split at '|', or null when malformed (sc_cursor_decode:
 * canonical unpadded base64url, at most 256 bytes, no control bytes). */
function cursorParts(c) {
	if (typeof c !== 'string' || c.length === 0 || c.length % 4 === 1 ||
		c.length > 348 || !B64URL.test(c)) {
		return null;
	}
	const buf = Buffer.from(c, 'base64url');
	if (buf.toString('base64url') !== c || buf.length > 256 ||
		buf.some((b) => b < 0x20 || b === 0x7f)) {
		return null;
	}
	return buf.toString('latin1').split('|');
}

/* "YYYY-MM-DD" naming a real day of years 0001-9999. */
function validDate(s) {
	const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(s);
	if (m === null) {
		return false;
	}
	const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
	const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
	const max = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31][mo - 1];
	return y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= max;
}

const ID = /^[1-9][0-9]{0,18}$/;
const validId = (s) => ID.test(s) && BigInt(s) <= 9223372036854775807n;

const ISO = (col) => `to_char(${col} AT TIME ZONE 'UTC', ` +
	'\'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"\')';

/* ---- GET /api/events (services/events/event.c) -------------------------- */

const EVENT_COLS = 'e.id, e.worldsdc_id, e.name, e.location, ' +
	"to_char(e.start_date, 'YYYY-MM-DD') AS start_date, " +
	"to_char(e.end_date, 'YYYY-MM-DD') AS end_date, " +
	'e.description, e.participant_count';
const JOINED_COL = 'EXISTS (SELECT 1 FROM events.participants p ' +
	'WHERE p.event_id = e.id AND p.user_id = $1) AS joined';
const TODAY_UTC = "(now() AT TIME ZONE 'UTC')::date";

const eventJson = (r) => ({
	id: r.id,
	worldsdcId: r.worldsdc_id,
	name: r.name,
	location: r.location,
	startDate: r.start_date,
	endDate: r.end_date,
	description: r.description,
	participantCount: r.participant_count,
	joined: r.joined,
});

/* q as an ILIKE pattern: a substring, \ % and _ literal (ESCAPE '\'). */
const likePattern = (q) => `%${q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;

async function eventsList(req, res) {
	const details = {};
	const { when, q, cursor } = req.query;
	let past = false;
	let whenOk = true;
	if (when === 'past') {
		past = true;
	} else if (when !== undefined && when !== 'upcoming') {
		details.when = 'must be upcoming or past';
		whenOk = false;
	}
	if (q !== undefined && (typeof q !== 'string' || [...q].length > 100)) {
		details.q = 'must be at most 100 characters';
	}
	const limit = parseLimit(req.query.limit);
	if (limit === null) {
		details.limit = 'must be an integer from 1 to 100';
	}
	let after = null;
	if (cursor !== undefined && cursor !== '' && whenOk) {
		const k = cursorParts(cursor);
		if (k === null || k.length !== 3 || k[0] !== (past ? 'p' : 'u') ||
			!validDate(k[1]) || !validId(k[2])) {
			details.cursor = 'is not valid';
		} else {
			after = k;
		}
	}
	if (Object.keys(details).length > 0) {
		invalid(res, details);
		return;
	}

	// One statement per shape, as the daemon builds them.
	const params = [req.userId, limit + 1];
	let cursorSql = '';
	let qSql = '';
	if (after !== null) {
		cursorSql = ` AND (e.start_date, e.id) ${past ? '<' : '>'} ` +
			`($${params.length + 1}::date, $${params.length + 2}::bigint)`;
		params.push(after[1], after[2]);
	}
	if (typeof q === 'string' && q !== '') {
		const n = params.length + 1;
		qSql = ` AND (e.name ILIKE $${n} ESCAPE '\\'` +
			` OR e.location ILIKE $${n} ESCAPE '\\')`;
		params.push(likePattern(q));
	}
	const dir = past ? 'DESC' : 'ASC';
	const sql = `SELECT ${EVENT_COLS}, ${JOINED_COL} FROM events.events e ` +
		`WHERE e.end_date ${past ? '<' : '>='} ${TODAY_UTC}${cursorSql}` +
		`${qSql} ORDER BY e.start_date ${dir}, e.id ${dir} LIMIT $2`;
	let rows;
	try {
		rows = await query(eventsDb, sql, params);
	} catch (e) {
		dbFailed(res, e);
		return;
	}
	const items = rows.slice(0, limit);
	const last = items[items.length - 1];
	res.json({
		items: items.map(eventJson),
		nextCursor: rows.length > limit
			? cursorOf(`${past ? 'p' : 'u'}|${last.start_date}|${last.id}`)
			: null,
	});
}

/* ---- public profiles (common/profiles.h's cache) ------------------------ */

const profileCache = new Map(); // id -> {at, profile}

async function profiles(ids) {
	const now = Date.now();
	const out = new Map();
	const missing = [];
	for (const id of new Set(ids)) {
		const c = profileCache.get(id);
		if (c !== undefined && now - c.at < PROFILE_TTL_MS) {
			out.set(id, c.profile);
		} else {
			missing.push(id);
		}
	}
	if (missing.length > 0) {
		const rows = await query(authDb, `SELECT id, username,
			display_name, avatar_url, wsdc_id, bio, ${ISO('created_at')}
			AS created_at FROM auth.users WHERE id = ANY($1::bigint[])`,
		[missing]);
		for (const r of rows) {
			const profile = {
				id: r.id,
				username: r.username,
				displayName: r.display_name,
				avatarUrl: r.avatar_url,
				wsdcId: r.wsdc_id,
				bio: r.bio,
				createdAt: r.created_at,
			};
			profileCache.set(r.id, { at: now, profile });
			out.set(r.id, profile);
		}
	}
	return out;
}

/* ---- GET /api/matches (services/matchmaking/routes.c) ------------------- */

const STATUSES = ['pending', 'accepted', 'rejected', 'cancelled',
	'completed'];
/* A cursor's time past this (about the year 5100) cannot come from us. */
const CURSOR_US_MAX = 100000000000000000n;

// MM_MATCH_COLS and the list query of routes.c: each side of the match
// walks its own index, the outer query merges them.
const MATCH_COLS = 'id, event_id, status, requester_id, target_id, ' +
	`${ISO('created_at')} AS created_at, ` +
	`${ISO('updated_at')} AS updated_at, ` +
	'(extract(epoch FROM created_at) * 1000000)::bigint AS created_us';
const listSide = (member) => '(SELECT * FROM matchmaking.matches WHERE ' +
	`${member} = $1` +
	' AND ($2::text IS NULL OR status = $2)' +
	' AND ($3::bigint IS NULL OR event_id = $3)' +
	' AND ($4::bigint IS NULL OR (created_at, id) <' +
	" ('epoch'::timestamptz + $4::bigint * interval '1 microsecond'," +
	' $5::bigint))' +
	' ORDER BY created_at DESC, id DESC LIMIT $6)';
const MATCHES_SQL = `SELECT ${MATCH_COLS} FROM (${listSide('requester_id')}` +
	` UNION ALL ${listSide('target_id')}) AS m` +
	' ORDER BY m.created_at DESC, m.id DESC LIMIT $6';

/* "<created_us>|<id>" of the last item shown; [us, id] or null. */
function matchCursor(c) {
	const k = cursorParts(c);
	if (k === null || k.length !== 2 || !validId(k[0]) || !validId(k[1]) ||
		BigInt(k[0]) > CURSOR_US_MAX) {
		return null;
	}
	return k;
}

async function matchesList(req, res) {
	const details = {};
	const { status, eventId, cursor } = req.query;
	const l = req.query.limit;
	let limit = 20;
	let after = null;
	if (status !== undefined && !STATUSES.includes(status)) {
		details.status = `must be one of ${STATUSES.join(', ')}`;
	}
	if (eventId !== undefined && (typeof eventId !== 'string' ||
		!validId(eventId))) {
		details.eventId = 'must be a positive integer';
	}
	if (l !== undefined) {
		if (typeof l !== 'string' || !validId(l) || BigInt(l) > 100n) {
			details.limit = 'must be an integer from 1 to 100';
		} else {
			limit = Number(l);
		}
	}
	if (cursor !== undefined && (after = matchCursor(cursor)) === null) {
		details.cursor = 'is not valid';
	}
	if (Object.keys(details).length > 0) {
		invalid(res, details);
		return;
	}
	let rows;
	let people;
	try {
		rows = await query(matchesDb, MATCHES_SQL, [req.userId,
			status ?? null, eventId ?? null, after?.[0] ?? null,
			after?.[1] ?? null, limit + 1]);
		people = await profiles(rows.slice(0, limit).flatMap(
			(r) => [r.requester_id, r.target_id]));
	} catch (e) {
		dbFailed(res, e);
		return;
	}
	const items = rows.slice(0, limit);
	const last = items[items.length - 1];
	res.json({
		items: items.map((r) => ({
			id: r.id,
			eventId: r.event_id,
			status: r.status,
			requesterId: r.requester_id,
			targetId: r.target_id,
			requester: people.get(r.requester_id) ?? null,
			target: people.get(r.target_id) ?? null,
			createdAt: r.created_at,
			updatedAt: r.updated_at,
		})),
		nextCursor: rows.length > limit
			? cursorOf(`${last.created_us}|${last.id}`) : null,
	});
}

/* ---- the app ------------------------------------------------------------ */

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.get('/health', (req, res) => res.json({ status: 'ok' }));
app.get('/api/events', requireUser, eventsList);
app.get('/api/matches', requireUser, matchesList);
app.use((req, res) => replyError(res, 404, 'not_found', 'not found'));

const server = app.listen(PORT, ADDR, () => {
	console.log(`listening on ${ADDR}:${PORT}`);
});
server.keepAliveTimeout = 65000;
server.on('error', (e) => {
	console.error(`reference: cannot listen on ${ADDR}:${PORT}: ${e.message}`);
	process.exit(1);
});

function stop() {
	server.close();
	Promise.all([eventsDb.end(), matchesDb.end(), authDb.end()])
		.finally(() => process.exit(0));
	setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
