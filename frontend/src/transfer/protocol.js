// protocol.js: the wire format of a video transfer over one ordered, reliable
// RTCDataChannel between the two members of a match (pure: no DOM, no
// WebRTC; unit-tested in test/transfer-protocol.test.js).
//
// Version 1. Two kinds of frames on the channel:
//
// - Text frames: one JSON object each, at most 4096 bytes, always with
//   `v` (the protocol version, 1) and `t` (the message type):
//
//     t          from      fields                         when
//     ---------  --------  -----------------------------  ---------------------
//     meta       sender    id, name, size, type,          first, once the
//                          chunkSize                      channel is open
//     accept     receiver  id                             the person accepted
//     decline    receiver  id, reason                     the person declined
//     end        sender    id, size, sha256               after the last chunk
//     verdict    receiver  id, ok, sha256                 after `end`
//     cancel     either    id, reason                     any time until done
//     error      either    code, message                  a protocol error; the
//                                                         sender of it closes
//
//   `id` (1-64 of [A-Za-z0-9_-]) names the transfer; a message with another
//   transfer's id is a protocol error. `size` is the file's size in bytes
//   (an integer, 0 to 2^53 - 1), `type` its MIME type ('' when unknown),
//   `name` its file name (1-255 characters, shown to the receiver and used
//   as the download name after sanitizeFileName), `chunkSize` the largest
//   binary frame that will follow (1 to MAX_CHUNK_SIZE). `sha256` is 64
//   lowercase hex digits: in `end` the SHA-256 of every byte sent, computed
//   by the sender incrementally as it read the file; in `verdict` the
//   receiver's own, computed as the chunks arrived; `ok` says they match.
//   `reason` is free text up to 200 characters ('' allowed). Unknown fields
//   are ignored (additions within a version stay compatible); a different
//   `v` is refused (`unsupported_version`).
//
// - Binary frames: the file's bytes, in order, sender to receiver only,
//   between `accept` and `end`; each 1..chunkSize bytes, and together
//   exactly `size` bytes. No header: the channel is ordered and reliable, so
//   a frame's offset is the sum of the ones before it.
//
// The exchange:
//
//   sender                                  receiver
//   meta {id,name,size,type,chunkSize}  ->
//                                       <-  accept {id}  |  decline {id,reason}
//   <binary chunk> x N                  ->
//   end {id,size,sha256}                ->
//                                       <-  verdict {id,ok,sha256}
//
// Either side may send `cancel` until the verdict; after sending or
// receiving one, nothing else is sent (binary frames the sender had queued
// still arrive and are dropped). Anything malformed (not JSON, not an
// object, a missing or ill-typed field, a text frame over 4096 bytes, a
// binary frame over chunkSize or past size) or unexpected (a valid message
// in the wrong state, e.g. a chunk before `accept`) is a protocol error:
// the side that sees it sends `error` {code, message}, shows it and closes
// the connection. Nobody waits forever: the sessions (session.js) also time
// out a silent peer.

export const PROTOCOL_VERSION = 1;
export const MAX_CHUNK_SIZE = 256 * 1024;
export const MAX_TEXT_FRAME = 4096;
export const MAX_NAME_LENGTH = 255;
export const MAX_REASON_LENGTH = 200;
export const MAX_SIZE = Number.MAX_SAFE_INTEGER;

// Error codes of ProtocolError (and of `error` messages).
export const ERR = Object.freeze({
  MALFORMED: 'malformed',
  UNSUPPORTED_VERSION: 'unsupported_version',
  UNKNOWN_MESSAGE: 'unknown_message',
  UNEXPECTED_MESSAGE: 'unexpected_message',
  WRONG_TRANSFER: 'wrong_transfer',
  TOO_LARGE: 'too_large',
  SIZE_MISMATCH: 'size_mismatch',
  TIMEOUT: 'timeout',
});

export class ProtocolError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const SHA_RE = /^[0-9a-f]{64}$/;

// The fields each type carries, with their checks; `error` is checked
// separately (it has no id).
const FIELDS = {
  meta: { id: 'id', name: 'name', size: 'size', type: 'mime', chunkSize: 'chunk' },
  accept: { id: 'id' },
  decline: { id: 'id', reason: 'reason' },
  end: { id: 'id', size: 'size', sha256: 'sha' },
  verdict: { id: 'id', ok: 'bool', sha256: 'sha' },
  cancel: { id: 'id', reason: 'reason' },
  error: { code: 'code', message: 'message' },
};

export const MESSAGE_TYPES = Object.freeze(Object.keys(FIELDS));

const isInt = (x) => typeof x === 'number' && Number.isSafeInteger(x);

// Why `value` is not a valid field of kind `kind`, or null when it is.
function fieldProblem(kind, value) {
  switch (kind) {
    case 'id':
      return typeof value === 'string' && ID_RE.test(value) ? null :
        'must be 1-64 characters of A-Z, a-z, 0-9, _ and -';
    case 'name':
      return typeof value === 'string' && value.length >= 1 &&
        value.length <= MAX_NAME_LENGTH ? null :
        `must be a string of 1-${MAX_NAME_LENGTH} characters`;
    case 'size':
      return isInt(value) && value >= 0 ? null :
        'must be a whole number of bytes';
    case 'mime':
      return typeof value === 'string' && value.length <= 255 ? null :
        'must be a string of at most 255 characters';
    case 'chunk':
      return isInt(value) && value >= 1 && value <= MAX_CHUNK_SIZE ? null :
        `must be a whole number from 1 to ${MAX_CHUNK_SIZE}`;
    case 'sha':
      return typeof value === 'string' && SHA_RE.test(value) ? null :
        'must be 64 lowercase hex digits';
    case 'bool':
      return typeof value === 'boolean' ? null : 'must be true or false';
    case 'reason':
      return typeof value === 'string' && value.length <= MAX_REASON_LENGTH ?
        null : `must be a string of at most ${MAX_REASON_LENGTH} characters`;
    case 'code':
      return typeof value === 'string' && /^[a-z_]{1,40}$/.test(value) ?
        null : 'must be a short lowercase code';
    case 'message':
      return typeof value === 'string' && value.length <= 500 ? null :
        'must be a string of at most 500 characters';
    default:
      return 'is unknown';
  }
}

