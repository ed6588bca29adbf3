import { describe, expect, it } from 'vitest';
import { ProtoDecodeError, ProtoReader, ProtoWriter, WireType } from '../../proto/wire.js';

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').replace(/(..)(?=.)/g, '$1 ');
}

function bytesOf(spaced: string): Uint8Array {
  return Uint8Array.from(Buffer.from(spaced.replace(/ /g, ''), 'hex'));
}

function written(fn: (w: ProtoWriter) => void): string {
  const w = new ProtoWriter(1); // tiny start: every test also exercises growth
  fn(w);
  return hex(w.finish());
}

describe('varints', () => {
  it.each([
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '80 01'],
    [300, 'ac 02'],
    [16384, '80 80 01'],
    [0xffffffff, 'ff ff ff ff 0f'],
  ])('uint32 %d encodes as %s and decodes back', (value, expected) => {
    expect(written((w) => w.uint32(value))).toBe(expected);
    expect(new ProtoReader(bytesOf(expected)).uint32()).toBe(value);
  });

  it('negative int32 takes 10 bytes, sign-extended to 64 bits', () => {
    expect(written((w) => w.int32(-1))).toBe('ff ff ff ff ff ff ff ff ff 01');
    expect(written((w) => w.int32(-2))).toBe('fe ff ff ff ff ff ff ff ff 01');
    expect(written((w) => w.int32(-2147483648))).toBe('80 80 80 80 f8 ff ff ff ff 01');
    expect(new ProtoReader(bytesOf('ff ff ff ff ff ff ff ff ff 01')).int32()).toBe(-1);
    expect(new ProtoReader(bytesOf('80 80 80 80 f8 ff ff ff ff 01')).int32()).toBe(-2147483648);
  });

  it('a 5-byte int32 (how some encoders write negatives) decodes too', () => {
    expect(new ProtoReader(bytesOf('ff ff ff ff 0f')).int32()).toBe(-1);
  });

  it('positive int32 uses the short form', () => {
    expect(written((w) => w.int32(2147483647))).toBe('ff ff ff ff 07');
  });

  it('uint64 beyond 2^53 round-trips exactly as bigint', () => {
    const big = 2n ** 53n + 1n;
    expect(written((w) => w.uint64(big))).toBe('81 80 80 80 80 80 80 10');
    expect(new ProtoReader(bytesOf('81 80 80 80 80 80 80 10')).uint64()).toBe(big);

    const max = 2n ** 64n - 1n;
    expect(written((w) => w.uint64(max))).toBe('ff ff ff ff ff ff ff ff ff 01');
    expect(new ProtoReader(bytesOf('ff ff ff ff ff ff ff ff ff 01')).uint64()).toBe(max);
  });

  it('int64 keeps its sign, including the extremes', () => {
    for (const v of [-1n, -(2n ** 63n), 2n ** 63n - 1n, 1234567890123456789n, -(2n ** 53n) - 3n]) {
      const w = new ProtoWriter();
      w.int64(v);
      expect(new ProtoReader(w.finish()).int64()).toBe(v);
    }
    expect(written((w) => w.int64(-(2n ** 63n)))).toBe('80 80 80 80 80 80 80 80 80 01');
  });

  it('zigzag sint32 and sint64', () => {
    expect(written((w) => w.sint32(0))).toBe('00');
    expect(written((w) => w.sint32(-1))).toBe('01');
    expect(written((w) => w.sint32(1))).toBe('02');
    expect(written((w) => w.sint32(-2147483648))).toBe('ff ff ff ff 0f');
    expect(new ProtoReader(bytesOf('ff ff ff ff 0f')).sint32()).toBe(-2147483648);
    expect(new ProtoReader(bytesOf('03')).sint32()).toBe(-2);
    for (const v of [0n, -1n, 1n, -(2n ** 63n), 2n ** 63n - 1n]) {
      const w = new ProtoWriter();
      w.sint64(v);
      expect(new ProtoReader(w.finish()).sint64()).toBe(v);
    }
    expect(written((w) => w.sint64(-(2n ** 63n)))).toBe('ff ff ff ff ff ff ff ff ff 01');
  });

  it('bool is any non-zero varint', () => {
    expect(written((w) => w.bool(true).bool(false))).toBe('01 00');
    expect(new ProtoReader(bytesOf('02')).bool()).toBe(true);
    expect(new ProtoReader(bytesOf('80 80 80 80 80 01')).bool()).toBe(true);
  });
});

