import { describe, expect, it } from 'vitest';
import {
  FRAME_HEADER_LENGTH,
  FrameDecoder,
  FrameType,
  MAX_MESSAGE_SIZE,
  encodeFrame,
} from '../../src/ttrpc/frame.js';
import type { DecodedFrame } from '../../src/ttrpc/frame.js';
import { Code, TtrpcError } from '../../src/ttrpc/status.js';

function header(length: number, streamId: number, type: number, flags = 0): Buffer {
  const h = Buffer.alloc(FRAME_HEADER_LENGTH);
  h.writeUInt32BE(length, 0);
  h.writeUInt32BE(streamId, 4);
  h[8] = type;
  h[9] = flags;
  return h;
}

/** Plain-data view of decoder output (copies frame data, which may be a view into a chunk). */
function summary(events: DecodedFrame[]): unknown[] {
  return events.map((e) =>
    e.kind === 'frame'
      ? { id: e.frame.streamId, type: e.frame.type, flags: e.frame.flags, data: Buffer.from(e.frame.data).toString('hex') }
      : { oversize: e.oversize },
  );
}

function decodeInChunks(stream: Uint8Array, cuts: number[]): unknown[] {
  const d = new FrameDecoder();
  const out: unknown[] = [];
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    out.push(...summary(d.push(stream.subarray(from, cut))));
    from = cut;
  }
  expect(d.inFrame).toBe(false);
  return out;
}

const threeFrames = Buffer.concat([
  encodeFrame(1, FrameType.Request, Uint8Array.of(0xaa, 0xbb, 0xcc)),
  encodeFrame(3, FrameType.Request, new Uint8Array(0)),
  encodeFrame(0xfffffffd, FrameType.Data, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0x5),
]);
const expected = [
  { id: 1, type: 1, flags: 0, data: 'aabbcc' },
  { id: 3, type: 1, flags: 0, data: '' },
  { id: 0xfffffffd, type: 3, flags: 5, data: '0102030405060708090a' },
];

describe('encodeFrame', () => {
  it('writes a 10-byte big-endian header before the data', () => {
    const frame = encodeFrame(0x01020304, FrameType.Response, Uint8Array.of(9, 8), 0x2);
    expect(frame.toString('hex')).toBe('00000002' + '01020304' + '02' + '02' + '0908');
  });

  it('refuses data over 4 MiB', () => {
    expect(MAX_MESSAGE_SIZE).toBe(4194304);
    expect(encodeFrame(1, FrameType.Request, new Uint8Array(MAX_MESSAGE_SIZE)).length).toBe(MAX_MESSAGE_SIZE + 10);
    let thrown: unknown;
    try {
      encodeFrame(1, FrameType.Request, new Uint8Array(MAX_MESSAGE_SIZE + 1));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TtrpcError);
    expect((thrown as TtrpcError).code).toBe(Code.RESOURCE_EXHAUSTED);
    expect((thrown as TtrpcError).message).toBe('message length 4194305 exceed maximum message size of 4194304');
  });
});

