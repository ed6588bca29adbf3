/**
 * Reading a core module's binary form: LEB128 integers, names, value types and the section list.
 * The rewriters that change a module before it is compiled (memory-cap.ts, compile-hints.ts) read
 * through these, and give up on a module with `Unreadable` rather than guess.
 */

/** Thrown inside a reader when the bytes end early or say something it cannot follow. */
export class Unreadable extends Error {}

/** The section ids the rewriters look for. */
export const SECTION_CUSTOM = 0;
export const SECTION_IMPORT = 2;
export const SECTION_FUNCTION = 3;
export const SECTION_MEMORY = 5;
export const SECTION_CODE = 10;

/** Decodes an unsigned LEB128 value of at most 32 bits at `pos`: [value, next position]. */
export function readU32(bytes: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    if (pos >= bytes.length) throw new Unreadable('unexpected end');
    const b = bytes[pos++]!;
    if (i === 4 && b > 0x0f) throw new Unreadable('integer too large');
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7;
  }
  throw new Unreadable('integer representation too long');
}

/** The minimal unsigned LEB128 encoding of a 32-bit value. */
export function encodeU32(value: number): number[] {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`not a u32: ${value}`);
  const out: number[] = [];
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) b |= 0x80;
    out.push(b);
  } while (value > 0);
  return out;
}

/** Skips one LEB128 value of any width (u64, s33...). */
export function skipLeb(bytes: Uint8Array, pos: number): number {
  for (let i = 0; i < 10; i++) {
    if (pos >= bytes.length) throw new Unreadable('unexpected end');
    if ((bytes[pos++]! & 0x80) === 0) return pos;
  }
  throw new Unreadable('integer representation too long');
}

export function readName(bytes: Uint8Array, pos: number): [string, number] {
  const [len, start] = readU32(bytes, pos);
  if (start + len > bytes.length) throw new Unreadable('unexpected end');
  return [Buffer.from(bytes.buffer, bytes.byteOffset + start, len).toString('utf8'), start + len];
}

/** Skips a value type, including the reference types that carry a heap type. */
export function skipValType(bytes: Uint8Array, pos: number): number {
  const t = bytes[pos++];
  if (t === undefined) throw new Unreadable('unexpected end');
  return t === 0x63 || t === 0x64 ? skipLeb(bytes, pos) : pos;
}

const LIMITS_HAS_MAX = 0x01;
const LIMITS_PAGE_SIZE = 0x08;

/** Skips a table's or a memory's limits: flags, minimum, maximum and page size when flagged. */
export function skipLimits(bytes: Uint8Array, pos: number): number {
  const flags = bytes[pos++];
  if (flags === undefined) throw new Unreadable('unexpected end');
  if (flags > 0x0f) throw new Unreadable(`unknown limits flags 0x${flags.toString(16)}`);
  pos = skipLeb(bytes, pos);
  if (flags & LIMITS_HAS_MAX) pos = skipLeb(bytes, pos);
  return flags & LIMITS_PAGE_SIZE ? skipLeb(bytes, pos) : pos;
}

export const IMPORT_FUNCTION = 0x00;
export const IMPORT_MEMORY = 0x02;

export interface ImportEntry {
  module: string;
  name: string;
  kind: number;
  /** Where the import's type (its descriptor after the kind byte) starts and ends. */
  typeAt: number;
  end: number;
}

/** The imports an import section declares, in order. */
export function readImports(bytes: Uint8Array, s: Section): ImportEntry[] {
  const found: ImportEntry[] = [];
  let [count, pos] = readU32(bytes, s.contentStart);
  for (let i = 0; i < count; i++) {
    let module: string;
    let name: string;
    [module, pos] = readName(bytes, pos);
    [name, pos] = readName(bytes, pos);
    const kind = bytes[pos++];
    const typeAt = pos;
    switch (kind) {
      case IMPORT_FUNCTION: // type index
        pos = skipLeb(bytes, pos);
        break;
      case 0x01: // table: reference type, limits
        pos = skipLimits(bytes, skipValType(bytes, pos));
        break;
      case IMPORT_MEMORY:
        pos = skipLimits(bytes, pos);
        break;
      case 0x03: // global: value type, mutability
        pos = skipValType(bytes, pos) + 1;
        break;
      case 0x04: // tag: attribute, type index
        pos = skipLeb(bytes, pos + 1);
        break;
      default:
        throw new Unreadable(`unknown import kind ${kind}`);
    }
    found.push({ module, name, kind, typeAt, end: pos });
  }
  return found;
}

export interface Section {
  id: number;
  /** Where the section's id byte is, and where its contents start and end. */
  at: number;
  contentStart: number;
  end: number;
}

export function sections(bytes: Uint8Array): Section[] {
  if (bytes.length < 8) throw new Unreadable('no header');
  const out: Section[] = [];
  let pos = 8;
  while (pos < bytes.length) {
    const at = pos;
    const id = bytes[pos++]!;
    const [size, contentStart] = readU32(bytes, pos);
    const end = contentStart + size;
    if (end > bytes.length) throw new Unreadable('section runs past the end');
    out.push({ id, at, contentStart, end });
    pos = end;
  }
  return out;
}

/** A custom section's name (the section must be one: id 0). */
export function customSectionName(bytes: Uint8Array, s: Section): string {
  return readName(bytes.subarray(0, s.end), s.contentStart)[0];
}