describe('fixed-width and length-delimited values', () => {
  it('fixed32, fixed64, float, double are little-endian', () => {
    expect(written((w) => w.fixed32(0x01020304))).toBe('04 03 02 01');
    expect(written((w) => w.sfixed32(-2))).toBe('fe ff ff ff');
    expect(written((w) => w.fixed64(0x0102030405060708n))).toBe('08 07 06 05 04 03 02 01');
    expect(written((w) => w.double(1))).toBe('00 00 00 00 00 00 f0 3f');
    expect(written((w) => w.float(1))).toBe('00 00 80 3f');
    const r = new ProtoReader(bytesOf('fe ff ff ff ff ff ff ff 00 00 00 00 00 00 f0 3f'));
    expect(r.sfixed64()).toBe(-2n);
    expect(r.double()).toBe(1);
    expect(r.done).toBe(true);
  });

  it('strings are UTF-8 with a byte-length prefix', () => {
    expect(written((w) => w.string('hi'))).toBe('02 68 69');
    expect(written((w) => w.string(''))).toBe('00');
    expect(written((w) => w.string('é✓'))).toBe('05 c3 a9 e2 9c 93');
    expect(written((w) => w.string('😀'))).toBe('04 f0 9f 98 80');
    expect(new ProtoReader(bytesOf('05 c3 a9 e2 9c 93')).string()).toBe('é✓');
  });

  it('a long string gets a multi-byte length prefix in front of it', () => {
    const text = 'x'.repeat(200);
    const w = new ProtoWriter(4);
    w.tag(1, WireType.LengthDelimited).string(text);
    const out = w.finish();
    expect(hex(out.subarray(0, 3))).toBe('0a c8 01');
    expect(out.length).toBe(203);
    const r = new ProtoReader(out);
    expect(r.tag()).toEqual({ fieldNo: 1, wireType: WireType.LengthDelimited });
    expect(r.string()).toBe(text);
  });

  it('bytes are copied out, never aliasing the input', () => {
    const input = bytesOf('03 01 02 03');
    const out = new ProtoReader(input).bytes();
    expect(Array.from(out)).toEqual([1, 2, 3]);
    input[1] = 9;
    expect(out[0]).toBe(1);
  });

  it('fork/join nests sections of any size', () => {
    const w = new ProtoWriter(1);
    w.tag(2, WireType.LengthDelimited);
    const outer = w.fork();
    w.tag(1, WireType.Varint).uint32(150);
    w.tag(3, WireType.LengthDelimited);
    const inner = w.fork();
    w.bytes(new Uint8Array(300).fill(7));
    w.join(inner);
    w.join(outer);
    const out = w.finish();
    // outer length = 3 (field 1) + 1 tag + 2 inner prefix + 2 bytes prefix + 300
    expect(hex(out.subarray(0, 11))).toBe('12 b4 02 08 96 01 1a ae 02 ac 02');
    const r = new ProtoReader(out);
    r.tag();
    const end = r.sectionEnd();
    expect(end).toBe(out.length);
  });

  it('tags carry field number and wire type', () => {
    expect(written((w) => w.tag(1, WireType.Varint))).toBe('08');
    expect(written((w) => w.tag(16, WireType.LengthDelimited))).toBe('82 01');
    expect(written((w) => w.tag(536870911, WireType.Fixed32))).toBe('fd ff ff ff 0f');
    expect(new ProtoReader(bytesOf('fd ff ff ff 0f')).tag()).toEqual({ fieldNo: 536870911, wireType: WireType.Fixed32 });
  });
});

describe('skipping unknown fields', () => {
  it.each([
    ['varint', WireType.Varint, 'ff ff ff ff ff ff ff ff ff 01'],
    ['fixed64', WireType.Fixed64, '01 02 03 04 05 06 07 08'],
    ['length-delimited', WireType.LengthDelimited, '03 61 62 63'],
    ['fixed32', WireType.Fixed32, '01 02 03 04'],
  ])('skips a %s value exactly', (_name, wireType, value) => {
    const r = new ProtoReader(bytesOf(`${value} 08 2a`));
    r.skip(wireType);
    expect(r.tag()).toEqual({ fieldNo: 1, wireType: WireType.Varint });
    expect(r.uint32()).toBe(42);
    expect(r.done).toBe(true);
  });

  it.each([3, 4, 6, 7])('refuses wire type %d', (wireType) => {
    expect(() => new ProtoReader(bytesOf('00')).skip(wireType)).toThrow(ProtoDecodeError);
  });
});

describe('malformed input throws ProtoDecodeError', () => {
  it.each([
    ['a varint cut short', (r: ProtoReader) => r.uint32(), '80 80'],
    ['an empty varint', (r: ProtoReader) => r.uint64(), ''],
    ['a varint longer than 10 bytes', (r: ProtoReader) => r.uint64(), '80 80 80 80 80 80 80 80 80 80 01'],
    ['a string shorter than its length', (r: ProtoReader) => r.string(), '05 61 62'],
    ['bytes shorter than their length', (r: ProtoReader) => r.bytes(), '02 01'],
    ['a huge length', (r: ProtoReader) => r.bytes(), 'ff ff ff ff ff ff ff ff ff 01'],
    ['a short fixed32', (r: ProtoReader) => r.fixed32(), '01 02 03'],
    ['a short fixed64', (r: ProtoReader) => r.double(), '01 02 03 04 05 06 07'],
    ['field number 0', (r: ProtoReader) => r.tag(), '02'],
    ['a section past the end', (r: ProtoReader) => r.sectionEnd(), '04 00'],
    ['skipping a cut length-delimited field', (r: ProtoReader) => r.skip(WireType.LengthDelimited), '09 00'],
  ])('%s', (_name, read, input) => {
    expect(() => read(new ProtoReader(bytesOf(input)))).toThrow(ProtoDecodeError);
  });

  it('respects a narrowed end', () => {
    const r = new ProtoReader(bytesOf('02 61 62 63'));
    r.end = 2;
    expect(() => r.string()).toThrow(/truncated/);
  });

  it('reads from a view with a non-zero offset', () => {
    const backing = bytesOf('ff ff 04 03 02 01 2a');
    const r = new ProtoReader(backing.subarray(2));
    expect(r.fixed32()).toBe(0x01020304);
    expect(r.uint32()).toBe(42);
  });
});
