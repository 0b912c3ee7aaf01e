import { describe, expect, it } from 'vitest';
import { ApiError, detailLines, errorFromAck, errorFromResponse, messageForStatus, networkError } from '../src/lib/errors.js';

describe('errorFromResponse', () => {
  it('keeps the API message, code and details', () => {
    const e = errorFromResponse(409, { error: { code: 'match_exists', message: 'you already have a match', details: { matchId: 4 } } });
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toBeInstanceOf(Error);
    expect([e.status, e.code, e.message, e.details]).toEqual([409, 'match_exists', 'you already have a match', { matchId: 4 }]);
  });

  it('falls back to a sentence for the status when the body has no usable error', () => {
    for (const body of [undefined, null, {}, { error: 'x' }, { error: { code: 'x', message: '' } }, 'text']) {
      const e = errorFromResponse(503, body);
      expect(e.message).toBe(messageForStatus(503));
      expect(e.code).toBe('http_503');
    }
  });

  it('ignores details that are not an object', () => {
    expect(errorFromResponse(422, { error: { code: 'c', message: 'm', details: 'no' } }).details).toBeNull();
  });

  it('has a message for every kind of status', () => {
    expect(messageForStatus(429)).toMatch(/Too many/);
    expect(messageForStatus(500)).toMatch(/server/);
    expect(messageForStatus(418)).toMatch(/418/);
  });
});

describe('errorFromAck', () => {
  it('reads a Socket.IO refusal', () => {
    const e = errorFromAck({ ok: false, error: { code: 'not_participant', message: 'join the event first' } });
    expect([e.code, e.message]).toEqual(['not_participant', 'join the event first']);
  });

  it('copes with a malformed ack', () => {
    expect(errorFromAck(undefined).message).toMatch(/refused/);
    expect(errorFromAck({ ok: false }).code).toBe('error');
  });
});

describe('networkError and detailLines', () => {
  it('says the server cannot be reached', () => {
    const e = networkError(new Error('boom'));
    expect(e.status).toBe(0);
    expect(e.code).toBe('network_error');
    expect(e.cause.message).toBe('boom');
  });

  it('lists the fields of a 422', () => {
    expect(detailLines({ details: { email: 'is not valid', n: 3, password: 'too short' } })).toEqual(['email: is not valid', 'password: too short']);
    expect(detailLines(null)).toEqual([]);
    expect(detailLines({ message: 'x' })).toEqual([]);
  });
});
