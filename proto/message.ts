/**
 * Descriptor-driven proto3 messages: a message is declared once, as a table of fields, and
 * that table gives both its TypeScript type and its codec. Nothing is generated.
 *
 *   export const Timestamp = message('google.protobuf.Timestamp', {
 *     seconds: { no: 1, type: 'int64' },
 *     nanos: { no: 2, type: 'int32' },
 *   });
 *   export type Timestamp = MessageOf<typeof Timestamp>;
 */
import { defaultScalar, isDefaultScalar, isPackable, readScalar, wireTypeOf, writeScalar } from './scalar.js';
import type { ScalarKind, ScalarValue } from './scalar.js';
import { ProtoReader, ProtoWriter, WireType } from './wire.js';

export type { ScalarKind, ScalarValue } from './scalar.js';

export interface MessageType<T> {
  /** Full proto name, e.g. `containerd.events.TaskExit`; also the bare `Any` type URL. */
  readonly typeName: string;
  /** Encodes in field-number order and omits proto3 defaults. */
  encode(value: Partial<T>): Uint8Array;
  /** Fills proto3 defaults for absent fields; throws ProtoDecodeError on malformed input. */
  decode(bytes: Uint8Array): T;
  /** full object with proto3 defaults */
  create(value?: Partial<T>): T;
}

/** A TypeScript numeric enum object, e.g. `TaskStatus`. */
export type EnumObject = Record<string, string | number>;

export interface ScalarField {
  no: number;
  type: ScalarKind;
  repeated?: boolean;
  /** Repeated numeric fields are packed unless this is false (decoding accepts both forms). */
  packed?: boolean;
}
export interface EnumField {
  no: number;
  enum: EnumObject;
  repeated?: boolean;
  packed?: boolean;
}
export interface MessageField {
  no: number;
  message: AnyMessageCodec;
  repeated?: boolean;
}
/** `map<string, V>`: on the wire, repeated entries `{1 key, 2 value}`. */
export interface MapField {
  no: number;
  map: ScalarKind;
}
export type FieldSpec = ScalarField | EnumField | MessageField | MapField;
export type FieldSpecs = Record<string, FieldSpec>;

type FieldValue<F> = F extends MapField
  ? Record<string, ScalarValue<F['map']>>
  : F extends MessageField
    ? F extends { repeated: true }
      ? MessageOf<F['message']>[]
      : MessageOf<F['message']> | undefined
    : F extends EnumField
      ? F extends { repeated: true }
        ? EnumValue<F['enum']>[]
        : EnumValue<F['enum']>
      : F extends ScalarField
        ? F extends { repeated: true }
          ? ScalarValue<F['type']>[]
          : ScalarValue<F['type']>
        : never;

type EnumValue<E extends EnumObject> = Extract<E[keyof E], number>;

export type MessageShape<S extends FieldSpecs> = { -readonly [K in keyof S]: FieldValue<S[K]> };

/** The message type a codec encodes, e.g. `MessageOf<typeof TaskExit>`. */
export type MessageOf<C> = C extends MessageCodec<infer T> ? T : never;

// Field tables refer to nested codecs whose own message type does not matter at run time.
type AnyMessageCodec = MessageCodec<object>;

/** A field table compiled once, so encoding and decoding do no per-call lookups by name. */
export type FieldInfo =
  | { kind: 'scalar'; name: string; no: number; type: ScalarKind; repeated: boolean; packed: boolean }
  | { kind: 'message'; name: string; no: number; codec: AnyMessageCodec; repeated: boolean }
  | { kind: 'map'; name: string; no: number; valueType: ScalarKind };

type Obj = Record<string, unknown>;

export class MessageCodec<T extends object> implements MessageType<T> {
  /** In field-number order; enums appear as int32. */
  readonly fields: readonly FieldInfo[];
  private readonly byNumber: ReadonlyMap<number, FieldInfo>;

