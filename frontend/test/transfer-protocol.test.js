import { describe, expect, test } from 'vitest';

import {
  decode, encode, ERR, MAX_CHUNK_SIZE, MAX_TEXT_FRAME, newTransferId,
  PROTOCOL_VERSION, ProtocolError, safeMediaType, sanitizeFileName, utf8Length,
  validate,
} from '../src/transfer/protocol.js';

const SHA = 'a'.repeat(64);
const ID = 'abc_DEF-123';

// The code of the ProtocolError fn throws (fails the test otherwise).
function codeOf(fn) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return e.code;
  }
  throw new Error('expected a ProtocolError, nothing was thrown');
}

describe('encode and decode', () => {
  const samples = {
    meta: { id: ID, name: 'heat 3.mp4', size: 123456789, type: 'video/mp4',
      chunkSize: 262144 },
    accept: { id: ID },
    decline: { id: ID, reason: 'not now' },
    end: { id: ID, size: 0, sha256: SHA },
    verdict: { id: ID, ok: true, sha256: SHA },
    cancel: { id: ID, reason: '' },
    error: { code: 'malformed', message: 'bad frame' },
  };

  for (const [type, fields] of Object.entries(samples)) {
    test(`a ${type} message survives the round trip`, () => {
      const text = encode(type, fields);
      expect(typeof text).toBe('string');
      expect(decode(text)).toEqual({ v: PROTOCOL_VERSION, t: type, ...fields });
    });
  }

  test('every control message carries the protocol version', () => {
    expect(JSON.parse(encode('accept', { id: ID })).v).toBe(1);
  });

  test('unknown fields are dropped, not refused', () => {
    const text = JSON.stringify({ v: 1, t: 'accept', id: ID, extra: 1 });
    expect(decode(text)).toEqual({ v: 1, t: 'accept', id: ID });
  });

  test('encode refuses an invalid message of our own', () => {
    expect(codeOf(() => encode('meta', { id: ID }))).toBe(ERR.MALFORMED);
    expect(codeOf(() => encode('nope', {}))).toBe(ERR.UNKNOWN_MESSAGE);
  });

  test('binary frames decode to chunks, keeping the exact bytes of a view', () => {
    const ab = new Uint8Array([1, 2, 3]).buffer;
    expect(decode(ab)).toEqual({ t: 'chunk', data: new Uint8Array([1, 2, 3]) });
    const big = new Uint8Array([9, 8, 7, 6, 5]);
    const view = big.subarray(1, 4);
    const c = decode(view);
    expect(Array.from(c.data)).toEqual([8, 7, 6]);
    expect(Array.from(decode(Buffer.from([4, 5])).data)).toEqual([4, 5]);
    expect(decode(new ArrayBuffer(0)).data.byteLength).toBe(0);
  });
});

