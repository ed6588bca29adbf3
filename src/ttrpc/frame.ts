/**
 * ttrpc framing: a 10-byte big-endian header (data length u32, stream id u32, type u8,
 * flags u8) followed by the data. A socket read may hold several frames or part of one.
 */
import { Code, TtrpcError, oversizedMessage } from './status.js';

export const FRAME_HEADER_LENGTH = 10;
/** Largest frame data either side may send; bigger frames are refused, not buffered. */
export const MAX_MESSAGE_SIZE = 4 << 20;

export enum FrameType {
  Request = 1,
  Response = 2,
  /** Streaming (ttrpc ≥ 1.2); never sent by us, ignored when received. */
  Data = 3,
}

export interface FrameHeader {
  length: number;
  streamId: number;
  type: number;
  flags: number;
}

export interface Frame {
  streamId: number;
  type: number;
  flags: number;
  /** May be a view into a received chunk: decode it before the next `push`, or copy it. */
  data: Uint8Array;
}

/** A frame whose data exceeded MAX_MESSAGE_SIZE: its data was skipped, only the header is left. */
export interface OversizedFrame {
  streamId: number;
  type: number;
  flags: number;
  length: number;
}

export type DecodedFrame = { kind: 'frame'; frame: Frame } | { kind: 'oversize'; oversize: OversizedFrame };

export function encodeFrame(streamId: number, type: FrameType, data: Uint8Array, flags = 0): Buffer {
  if (data.length > MAX_MESSAGE_SIZE) {
    throw new TtrpcError(Code.RESOURCE_EXHAUSTED, oversizedMessage(data.length, MAX_MESSAGE_SIZE));
  }
  const out = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + data.length);
  out.writeUInt32BE(data.length, 0);
  out.writeUInt32BE(streamId >>> 0, 4);
  out[8] = type;
  out[9] = flags;
  out.set(data, FRAME_HEADER_LENGTH);
  return out;
}

/**
 * Incremental frame decoder. Chunks are queued, not concatenated: each byte is copied at most
 * once (and not at all when a frame lies within one chunk), so large frames arriving in many
 * small reads cost linear time. An oversized frame's data is dropped as it arrives.
 */
export class FrameDecoder {
  private readonly chunks: Uint8Array[] = [];
  /** Read position inside chunks[0]. */
  private offset = 0;
  private buffered = 0;
  private header: FrameHeader | undefined;
  /** Bytes of an oversized frame still to be skipped. */
  private discarding = 0;
  private readonly headerBytes = new Uint8Array(FRAME_HEADER_LENGTH);
  private readonly headerView = new DataView(this.headerBytes.buffer);

  /** True when a frame has started but not finished: closing now would truncate it. */
  get inFrame(): boolean {
    return this.header !== undefined || this.buffered > 0;
  }

  push(chunk: Uint8Array): DecodedFrame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: DecodedFrame[] = [];
    for (;;) {
      const header = this.header;
      if (header === undefined) {
        if (this.buffered < FRAME_HEADER_LENGTH) break;
        this.header = this.readHeader();
        this.discarding = this.header.length > MAX_MESSAGE_SIZE ? this.header.length : 0;
        continue;
      }
      if (this.discarding > 0) {
        const n = Math.min(this.discarding, this.buffered);
        this.skip(n);
        this.discarding -= n;
        if (this.discarding > 0) break;
        const { streamId, type, flags, length } = header;
        out.push({ kind: 'oversize', oversize: { streamId, type, flags, length } });
        this.header = undefined;
        continue;
      }
      if (this.buffered < header.length) break;
      const data = this.take(header.length);
      out.push({ kind: 'frame', frame: { streamId: header.streamId, type: header.type, flags: header.flags, data } });
      this.header = undefined;
    }
    return out;
  }

  private readHeader(): FrameHeader {
    const bytes = this.take(FRAME_HEADER_LENGTH, this.headerBytes);
    const v = bytes === this.headerBytes ? this.headerView : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { length: v.getUint32(0), streamId: v.getUint32(4), type: v.getUint8(8), flags: v.getUint8(9) };
  }

  /**
   * Removes `n` buffered bytes and returns them: a view when they lie in one chunk, otherwise
   * a copy (into `scratch` when given, which spares an allocation for headers split across reads).
   */
  private take(n: number, scratch?: Uint8Array): Uint8Array {
    const first = this.chunks[0];
    if (n === 0 || first === undefined) return new Uint8Array(0);
    if (first.length - this.offset >= n) {
      const view = first.subarray(this.offset, this.offset + n);
      this.skip(n);
      return view;
    }
    const out = scratch ?? new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const count = Math.min(chunk.length - this.offset, n - filled);
      out.set(chunk.subarray(this.offset, this.offset + count), filled);
      filled += count;
      this.skip(count);
    }
    return out;
  }

  private skip(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const chunk = this.chunks[0]!;
      const left = chunk.length - this.offset;
      if (n < left) {
        this.offset += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.offset = 0;
    }
  }
}