  constructor(
    readonly typeName: string,
    specs: FieldSpecs,
  ) {
    const fields = Object.entries(specs).map(([name, spec]) => compileField(typeName, name, spec));
    fields.sort((a, b) => a.no - b.no);
    const byNumber = new Map<number, FieldInfo>();
    for (const f of fields) {
      if (byNumber.has(f.no)) throw new Error(`${typeName}: field number ${f.no} used twice`);
      byNumber.set(f.no, f);
    }
    this.fields = fields;
    this.byNumber = byNumber;
  }

  create(value?: Partial<T>): T {
    const out: Obj = {};
    for (const f of this.fields) out[f.name] = defaultValue(f);
    if (value) {
      for (const f of this.fields) {
        const v = (value as Obj)[f.name];
        if (v !== undefined) out[f.name] = v;
      }
    }
    return out as T;
  }

  encode(value: Partial<T>): Uint8Array {
    const w = new ProtoWriter();
    this.writeTo(w, value);
    return w.finish();
  }

  decode(bytes: Uint8Array): T {
    const r = new ProtoReader(bytes);
    return this.readFrom(r, r.end);
  }

  /** Appends the fields of `value` (no tag, no length) to `w`. */
  writeTo(w: ProtoWriter, value: Partial<T>): void {
    const obj = value as Obj;
    for (const f of this.fields) {
      const v = obj[f.name];
      if (v === undefined || v === null) continue;
      switch (f.kind) {
        case 'scalar':
          if (f.repeated) writeRepeatedScalar(w, f.no, f.type, f.packed, v as unknown[]);
          else if (!isDefaultScalar(f.type, v)) writeTaggedScalar(w, f.no, f.type, v);
          break;
        case 'message':
          if (f.repeated) {
            for (const item of v as Obj[]) writeNested(w, f.no, f.codec, item);
          } else {
            // Presence is what matters for sub-messages: an empty one is still sent.
            writeNested(w, f.no, f.codec, v as Obj);
          }
          break;
        case 'map':
          for (const [key, item] of Object.entries(v as Obj)) {
            w.tag(f.no, WireType.LengthDelimited);
            const start = w.fork();
            // Go writes both halves of an entry even when they are defaults; so do we.
            writeTaggedScalar(w, 1, 'string', key);
            writeTaggedScalar(w, 2, f.valueType, item);
            w.join(start);
          }
          break;
      }
    }
  }

  /** Decodes fields from `r` up to `end` into a fresh message, or merges them into `into`. */
  readFrom(r: ProtoReader, end: number, into?: T): T {
    const out = (into ?? this.create()) as Obj;
    const outerEnd = r.end;
    r.end = end;
    while (r.pos < end) {
      const { fieldNo, wireType } = r.tag();
      const f = this.byNumber.get(fieldNo);
      if (f === undefined) {
        r.skip(wireType);
        continue;
      }
      switch (f.kind) {
        case 'scalar':
          readScalarField(r, f, wireType, out);
          break;
        case 'message': {
          if (wireType !== WireType.LengthDelimited) {
            r.skip(wireType);
            break;
          }
          const sectionEnd = r.sectionEnd();
          if (f.repeated) {
            (out[f.name] as unknown[]).push(f.codec.readFrom(r, sectionEnd));
          } else {
            // proto semantics: a repeated occurrence of a singular message merges into it.
            out[f.name] = f.codec.readFrom(r, sectionEnd, out[f.name] as Obj | undefined);
          }
          r.pos = sectionEnd;
          break;
        }
        case 'map': {
          if (wireType !== WireType.LengthDelimited) {
            r.skip(wireType);
            break;
          }
          readMapEntry(r, f.valueType, out[f.name] as Obj);
          break;
        }
      }
    }
    r.end = outerEnd;
    return out as T;
  }
}

/** Declares a message: its codec, whose type `MessageOf<typeof X>` is inferred from `fields`. */
export function message<const S extends FieldSpecs>(typeName: string, fields: S): MessageCodec<MessageShape<S>> {
  return new MessageCodec<MessageShape<S>>(typeName, fields);
}

