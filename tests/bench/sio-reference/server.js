// server.js: the socket.io reference tests/bench/sio.bench.mjs measures the
// signaling daemon's event rooms against: the real `socket.io` package with
// the same two handlers (join_event_room: join the room, ack;
// send_event_message: ack, then event_message to the rest of the room).
// Any auth token is accepted and nothing is stored: it prices the
// transport alone. REF_ADDR (127.0.0.1) and REF_PORT (0: any) pick where
// it listens; it prints "listening on <port>" once it does.
'use strict';

const http = require('node:http');
const { Server } = require('socket.io');

const httpServer = http.createServer();
const io = new Server(httpServer, {
	transports: ['websocket'],
	serveClient: false,
	cors: { origin: true },
});

let nextId = 1;
const validEvent = (d) => d !== null && typeof d === 'object' &&
	Number.isInteger(d.eventId) && d.eventId > 0;

io.on('connection', (socket) => {
	const token = socket.handshake.auth && socket.handshake.auth.token;
	socket.data.userId = typeof token === 'string' ? token.length : 0;

	socket.on('join_event_room', (d, ack) => {
		if (typeof ack !== 'function') {
			return;
		}
		if (!validEvent(d)) {
			ack({ ok: false, error: { code: 'validation_failed' } });
			return;
		}
		socket.join(`event:${d.eventId}`);
		ack({ ok: true, eventId: d.eventId, users: [] });
	});

	socket.on('send_event_message', (d, ack) => {
		if (typeof ack !== 'function') {
			return;
		}
		if (!validEvent(d) || typeof d.content !== 'string') {
			ack({ ok: false, error: { code: 'validation_failed' } });
			return;
		}
		const room = `event:${d.eventId}`;
		if (!socket.rooms.has(room)) {
			ack({ ok: false, error: { code: 'not_participant' } });
			return;
		}
		const message = {
			id: nextId++,
			eventId: d.eventId,
			userId: socket.data.userId,
			type: 'text',
			content: d.content.trim(),
			createdAt: new Date().toISOString(),
		};
		ack({ ok: true, message });
		socket.to(room).emit('event_message', message);
	});
});

httpServer.listen(Number(process.env.REF_PORT || 0),
	process.env.REF_ADDR || '127.0.0.1', () => {
		console.log(`listening on ${httpServer.address().port}`);
	});
for (const sig of ['SIGTERM', 'SIGINT']) {
	process.on(sig, () => {
		io.close();
		process.exit(0);
	});
}
