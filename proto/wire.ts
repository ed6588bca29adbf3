/**
 * The protobuf wire format, by hand: a writer and a reader of tagged fields.
 *
 * Only what proto3 messages on the containerd/ttrpc wire need; groups (wire types 3 and 4)
 * are deprecated and never appear there, so they are refused rather than skipped.
 */

export enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  StartGroup = 3,
  EndGroup = 4,
  Fixed32 = 5,
}

/** Thrown for every malformed input, so callers can tell bad bytes from their own bugs. */
export class ProtoDecodeError extends Error {
  override readonly name = 'ProtoDecodeError';
}

const utf8Encoder = new TextEncoder();
// Not fatal: like gogo/protobuf (containerd 1.6), a bad UTF-8 sequence is not a reason to reject a message.
const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

const TWO_POW_32 = 0x1_0000_0000;

export class ProtoWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initialCapacity = 64) {
    this.buf = new Uint8Array(Math.max(initialCapacity, 16));
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.pos;
  }

  /** The bytes written so far (a view: the writer must not be used afterwards). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  tag(fieldNo: number, wireType: WireType): this {
    return this.uint32(((fieldNo << 3) | wireType) >>> 0);
  }

  uint32(value: number): this {
    this.ensure(5);
    let v = value >>> 0;
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
    return this;
  }

  /** Negative values are sign-extended to 64 bits, so they always take 10 bytes (as protoc does). */
  int32(value: number): this {
    const v = value | 0;
    if (v >= 0) return this.uint32(v);
    return this.varint64(v >>> 0, 0xffffffff);
  }

  sint32(value: number): this {
    const v = value | 0;
    return this.uint32(((v << 1) ^ (v >> 31)) >>> 0);
  }

  uint64(value: bigint): this {
    const v = BigInt.asUintN(64, value);
    return this.varint64(Number(v & 0xffffffffn), Number(v >> 32n));
  }

  int64(value: bigint): this {
    return this.uint64(value);
  }

  sint64(value: bigint): this {
    const v = BigInt.asIntN(64, value);
    return this.uint64((v << 1n) ^ (v >> 63n));
  }

  bool(value: boolean): this {
    this.ensure(1);
    this.buf[this.pos++] = value ? 1 : 0;
    return this;
  }

  fixed32(value: number): this {
    this.ensure(4);
    this.view.setUint32(this.pos, value >>> 0, true);
    this.pos += 4;
    return this;
  }

  sfixed32(value: number): this {
    return this.fixed32(value | 0);
  }

  float(value: number): this {
    this.ensure(4);
    this.view.setFloat32(this.pos, value, true);
    this.pos += 4;
    return this;
  }

  fixed64(value: bigint): this {
    this.ensure(8);
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, value), true);
    this.pos += 8;
    return this;
  }

  sfixed64(value: bigint): this {
    return this.fixed64(value);
  }

  double(value: number): this {
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
    return this;
  }

  /** Length-prefixed raw bytes. */
  bytes(value: Uint8Array): this {
    this.uint32(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
    return this;
  }

  string(value: string): this {
    // Worst case is 3 bytes per UTF-16 unit; encode in place, then fix the length prefix up.
    const maxBytes = value.length * 3;
    const start = this.fork();
    this.ensure(maxBytes);
    const { written } = utf8Encoder.encodeInto(value, this.buf.subarray(this.pos, this.pos + maxBytes));
    this.pos += written;
    return this.join(start);
  }

  /**
   * Starts a length-delimited section (a nested message, a packed field) whose length is not
   * known yet; `join` then inserts the length prefix. The section is moved once, in place,
   * instead of being encoded into a separate buffer and copied.
   */
  fork(): number {
    return this.pos;
  }

  join(start: number): this {
    const length = this.pos - start;
    const prefix = varint32Size(length);
    this.ensure(prefix);
    this.buf.copyWithin(start + prefix, start, this.pos);
    let p = start;
    let v = length;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p] = v;
    this.pos += prefix;
    return this;
  }

  private varint64(lo: number, hi: number): this {
    this.ensure(10);
    while (hi !== 0 || lo > 0x7f) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.buf[this.pos++] = lo;
    return this;
  }

  private ensure(extra: number): void {
    const needed = this.pos + extra;
    if (needed <= this.buf.length) return;
    let capacity = this.buf.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
  }
}