/** The request and response types of one RPC method. */
export interface RpcTypes<Req, Resp> {
  readonly request: MessageType<Req>;
  readonly response: MessageType<Resp>;
}

export function rpc<Req, Resp>(request: MessageType<Req>, response: MessageType<Resp>): RpcTypes<Req, Resp> {
  return { request, response };
}

function compileField(typeName: string, name: string, spec: FieldSpec): FieldInfo {
  if (!Number.isInteger(spec.no) || spec.no < 1 || spec.no > 0x1fffffff) {
    throw new Error(`${typeName}.${name}: invalid field number ${spec.no}`);
  }
  if ('map' in spec) return { kind: 'map', name, no: spec.no, valueType: spec.map };
  if ('message' in spec) return { kind: 'message', name, no: spec.no, codec: spec.message, repeated: !!spec.repeated };
  // Enums travel as int32 varints; the enum object only shapes the TypeScript type.
  const type: ScalarKind = 'enum' in spec ? 'int32' : spec.type;
  const repeated = !!spec.repeated;
  return { kind: 'scalar', name, no: spec.no, type, repeated, packed: repeated && spec.packed !== false && isPackable(type) };
}

function defaultValue(f: FieldInfo): unknown {
  switch (f.kind) {
    case 'scalar':
      return f.repeated ? [] : defaultScalar(f.type);
    case 'message':
      return f.repeated ? [] : undefined;
    case 'map':
      // No prototype: a key such as "__proto__" is then an ordinary entry.
      return Object.create(null) as Obj;
  }
}

function writeTaggedScalar(w: ProtoWriter, no: number, type: ScalarKind, v: unknown): void {
  w.tag(no, wireTypeOf(type));
  writeScalar(w, type, v);
}

function writeRepeatedScalar(w: ProtoWriter, no: number, type: ScalarKind, packed: boolean, items: unknown[]): void {
  if (items.length === 0) return;
  if (packed) {
    w.tag(no, WireType.LengthDelimited);
    const start = w.fork();
    for (const item of items) writeScalar(w, type, item);
    w.join(start);
    return;
  }
  for (const item of items) writeTaggedScalar(w, no, type, item);
}

function writeNested(w: ProtoWriter, no: number, codec: AnyMessageCodec, value: Obj): void {
  w.tag(no, WireType.LengthDelimited);
  const start = w.fork();
  codec.writeTo(w, value);
  w.join(start);
}

function readScalarField(
  r: ProtoReader,
  f: Extract<FieldInfo, { kind: 'scalar' }>,
  wireType: WireType,
  out: Obj,
): void {
  const expected = wireTypeOf(f.type);
  if (f.repeated && wireType === WireType.LengthDelimited && expected !== WireType.LengthDelimited) {
    // Packed form; accepted whatever the declaration says, as the spec requires.
    const list = out[f.name] as unknown[];
    const sectionEnd = r.sectionEnd();
    const outerEnd = r.end;
    r.end = sectionEnd;
    while (r.pos < sectionEnd) list.push(readScalar(r, f.type));
    r.end = outerEnd;
    return;
  }
  if (wireType !== expected) {
    // A wire type that does not match the declaration is treated as an unknown field (Go does too).
    r.skip(wireType);
    return;
  }
  const v = readScalar(r, f.type);
  if (f.repeated) (out[f.name] as unknown[]).push(v);
  else out[f.name] = v;
}

function readMapEntry(r: ProtoReader, valueType: ScalarKind, map: Obj): void {
  const sectionEnd = r.sectionEnd();
  const outerEnd = r.end;
  r.end = sectionEnd;
  let key = '';
  let value = defaultScalar(valueType);
  while (r.pos < sectionEnd) {
    const { fieldNo, wireType } = r.tag();
    if (fieldNo === 1 && wireType === WireType.LengthDelimited) key = r.string();
    else if (fieldNo === 2 && wireType === wireTypeOf(valueType)) value = readScalar(r, valueType);
    else r.skip(wireType);
  }
  r.end = outerEnd;
  map[key] = value;
}
