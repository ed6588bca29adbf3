/** Proto3 scalar kinds: their TypeScript values, defaults, wire types and codecs. */
import { WireType } from './wire.js';
import type { ProtoReader, ProtoWriter } from './wire.js';

export type ScalarKind =
  | 'double'
  | 'float'
  | 'int32'
  | 'uint32'
  | 'sint32'
  | 'fixed32'
  | 'sfixed32'
  | 'int64'
  | 'uint64'
  | 'sint64'
  | 'fixed64'
  | 'sfixed64'
  | 'bool'
  | 'string'
  | 'bytes';

type NumberKind = 'double' | 'float' | 'int32' | 'uint32' | 'sint32' | 'fixed32' | 'sfixed32';
type BigIntKind = 'int64' | 'uint64' | 'sint64' | 'fixed64' | 'sfixed64';

export type ScalarValue<K extends ScalarKind> = K extends NumberKind
  ? number
  : K extends BigIntKind
    ? bigint
    : K extends 'bool'
      ? boolean
      : K extends 'string'
        ? string
        : Uint8Array;

export function defaultScalar(type: ScalarKind): unknown {
  switch (type) {
    case 'string':
      return '';
    case 'bytes':
      return new Uint8Array(0);
    case 'bool':
      return false;
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return 0n;
    default:
      return 0;
  }
}

export function isDefaultScalar(type: ScalarKind, v: unknown): boolean {
  switch (type) {
    case 'string':
      return v === '';
    case 'bytes':
      return (v as Uint8Array).length === 0;
    case 'bool':
      return v === false;
    case 'double':
    case 'float':
      // -0 is not the default: its bit pattern is not all zeros, so protoc sends it.
      return v === 0 && !Object.is(v, -0);
    default:
      // Tolerates a number where a bigint is declared (and vice versa); 0 == 0n.
      return v == 0;
  }
}

export function isPackable(type: ScalarKind): boolean {
  return type !== 'string' && type !== 'bytes';
}

export function wireTypeOf(type: ScalarKind): WireType {
  switch (type) {
    case 'double':
    case 'fixed64':
    case 'sfixed64':
      return WireType.Fixed64;
    case 'float':
    case 'fixed32':
    case 'sfixed32':
      return WireType.Fixed32;
    case 'string':
    case 'bytes':
      return WireType.LengthDelimited;
    default:
      return WireType.Varint;
  }
}

function toBigInt(v: unknown): bigint {
  return typeof v === 'bigint' ? v : BigInt(v as number);
}

export function writeScalar(w: ProtoWriter, type: ScalarKind, v: unknown): void {
  switch (type) {
    case 'double':
      w.double(v as number);
      return;
    case 'float':
      w.float(v as number);
      return;
    case 'int32':
      w.int32(v as number);
      return;
    case 'uint32':
      w.uint32(v as number);
      return;
    case 'sint32':
      w.sint32(v as number);
      return;
    case 'fixed32':
      w.fixed32(v as number);
      return;
    case 'sfixed32':
      w.sfixed32(v as number);
      return;
    case 'int64':
      w.int64(toBigInt(v));
      return;
    case 'uint64':
      w.uint64(toBigInt(v));
      return;
    case 'sint64':
      w.sint64(toBigInt(v));
      return;
    case 'fixed64':
      w.fixed64(toBigInt(v));
      return;
    case 'sfixed64':
      w.sfixed64(toBigInt(v));
      return;
    case 'bool':
      w.bool(v as boolean);
      return;
    case 'string':
      w.string(v as string);
      return;
    case 'bytes':
      w.bytes(v as Uint8Array);
      return;
  }
}

export function readScalar(r: ProtoReader, type: ScalarKind): unknown {
  switch (type) {
    case 'double':
      return r.double();
    case 'float':
      return r.float();
    case 'int32':
      return r.int32();
    case 'uint32':
      return r.uint32();
    case 'sint32':
      return r.sint32();
    case 'fixed32':
      return r.fixed32();
    case 'sfixed32':
      return r.sfixed32();
    case 'int64':
      return r.int64();
    case 'uint64':
      return r.uint64();
    case 'sint64':
      return r.sint64();
    case 'fixed64':
      return r.fixed64();
    case 'sfixed64':
      return r.sfixed64();
    case 'bool':
      return r.bool();
    case 'string':
      return r.string();
    case 'bytes':
      return r.bytes();
  }
}
