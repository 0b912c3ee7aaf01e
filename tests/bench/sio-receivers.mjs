// sio-receivers.mjs: a group of socket.io-client sockets for sio.bench.mjs,
// counting what each receives. The bench runs one group per worker thread
// (so one event loop does not read a whole room's copies one after the
// other and the latency measured is the server's, not the queue in one
// client), and one group in its main thread for the senders. A group
// connects, joins a room, counts each phase's event_message per socket with
// its latency (send and receive times are both performance.timeOrigin +
// performance.now(), one clock for every thread), and reports.
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

import { io } from 'socket.io-client';

const CONCURRENCY = 50;

export const clock = () => performance.timeOrigin + performance.now();

/* fn(0..n-1), at most `limit` at a time; their results in order. */
export async function pool(n, limit, fn) {
	const out = new Array(n);
	let next = 0;
	const worker = async () => {
		while (next < n) {
			const i = next++;
			out[i] = await fn(i);
		}
	};
	await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
	return out;
}

function connectOne(url, token) {
	return new Promise((resolve, reject) => {
		const s = io(url, {
			forceNew: true, reconnection: false, transports: ['websocket'],
			auth: { token }, timeout: 30000,
		});
		s.once('connect', () => resolve(s));
		s.once('connect_error', (e) => {
			s.close();
			reject(new Error(`connect: ${e.message}`));
		});
	});
}

export class Group {
	constructor(url, tokens) {
		this.url = url;
		this.tokens = tokens;
		this.sockets = [];
		this.disconnects = 0;
		this.phase = null;
	}

	async connect() {
		const t0 = performance.now();
		this.sockets = new Array(this.tokens.length);
		await pool(this.tokens.length, CONCURRENCY, async (i) => {
			const s = await connectOne(this.url, this.tokens[i]);
			s.on('disconnect', () => { this.disconnects++; });
			s.on('event_message', (m) => this.received(i, m));
			this.sockets[i] = s;
		});
		return { ms: performance.now() - t0 };
	}

	async join(eventId) {
		await pool(this.sockets.length, CONCURRENCY, async (i) => {
			const r = await this.sockets[i].timeout(60000)
				.emitWithAck('join_event_room', { eventId });
			if (r === null || typeof r !== 'object' || r.ok !== true) {
				throw new Error(
					`join_event_room: ack ${JSON.stringify(r).slice(0, 200)}`);
			}
		});
		return {};
	}

	startPhase(name, expected) {
		this.phase = {
			name, got: 0, stray: 0, lastAt: 0,
			lat: new Float64Array(Math.max(16, expected)),
			perSocket: new Int32Array(this.sockets.length),
		};
		return {};
	}

	received(i, m) {
		const now = clock();
		const p = this.phase;
		const c = typeof m?.content === 'string' ? m.content.split('|') : [];
		if (p === null || c[0] !== p.name) {
			if (p !== null) {
				p.stray++;
			}
			return;
		}
		if (p.got === p.lat.length) {
			const bigger = new Float64Array(p.lat.length * 2);
			bigger.set(p.lat);
			p.lat = bigger;
		}
		p.lat[p.got++] = now - Number(c[2]);
		p.perSocket[i]++;
		p.lastAt = now;
	}

	count() {
		const p = this.phase;
		return { got: p?.got ?? 0, lastAt: p?.lastAt ?? 0 };
	}

	report() {
		const p = this.phase;
		return {
			got: p.got, stray: p.stray, lastAt: p.lastAt,
			lat: p.lat.slice(0, p.got), perSocket: p.perSocket,
		};
	}

	alive() {
		return {
			connected: this.sockets.filter((s) => s?.connected).length,
			disconnects: this.disconnects,
		};
	}

	close() {
		for (const s of this.sockets) {
			s?.close();
		}
		this.sockets = [];
		return {};
	}
}

// As a worker: one group, driven by {id, op, args} messages, each answered
// {id, result} or {id, error}.
if (!isMainThread && parentPort !== null) {
	const group = new Group(workerData.url, workerData.tokens);
	parentPort.on('message', async ({ id, op, args }) => {
		try {
			const result = await group[op](...(args ?? []));
			const transfer = result?.lat instanceof Float64Array
				? [result.lat.buffer] : [];
			parentPort.postMessage({ id, result }, transfer);
		} catch (e) {
			parentPort.postMessage({ id, error: String(e?.stack ?? e) });
		}
	});
}
