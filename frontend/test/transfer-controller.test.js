// The controller between the socket's signaling events and the sessions,
// with a fake relay and fake RTCPeerConnections: the signals it sends, the
// order of candidates, refusals, timeouts, crossed offers, cancel, and
// cleanup on unmount.
import crypto from 'node:crypto';

import { describe, expect, test } from 'vitest';

import { TransferController } from '../src/transfer/controller.js';
import { createSink } from '../src/transfer/sink.js';
import { bytes, FakeRelay, fakeWebRTC, sameBytes, until } from './transfer-fakes.js';

const MiB = 1024 * 1024;
const MATCH = 77;
const ana = { id: 1, username: 'ana', displayName: 'Ana' };
const ben = { id: 2, username: 'ben', displayName: null };

function setup({ webrtc = {}, env = {} } = {}) {
  const relay = new FakeRelay();
  const rtc = fakeWebRTC(webrtc);
  const api = { get: async (p) => {
    expect(p).toBe('/api/chat/ice-servers');
    return { iceServers: [{ urls: ['stun:stun.example:3478'] }], ttl: 3600 };
  } };
  let ids = 0;
  const make = (me, partner) => {
    const c = new TransferController({ matchId: MATCH, socket: relay.socket(me.id),
      me, partner, api, env: { RTCPeerConnection: rtc.RTCPeerConnection,
        createSink: (info) => createSink(info, { storage: {} }),
        newId: () => `sid${me.id}x${(ids += 1)}`, ...env } });
    c.start();
    return c;
  };
  const a = make(ana, ben);
  const b = make(ben, ana);
  return { relay, rtc, a, b };
}

const file = (n = 3 * MiB + 1, name = 'heat 3.mp4') =>
  new File([bytes(n, n)], name, { type: 'video/mp4' });