describe('FrameDecoder', () => {
  it('decodes several frames from one chunk', () => {
    expect(decodeInChunks(threeFrames, [])).toEqual(expected);
  });

  it('decodes the same frames when the stream is cut at any single byte boundary', () => {
    for (let cut = 0; cut <= threeFrames.length; cut++) {
      expect(decodeInChunks(threeFrames, [cut]), `cut at ${cut}`).toEqual(expected);
    }
  });

  it('decodes the same frames when cut at every pair of boundaries', () => {
    for (let a = 1; a < threeFrames.length; a++) {
      for (let b = a; b < threeFrames.length; b++) {
        expect(decodeInChunks(threeFrames, [a, b]), `cuts at ${a},${b}`).toEqual(expected);
      }
    }
  });

  it('decodes byte by byte', () => {
    const cuts = Array.from({ length: threeFrames.length - 1 }, (_, i) => i + 1);
    expect(decodeInChunks(threeFrames, cuts)).toEqual(expected);
  });

  it('holds a partial frame until it completes', () => {
    const d = new FrameDecoder();
    expect(d.push(threeFrames.subarray(0, 12))).toEqual([]);
    expect(d.inFrame).toBe(true);
    expect(summary(d.push(threeFrames.subarray(12, 13)))).toEqual([expected[0]]);
    expect(d.inFrame).toBe(false);
  });

  it('a 10-byte frame split across chunks does not share the header scratch buffer', () => {
    const a = encodeFrame(1, FrameType.Request, Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
    const b = encodeFrame(3, FrameType.Request, Uint8Array.of(9));
    const d = new FrameDecoder();
    const out = [...d.push(a.subarray(0, 15)), ...d.push(Buffer.concat([a.subarray(15), b]))];
    expect(summary(out)).toEqual([
      { id: 1, type: 1, flags: 0, data: '00010203040506070809' },
      { id: 3, type: 1, flags: 0, data: '09' },
    ]);
  });

  it('assembles a 4 MiB frame from 1 KiB reads in linear time', () => {
    const data = new Uint8Array(MAX_MESSAGE_SIZE);
    for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) & 0xff;
    const stream = encodeFrame(7, FrameType.Request, data);
    const d = new FrameDecoder();
    const started = performance.now();
    const out: DecodedFrame[] = [];
    for (let i = 0; i < stream.length; i += 1024) out.push(...d.push(stream.subarray(i, i + 1024)));
    const elapsed = performance.now() - started;
    expect(out).toHaveLength(1);
    const frame = out[0]!;
    expect(frame.kind === 'frame' && Buffer.compare(frame.frame.data, data)).toBe(0);
    // Concatenating on every read would copy ~8 GiB here; queued chunks copy 4 MiB once.
    expect(elapsed).toBeLessThan(1000);
  });

  describe('oversized frames', () => {
    const big = MAX_MESSAGE_SIZE + 1;
    const next = encodeFrame(11, FrameType.Request, Uint8Array.of(0x42));

    it('skips the data, then reports the header, then goes on decoding', () => {
      const d = new FrameDecoder();
      const out: DecodedFrame[] = [...d.push(header(big, 9, FrameType.Request))];
      const chunk = new Uint8Array(64 * 1024);
      let sent = 0;
      while (sent + chunk.length < big) {
        out.push(...d.push(chunk));
        sent += chunk.length;
      }
      expect(out).toEqual([]);
      expect(d.inFrame).toBe(true);
      // The last piece of oversized data and the next frame arrive in the same read.
      out.push(...d.push(Buffer.concat([new Uint8Array(big - sent), next])));
      expect(summary(out)).toEqual([
        { oversize: { streamId: 9, type: 1, flags: 0, length: big } },
        { id: 11, type: 1, flags: 0, data: '42' },
      ]);
      expect(d.inFrame).toBe(false);
    });

    it('does not buffer what it discards', () => {
      const d = new FrameDecoder();
      d.push(header(0xffffffff, 1, FrameType.Request));
      const heapBefore = process.memoryUsage().arrayBuffers;
      const chunk = new Uint8Array(1024 * 1024);
      for (let i = 0; i < 64; i++) d.push(chunk); // 64 MiB through the decoder
      const grown = process.memoryUsage().arrayBuffers - heapBefore;
      expect(grown).toBeLessThan(8 * 1024 * 1024);
      expect(d.inFrame).toBe(true);
    });

    it('exactly 4 MiB is not oversized', () => {
      const d = new FrameDecoder();
      const out = d.push(Buffer.concat([header(MAX_MESSAGE_SIZE, 1, 1), new Uint8Array(MAX_MESSAGE_SIZE)]));
      expect(out).toHaveLength(1);
      expect(out[0]!.kind).toBe('frame');
    });

    it('works whatever the chunking around the oversized frame', () => {
      const stream = Buffer.concat([
        encodeFrame(1, FrameType.Request, Uint8Array.of(1)),
        header(big, 3, FrameType.Request, 0x2),
        new Uint8Array(big),
        next,
      ]);
      const boundaries = [11, 12, 21, 22, 23, 22 + big - 1, 22 + big, 22 + big + 5, stream.length - 1];
      for (const cut of boundaries) {
        const d = new FrameDecoder();
        const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
        expect(summary(out), `cut at ${cut}`).toEqual([
          { id: 1, type: 1, flags: 0, data: '01' },
          { oversize: { streamId: 3, type: 1, flags: 2, length: big } },
          { id: 11, type: 1, flags: 0, data: '42' },
        ]);
      }
    });
  });
});