function varint32Size(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

export interface FieldTag {
  fieldNo: number;
  wireType: WireType;
}

export class ProtoReader {
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  pos: number;
  /** Reading stops here; nested messages narrow it temporarily. */
  end: number;
  // The last varint, split in two 32-bit halves so 64-bit values need no BigInt on the hot path.
  private lo = 0;
  private hi = 0;

  constructor(bytes: Uint8Array) {
    this.buf = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.end = bytes.length;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  tag(): FieldTag {
    this.varint();
    if (this.hi !== 0) throw new ProtoDecodeError(`field tag out of range at offset ${this.pos}`);
    const fieldNo = this.lo >>> 3;
    const wireType = (this.lo & 7) as WireType;
    if (fieldNo === 0) throw new ProtoDecodeError(`invalid field number 0 at offset ${this.pos}`);
    return { fieldNo, wireType };
  }

  uint32(): number {
    this.varint();
    return this.lo;
  }

  int32(): number {
    this.varint();
    return this.lo | 0;
  }

  sint32(): number {
    this.varint();
    const v = this.lo;
    return (v >>> 1) ^ -(v & 1);
  }

  uint64(): bigint {
    this.varint();
    return this.hi === 0 ? BigInt(this.lo) : (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  int64(): bigint {
    this.varint();
    if (this.hi === 0) return BigInt(this.lo);
    return BigInt.asIntN(64, (BigInt(this.hi) << 32n) | BigInt(this.lo));
  }

  sint64(): bigint {
    const v = this.uint64();
    return (v >> 1n) ^ -(v & 1n);
  }

  bool(): boolean {
    this.varint();
    return this.lo !== 0 || this.hi !== 0;
  }

  fixed32(): number {
    const at = this.advance(4);
    return this.view.getUint32(at, true);
  }

  sfixed32(): number {
    const at = this.advance(4);
    return this.view.getInt32(at, true);
  }

  float(): number {
    const at = this.advance(4);
    return this.view.getFloat32(at, true);
  }

  fixed64(): bigint {
    const at = this.advance(8);
    return this.view.getBigUint64(at, true);
  }

  sfixed64(): bigint {
    const at = this.advance(8);
    return this.view.getBigInt64(at, true);
  }

  double(): number {
    const at = this.advance(8);
    return this.view.getFloat64(at, true);
  }

  /** A copy: decoded messages never alias (and so never pin) the input buffer. */
  bytes(): Uint8Array {
    const length = this.length();
    const at = this.advance(length);
    return this.buf.slice(at, at + length);
  }

  string(): string {
    const length = this.length();
    const at = this.advance(length);
    return utf8Decoder.decode(this.buf.subarray(at, at + length));
  }

  /** Reads a length prefix and returns where that section ends, checked against the input. */
  sectionEnd(): number {
    const length = this.length();
    if (length > this.end - this.pos) throw this.truncated(length);
    return this.pos + length;
  }

  skip(wireType: WireType): void {
    switch (wireType) {
      case WireType.Varint:
        this.varint();
        return;
      case WireType.Fixed64:
        this.advance(8);
        return;
      case WireType.LengthDelimited:
        this.advance(this.length());
        return;
      case WireType.Fixed32:
        this.advance(4);
        return;
      default:
        throw new ProtoDecodeError(`unsupported wire type ${wireType as number} at offset ${this.pos}`);
    }
  }

  private length(): number {
    this.varint();
    // Anything past 2^32 cannot fit in the input anyway; reject it before arithmetic on it.
    if (this.hi !== 0) throw this.truncated(this.hi * TWO_POW_32 + this.lo);
    return this.lo;
  }

  private advance(count: number): number {
    const at = this.pos;
    if (count > this.end - at) throw this.truncated(count);
    this.pos = at + count;
    return at;
  }

  private varint(): void {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw new ProtoDecodeError(`truncated varint at offset ${this.pos}`);
      const b = buf[pos++]!;
      const bits = b & 0x7f;
      if (i < 4) {
        lo |= bits << (7 * i);
      } else if (i === 4) {
        lo |= bits << 28;
        hi = bits >>> 4;
      } else {
        // Bits past 64 (in the 10th byte) are dropped, as Go's decoders do.
        hi |= bits << (7 * i - 32);
      }
      if (b < 0x80) {
        this.pos = pos;
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return;
      }
    }
    throw new ProtoDecodeError(`varint longer than 10 bytes at offset ${this.pos}`);
  }

  private truncated(wanted: number): ProtoDecodeError {
    return new ProtoDecodeError(
      `truncated input: need ${wanted} bytes at offset ${this.pos}, ${this.end - this.pos} left`,
    );
  }
}