describe('the transfer controller', () => {
  test('offer, answer, trickled candidates, accept, done on both sides', async () => {
    const { relay, rtc, a, b } = setup();
    const f = file();
    await a.sendFile(f);
    await until(() => b.getSnapshot().phase === 'incoming');
    expect(b.getSnapshot().file).toEqual({ name: 'heat 3.mp4', size: f.size,
      type: 'video/mp4' });
    expect(a.getSnapshot().phase).toBe('offered');
    b.accept();
    await until(() => a.getSnapshot().phase === 'done' &&
      b.getSnapshot().phase === 'done');

    // signals: the offer first, then candidates, all tagged with the sid
    const fromA = relay.log.filter((e) => e.from === 1);
    expect(fromA[0].ev).toBe('webrtc_offer');
    expect(fromA[0].payload).toEqual({ matchId: MATCH, offer: { sid: 'sid1x1',
      type: 'offer', sdp: expect.any(String) } });
    const candA = fromA.filter((e) => e.ev === 'webrtc_ice_candidate');
    expect(candA.length).toBe(2);
    for (const c of candA) {
      expect(c.payload.candidate).toMatchObject({ sid: 'sid1x1',
        candidate: expect.stringMatching(/^candidate:/), sdpMid: '0',
        sdpMLineIndex: 0 });
    }
    const fromB = relay.log.filter((e) => e.from === 2);
    expect(fromB[0].ev).toBe('webrtc_answer');
    expect(fromB[0].payload.answer).toMatchObject({ sid: 'sid1x1',
      type: 'answer' });
    // ICE servers from the API; an ordered channel
    expect(rtc.made[0].config.iceServers).toEqual([{ urls:
      ['stun:stun.example:3478'] }]);
    expect(rtc.made[0].channel.options).toEqual({ ordered: true });
    // the remote candidates were applied without the sid
    expect(rtc.made[1].added.length).toBe(2);
    expect(rtc.made[1].added[0]).not.toHaveProperty('sid');

    const r = b.getSnapshot().received;
    expect(r.name).toBe('heat 3.mp4');
    expect(r.sha256).toBe(crypto.createHash('sha256')
      .update(new Uint8Array(await f.arrayBuffer())).digest('hex'));
    expect(r.url).toMatch(/^blob:/);
    const saved = await (await fetch(r.url)).arrayBuffer().catch(() => null);
    if (saved) {
      expect(sameBytes(new Uint8Array(saved), new Uint8Array(await f.arrayBuffer())))
        .toBe(true);
    }
    expect(a.getSnapshot().sha256).toBe(r.sha256);
    await until(() => rtc.made.every((pc) => pc.closed));
    a.dispose();
    b.dispose();
  });

  test('"partner_offline": a clear message and the link fallback', async () => {
    const { relay, a } = setup();
    relay.sockets.get(2).attached = false;
    await a.sendFile(file(10));
    await until(() => a.getSnapshot().phase === 'failed');
    expect(a.getSnapshot().error).toMatchObject({ code: 'partner_offline',
      fallback: true });
    expect(a.getSnapshot().error.message).toMatch(/not on this page/);
  });

  test('"match_not_active": no fallback offered', async () => {
    const { relay, a } = setup();
    relay.refuse = (ev) => (ev === 'webrtc_offer' ? { code: 'match_not_active',
      message: 'no' } : null);
    await a.sendFile(file(10));
    await until(() => a.getSnapshot().phase === 'failed');
    expect(a.getSnapshot().error.fallback).toBe(false);
    expect(a.getSnapshot().error.message).toMatch(/no longer active/);
  });

  test('no connection within the timeout: an error and the fallback', async () => {
    const { a, b, rtc } = setup({ webrtc: { connect: false },
      env: { connectTimeoutMs: 60 } });
    await a.sendFile(file(10));
    await until(() => a.getSnapshot().phase === 'failed');
    expect(a.getSnapshot().error.fallback).toBe(true);
    expect(a.getSnapshot().error.message).toMatch(/Could not connect to ben/);
    // the receiver, offered nothing yet, stays quiet
    await until(() => rtc.made.length === 2 && rtc.made[1].closed);
    expect(b.getSnapshot().phase).toBe('idle');
    expect(rtc.made[0].closed).toBe(true);
  });

  test('crossed offers: the lower user id sends, the other receives', async () => {
    const { a, b } = setup();
    await Promise.all([a.sendFile(file(1000, 'a.mp4')),
      b.sendFile(file(1000, 'b.mp4'))]);
    await until(() => b.getSnapshot().phase === 'incoming');
    expect(b.getSnapshot().file.name).toBe('a.mp4');
    expect(a.getSnapshot().role).toBe('send');
    b.accept();
    await until(() => a.getSnapshot().phase === 'done');
    expect(b.getSnapshot().received.name).toBe('a.mp4');
  });

  test('an offer while sending is answered "busy"', async () => {
    const { relay, a, b } = setup();
    await a.sendFile(file(1000));
    await until(() => b.getSnapshot().phase === 'incoming');
    // a stray offer from "ben" reaches ana while she is sending
    for (const fn of relay.sockets.get(1).handlers.get('webrtc_offer')) {
      fn({ matchId: MATCH, fromUserId: 2, offer: { sid: 'other', type: 'offer',
        sdp: 'x' } });
    }
    await until(() => relay.log.some((e) => e.ev === 'webrtc_answer' &&
      e.payload.answer.decline === 'busy'));
    expect(a.getSnapshot().phase).toBe('offered');
  });

  test('signals for another match, from someone else, or an old sid are ignored', async () => {
    const { relay, b } = setup();
    const h = [...relay.sockets.get(2).handlers.get('webrtc_offer')][0];
    h({ matchId: MATCH + 1, fromUserId: 1, offer: { sid: 's', type: 'offer', sdp: 'x' } });
    h({ matchId: MATCH, fromUserId: 9, offer: { sid: 's', type: 'offer', sdp: 'x' } });
    h({ matchId: MATCH, fromUserId: 1, offer: { type: 'offer', sdp: 'x' } });
    h(null);
    expect(b.getSnapshot().phase).toBe('idle');
  });

  test('cancel mid-transfer cleans up both sides; a second transfer works', async () => {
    const { a, b, rtc } = setup({ webrtc: { rate: 256 * 1024 } });
    await a.sendFile(file(24 * MiB));
    await until(() => b.getSnapshot().phase === 'incoming');
    b.accept();
    // (The session's count: the snapshot's progress is redrawn only every
    // PROGRESS_EVERY_MS, by when a fast fake channel may be done.)
    await until(() => (b.conn?.session?.received ?? 0) > 2 * MiB, 10000);
    expect(b.getSnapshot().phase).toBe('transferring');
    a.cancel();
    await until(() => b.getSnapshot().phase === 'cancelled', 10000);
    expect(a.getSnapshot().phase).toBe('cancelled');
    expect(a.getSnapshot().cancelledBy).toBe('me');
    expect(b.getSnapshot().cancelledBy).toBe('partner');
    expect(b.getSnapshot().received).toBeNull();
    await until(() => rtc.made.every((pc) => pc.closed), 10000);

    await a.sendFile(file(1 * MiB, 'second.mp4'));
    await until(() => b.getSnapshot().phase === 'incoming');
    b.accept();
    await until(() => b.getSnapshot().phase === 'done' &&
      a.getSnapshot().phase === 'done', 10000);
    expect(b.getSnapshot().received.name).toBe('second.mp4');
  });

  test('unmount removes the socket listeners and closes the connection', async () => {
    const { relay, rtc, a, b } = setup();
    await a.sendFile(file(1000));
    await until(() => b.getSnapshot().phase === 'incoming');
    const s = relay.sockets.get(1);
    for (const ev of ['webrtc_offer', 'webrtc_answer', 'webrtc_ice_candidate']) {
      expect(s.listenerCount(ev)).toBe(1);
    }
    a.dispose();
    for (const ev of ['webrtc_offer', 'webrtc_answer', 'webrtc_ice_candidate']) {
      expect(s.listenerCount(ev)).toBe(0);
    }
    await until(() => rtc.made[0].closed);
    // the receiver learns the sender left
    await until(() => ['cancelled', 'failed'].includes(b.getSnapshot().phase));
    b.dispose();
  });
});