// Check a message object {v, t, ...}; returns a new object with only the
// known fields, or throws ProtocolError.
export function validate(msg) {
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    throw new ProtocolError(ERR.MALFORMED, 'a message must be a JSON object');
  }
  if (msg.v !== PROTOCOL_VERSION) {
    throw new ProtocolError(ERR.UNSUPPORTED_VERSION,
      `protocol version ${JSON.stringify(msg.v)} is not supported ` +
      `(this app speaks version ${PROTOCOL_VERSION})`);
  }
  if (typeof msg.t !== 'string' ||
    !Object.prototype.hasOwnProperty.call(FIELDS, msg.t)) {
    throw new ProtocolError(ERR.UNKNOWN_MESSAGE,
      `unknown message type ${JSON.stringify(msg.t)}`);
  }
  const out = { v: PROTOCOL_VERSION, t: msg.t };
  for (const [field, kind] of Object.entries(FIELDS[msg.t])) {
    const problem = fieldProblem(kind, msg[field]);
    if (problem !== null) {
      throw new ProtocolError(ERR.MALFORMED,
        `${msg.t}.${field} ${problem}`);
    }
    out[field] = msg[field];
  }
  return out;
}

// Encode a control message for channel.send(): a JSON string. Throws
// ProtocolError when the message is not valid (a bug on our side) or too
// long.
export function encode(type, fields = {}) {
  const msg = validate({ ...fields, v: PROTOCOL_VERSION, t: type });
  const text = JSON.stringify(msg);
  if (utf8Length(text) > MAX_TEXT_FRAME) {
    throw new ProtocolError(ERR.TOO_LARGE,
      `a ${type} message is longer than ${MAX_TEXT_FRAME} bytes`);
  }
  return text;
}

// Decode what a channel's message event carried: a string is a control
// message ({v, t, ...}), an ArrayBuffer or a typed array a chunk
// ({t: 'chunk', data: Uint8Array}). Throws ProtocolError on anything else.
export function decode(data) {
  if (typeof data === 'string') {
    if (utf8Length(data) > MAX_TEXT_FRAME) {
      throw new ProtocolError(ERR.TOO_LARGE,
        `a text frame is longer than ${MAX_TEXT_FRAME} bytes`);
    }
    let parsed;
    try {
      parsed = JSON.parse(data);
    } catch {
      throw new ProtocolError(ERR.MALFORMED, 'a text frame is not JSON');
    }
    return validate(parsed);
  }
  if (data instanceof ArrayBuffer) {
    return { t: 'chunk', data: new Uint8Array(data) };
  }
  if (ArrayBuffer.isView(data)) {
    return {
      t: 'chunk',
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  }
  throw new ProtocolError(ERR.MALFORMED,
    'a frame is neither text nor binary data');
}

// Bytes of `s` in UTF-8, without allocating (lone surrogates count 3, as
// TextEncoder would replace them).
export function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i += 1) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      n += 1;
    } else if (c < 0x800) {
      n += 2;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length &&
      s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff) {
      n += 4;
      i += 1;
    } else {
      n += 3;
    }
  }
  return n;
}

// A file name safe to show and to save: no path, no control characters,
// no leading dots, at most MAX_NAME_LENGTH characters; 'video' when nothing
// is left.
export function sanitizeFileName(name) {
  let s = String(name ?? '');
  s = s.split(/[/\\]/).pop();
  // eslint-disable-next-line no-control-regex
  s = s.replace(/[\u0000-\u001f\u007f<>:"|?*]/g, '_').trim();
  s = s.replace(/^\.+/, '');
  if (s.length > MAX_NAME_LENGTH) {
    const dot = s.lastIndexOf('.');
    const ext = dot > 0 && s.length - dot <= 16 ? s.slice(dot) : '';
    s = s.slice(0, MAX_NAME_LENGTH - ext.length) + ext;
  }
  return s === '' ? 'video' : s;
}

// The MIME type a received file is given: the sender's when it is a video
// type, else application/octet-stream. A file from the partner must never
// become, say, text/html on our origin (its blob: URL could be opened).
export function safeMediaType(type) {
  const t = String(type ?? '').trim().toLowerCase();
  return /^video\/[a-z0-9][a-z0-9.+-]{0,100}$/.test(t) ? t :
    'application/octet-stream';
}

// A fresh transfer id (also used as the signaling session id): 16 random
// bytes as base64url, 22 characters.
export function newTransferId(random = defaultRandom) {
  const bytes = random(16);
  let bin = '';
  for (const b of bytes) {
    bin += String.fromCharCode(b);
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function defaultRandom(n) {
  const a = new Uint8Array(n);
  globalThis.crypto.getRandomValues(a);
  return a;
}