describe('malformed input is a clear protocol error', () => {
  const cases = [
    ['text that is not JSON', '{"v":1,', ERR.MALFORMED],
    ['an empty text frame', '', ERR.MALFORMED],
    ['JSON null', 'null', ERR.MALFORMED],
    ['a JSON array', '[1,2]', ERR.MALFORMED],
    ['a JSON number', '42', ERR.MALFORMED],
    ['no version', '{"t":"accept","id":"x"}', ERR.UNSUPPORTED_VERSION],
    ['another version', '{"v":2,"t":"accept","id":"x"}', ERR.UNSUPPORTED_VERSION],
    ['a version as a string', '{"v":"1","t":"accept","id":"x"}',
      ERR.UNSUPPORTED_VERSION],
    ['no type', '{"v":1,"id":"x"}', ERR.UNKNOWN_MESSAGE],
    ['an unknown type', '{"v":1,"t":"hello","id":"x"}', ERR.UNKNOWN_MESSAGE],
    ['a type from Object.prototype', '{"v":1,"t":"toString"}',
      ERR.UNKNOWN_MESSAGE],
    ['an id with a space', '{"v":1,"t":"accept","id":"a b"}', ERR.MALFORMED],
    ['an id too long', `{"v":1,"t":"accept","id":"${'x'.repeat(65)}"}`,
      ERR.MALFORMED],
    ['a numeric id', '{"v":1,"t":"accept","id":7}', ERR.MALFORMED],
    ['meta without a name', `{"v":1,"t":"meta","id":"x","size":1,"type":"",` +
      '"chunkSize":1}', ERR.MALFORMED],
    ['meta with an empty name', `{"v":1,"t":"meta","id":"x","name":"",` +
      '"size":1,"type":"","chunkSize":1}', ERR.MALFORMED],
    ['a negative size', `{"v":1,"t":"meta","id":"x","name":"a","size":-1,` +
      '"type":"","chunkSize":1}', ERR.MALFORMED],
    ['a fractional size', `{"v":1,"t":"meta","id":"x","name":"a","size":1.5,` +
      '"type":"","chunkSize":1}', ERR.MALFORMED],
    ['a size past 2^53', `{"v":1,"t":"meta","id":"x","name":"a",` +
      '"size":9007199254740993,"type":"","chunkSize":1}', ERR.MALFORMED],
    ['a size as a string', `{"v":1,"t":"meta","id":"x","name":"a","size":"1",` +
      '"type":"","chunkSize":1}', ERR.MALFORMED],
    ['a chunk size over the maximum', `{"v":1,"t":"meta","id":"x","name":"a",` +
      `"size":1,"type":"","chunkSize":${MAX_CHUNK_SIZE + 1}}`, ERR.MALFORMED],
    ['a zero chunk size', `{"v":1,"t":"meta","id":"x","name":"a","size":1,` +
      '"type":"","chunkSize":0}', ERR.MALFORMED],
    ['an uppercase SHA-256', `{"v":1,"t":"end","id":"x","size":1,` +
      `"sha256":"${'A'.repeat(64)}"}`, ERR.MALFORMED],
    ['a short SHA-256', `{"v":1,"t":"end","id":"x","size":1,` +
      `"sha256":"${'a'.repeat(63)}"}`, ERR.MALFORMED],
    ['a verdict without ok', `{"v":1,"t":"verdict","id":"x",` +
      `"sha256":"${SHA}"}`, ERR.MALFORMED],
    ['a verdict with ok as a string', `{"v":1,"t":"verdict","id":"x",` +
      `"ok":"true","sha256":"${SHA}"}`, ERR.MALFORMED],
    ['a cancel without a reason', '{"v":1,"t":"cancel","id":"x"}', ERR.MALFORMED],
    ['a reason too long', `{"v":1,"t":"cancel","id":"x","reason":` +
      `"${'r'.repeat(201)}"}`, ERR.MALFORMED],
    ['an error with a bad code', '{"v":1,"t":"error","code":"Bad Code",' +
      '"message":"m"}', ERR.MALFORMED],
  ];
  for (const [what, text, code] of cases) {
    test(`${what}: ${code}`, () => {
      expect(codeOf(() => decode(text))).toBe(code);
    });
  }

  test('a text frame over 4096 bytes is refused before parsing', () => {
    const text = JSON.stringify({ v: 1, t: 'cancel', id: 'x',
      reason: 'é'.repeat(2100) });
    expect(utf8Length(text)).toBeGreaterThan(MAX_TEXT_FRAME);
    expect(codeOf(() => decode(text))).toBe(ERR.TOO_LARGE);
  });

  test('neither text nor binary (a Blob, a number, an object) is refused', () => {
    expect(codeOf(() => decode(new Blob(['x'])))).toBe(ERR.MALFORMED);
    expect(codeOf(() => decode(7))).toBe(ERR.MALFORMED);
    expect(codeOf(() => decode({ v: 1, t: 'accept', id: 'x' })))
      .toBe(ERR.MALFORMED);
    expect(codeOf(() => decode(undefined))).toBe(ERR.MALFORMED);
  });

  test('the error names the field at fault', () => {
    expect(() => validate({ v: 1, t: 'end', id: 'x', size: 1, sha256: 'z' }))
      .toThrow(/end\.sha256/);
  });
});

describe('helpers', () => {
  test('utf8Length counts like TextEncoder', () => {
    for (const s of ['', 'abc', 'é', '€', '😀', 'a😀é€\u{10ffff}', '\ud800x']) {
      expect(utf8Length(s)).toBe(new TextEncoder().encode(s).byteLength);
    }
  });

  test('sanitizeFileName drops paths, control characters and leading dots', () => {
    expect(sanitizeFileName('heat 3.mp4')).toBe('heat 3.mp4');
    expect(sanitizeFileName('../../etc/passwd')).toBe('passwd');
    expect(sanitizeFileName('C:\\Users\\me\\clip.mov')).toBe('clip.mov');
    expect(sanitizeFileName('a\u0000b\nc.mp4')).toBe('a_b_c.mp4');
    expect(sanitizeFileName('.hidden')).toBe('hidden');
    expect(sanitizeFileName('')).toBe('video');
    expect(sanitizeFileName('...')).toBe('video');
    const long = sanitizeFileName(`${'x'.repeat(400)}.mp4`);
    expect(long.length).toBe(255);
    expect(long.endsWith('.mp4')).toBe(true);
  });

  test('a received file keeps only a video MIME type', () => {
    expect(safeMediaType('video/mp4')).toBe('video/mp4');
    expect(safeMediaType('Video/QuickTime')).toBe('video/quicktime');
    expect(safeMediaType('video/x-matroska')).toBe('video/x-matroska');
    for (const t of ['text/html', 'image/svg+xml', 'application/javascript',
      '', 'video/', 'video/mp4; charset=x', 'video/mp4\ntext/html', null]) {
      expect(safeMediaType(t)).toBe('application/octet-stream');
    }
  });

  test('transfer ids are valid protocol ids and differ', () => {
    const a = newTransferId();
    const b = newTransferId();
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a).not.toBe(b);
    expect(() => encode('accept', { id: a })).not.toThrow();
  });
});
