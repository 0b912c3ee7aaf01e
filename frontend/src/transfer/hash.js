// hash.js: incremental SHA-256 on both sides of a transfer with hash-wasm
// (WebAssembly; the CSP allows 'wasm-unsafe-eval'). Each chunk is hashed
// as it is read (sender) or arrives (receiver): the file is never read a
// second time to check it. Only createSHA256 is imported, so the bundle
// keeps that one WebAssembly module (about 10 KB gzip) and drops the other
// algorithms; the panel itself is loaded lazily by the match page, so none
// of it is in the app shell.
import { createSHA256 } from 'hash-wasm';

// A fresh hasher: {update(bytes), digest() -> 64 lowercase hex digits,
// bytes (hashed so far)}. update takes a Uint8Array or an ArrayBuffer.
export async function createHasher() {
  const h = await createSHA256();
  h.init();
  let bytes = 0;
  let finished = false;
  return {
    update(data) {
      if (finished) {
        throw new Error('the hash is already finished');
      }
      const u8 = data instanceof Uint8Array ? data : new Uint8Array(data);
      h.update(u8);
      bytes += u8.byteLength;
    },
    digest() {
      if (finished) {
        throw new Error('the hash is already finished');
      }
      finished = true;
      return h.digest('hex');
    },
    get bytes() {
      return bytes;
    },
  };
}
