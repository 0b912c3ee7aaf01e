// chunking.js: how big the binary frames of a transfer are, and how the
// sender reads a file in blocks of whole chunks (pure; unit-tested in
// test/transfer-chunking.test.js).
import { MAX_CHUNK_SIZE } from './protocol.js';

// When the browser does not say how large a message may be (no `sctp`, or
// a nonsense value), 64 KiB: every current browser takes that much.
export const FALLBACK_CHUNK_SIZE = 64 * 1024;

// The chunk size for a connection whose RTCSctpTransport reports
// `maxMessageSize` (the smaller of ours and the peer's, per the spec):
// that size, at most MAX_CHUNK_SIZE (256 KiB: Chromium's own limit, and
// past it a bigger frame only adds latency). +Infinity (no limit) gives
// MAX_CHUNK_SIZE; anything else that is not a positive number gives
// FALLBACK_CHUNK_SIZE.
export function chunkSizeFor(maxMessageSize) {
  if (maxMessageSize === Infinity) {
    return MAX_CHUNK_SIZE;
  }
  if (typeof maxMessageSize !== 'number' || !Number.isFinite(maxMessageSize) ||
    maxMessageSize < 1) {
    return FALLBACK_CHUNK_SIZE;
  }
  return Math.min(Math.floor(maxMessageSize), MAX_CHUNK_SIZE);
}

// The chunk size for an RTCPeerConnection (its SCTP transport's limit).
export function chunkSizeForConnection(pc) {
  return chunkSizeFor(pc?.sctp?.maxMessageSize);
}

// How many chunks of `chunkSize` carry `size` bytes.
export function chunkCount(size, chunkSize) {
  return size === 0 ? 0 : Math.ceil(size / chunkSize);
}

// The byte ranges [start, end) of the blocks the sender reads from the
// file: `chunksPerBlock` whole chunks each (the last one shorter), so every
// chunk lies inside one block.
export function blockRanges(size, chunkSize, chunksPerBlock = 4) {
  const block = chunkSize * chunksPerBlock;
  const out = [];
  for (let start = 0; start < size; start += block) {
    out.push([start, Math.min(size, start + block)]);
  }
  return out;
}

// The chunks of one block, as views on it (no copy).
export function splitBlock(block, chunkSize) {
  const out = [];
  for (let off = 0; off < block.byteLength; off += chunkSize) {
    out.push(block.subarray(off, Math.min(block.byteLength, off + chunkSize)));
  }
  return out;
}

// The file's chunks in order, read a block ahead (the next block's read is
// under way while the current one is being sent), each block passed to
// `onBlock` (e.g. the SHA-256 update) before its chunks are yielded. `file`
// is a Blob (or anything with size and slice(a, b).arrayBuffer()).
export async function* readChunks(file, chunkSize,
  { chunksPerBlock = 4, onBlock = () => {} } = {}) {
  const ranges = blockRanges(file.size, chunkSize, chunksPerBlock);
  const read = (i) => file.slice(ranges[i][0], ranges[i][1]).arrayBuffer();
  let next = ranges.length > 0 ? read(0) : null;
  for (let i = 0; i < ranges.length; i += 1) {
    const buf = await next;
    next = i + 1 < ranges.length ? read(i + 1) : null;
    // Avoid an unhandled rejection when the consumer stops early.
    next?.catch(() => {});
    const block = new Uint8Array(buf);
    const want = ranges[i][1] - ranges[i][0];
    if (block.byteLength !== want) {
      throw new Error(`the file changed while it was being read ` +
        `(read ${block.byteLength} bytes where ${want} were expected)`);
    }
    onBlock(block);
    yield* splitBlock(block, chunkSize);
  }
}
