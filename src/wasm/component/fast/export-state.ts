/**
 * Makes a core module's whole mutable state reachable from JS, so that an instance can be put
 * back exactly as it was after initialization: every memory and every mutable global the module
 * defines gets an export of its own ("nodewasm:memory:N", "nodewasm:global:N"). Nothing else in
 * the module changes. Returns undefined for a module this reader cannot follow (an unknown import
 * kind, an initializer expression it does not know): such a component takes the slow path.
 */
import { encodeU32, readU32 } from '../../module-bytes.js';

export const STATE_MEMORY_PREFIX = 'nodewasm:memory:';
export const STATE_GLOBAL_PREFIX = 'nodewasm:global:';

const SECTION_IMPORT = 2;
const SECTION_MEMORY = 5;
const SECTION_GLOBAL = 6;
const SECTION_EXPORT = 7;
const KIND_MEMORY = 2;
const KIND_GLOBAL = 3;

class CannotFollow extends Error {}

function skipLeb(bytes: Uint8Array, pos: number): number {
  for (let i = 0; i < 10; i++) {
    if (pos >= bytes.length) throw new CannotFollow('end');
    if ((bytes[pos++]! & 0x80) === 0) return pos;
  }
  throw new CannotFollow('leb');
}

function skipName(bytes: Uint8Array, pos: number): number {
  const [len, next] = readU32(bytes, pos);
  return next + len;
}

function skipLimits(bytes: Uint8Array, pos: number): number {
  const flags = bytes[pos++]!;
  pos = skipLeb(bytes, pos);
  if (flags & 0x01) pos = skipLeb(bytes, pos);
  if (flags & 0x08) pos = skipLeb(bytes, pos); // custom page size
  return pos;
}

function skipValType(bytes: Uint8Array, pos: number): number {
  const t = bytes[pos++]!;
  // numeric, vector and the short reference types; (ref null? ht) needs the heap type after it
  if ([0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f].includes(t)) return pos;
  if (t === 0x63 || t === 0x64) return skipLeb(bytes, pos);
  throw new CannotFollow(`value type 0x${t.toString(16)}`);
}

/** Skips a constant expression up to its `end`. */
function skipConstExpr(bytes: Uint8Array, pos: number): number {
  for (;;) {
    const op = bytes[pos++];
    if (op === undefined) throw new CannotFollow('end');
    if (op === 0x0b) return pos;
    if (op === 0x41 || op === 0x42 || op === 0x23 || op === 0xd2) pos = skipLeb(bytes, pos); // i32/i64.const, global.get, ref.func
    else if (op === 0x43) pos += 4;
    else if (op === 0x44) pos += 8;
    else if (op === 0xd0) pos = skipLeb(bytes, pos); // ref.null heaptype
    else if ([0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e].includes(op)) continue; // extended-const arithmetic
    else throw new CannotFollow(`constant opcode 0x${op.toString(16)}`);
  }
}

interface Counts {
  importedMemories: number;
  importedGlobals: number;
  definedMemories: number;
  /** Absolute indexes of the defined mutable globals. */
  mutableGlobals: number[];
}

function countImports(bytes: Uint8Array, start: number, counts: Counts): void {
  let [n, pos] = readU32(bytes, start);
  for (let i = 0; i < n; i++) {
    pos = skipName(bytes, pos);
    pos = skipName(bytes, pos);
    const kind = bytes[pos++]!;
    if (kind === 0) pos = skipLeb(bytes, pos);
    else if (kind === 1) pos = skipLimits(bytes, skipValType(bytes, pos));
    else if (kind === KIND_MEMORY) {
      counts.importedMemories++;
      pos = skipLimits(bytes, pos);
    } else if (kind === KIND_GLOBAL) {
      counts.importedGlobals++;
      pos = skipValType(bytes, pos) + 1;
    } else if (kind === 4) pos = skipLeb(bytes, pos + 1);
    else throw new CannotFollow(`import kind ${kind}`);
  }
}

function countGlobals(bytes: Uint8Array, start: number, counts: Counts): void {
  let [n, pos] = readU32(bytes, start);
  for (let i = 0; i < n; i++) {
    pos = skipValType(bytes, pos);
    const mutable = bytes[pos++] === 1;
    pos = skipConstExpr(bytes, pos);
    if (mutable) counts.mutableGlobals.push(counts.importedGlobals + i);
  }
}

function encodeName(name: string): number[] {
  const utf8 = [...Buffer.from(name, 'utf8')];
  return [...encodeU32(utf8.length), ...utf8];
}

export interface StateExports {
  bytes: Uint8Array;
  memories: string[];
  globals: string[];
}

export function exportState(bytes: Uint8Array): StateExports | undefined {
  try {
    return rewrite(bytes);
  } catch (e) {
    if (e instanceof CannotFollow || (e instanceof Error && e.name === 'Unreadable')) return undefined;
    if (e instanceof Error && /unexpected end|too large|too long/.test(e.message)) return undefined;
    throw e;
  }
}

function rewrite(bytes: Uint8Array): StateExports {
  const counts: Counts = { importedMemories: 0, importedGlobals: 0, definedMemories: 0, mutableGlobals: [] };
  const sections: Array<{ id: number; start: number; end: number; headerStart: number }> = [];
  let pos = 8;
  while (pos < bytes.length) {
    const headerStart = pos;
    const id = bytes[pos++]!;
    const [size, body] = readU32(bytes, pos);
    sections.push({ id, start: body, end: body + size, headerStart });
    pos = body + size;
  }
  for (const s of sections) {
    if (s.id === SECTION_IMPORT) countImports(bytes, s.start, counts);
    if (s.id === SECTION_MEMORY) counts.definedMemories = readU32(bytes, s.start)[0];
  }
  for (const s of sections) if (s.id === SECTION_GLOBAL) countGlobals(bytes, s.start, counts);

  const added: number[] = [];
  const memories: string[] = [];
  const globals: string[] = [];
  for (let i = 0; i < counts.definedMemories; i++) {
    const name = `${STATE_MEMORY_PREFIX}${counts.importedMemories + i}`;
    memories.push(name);
    added.push(...encodeName(name), KIND_MEMORY, ...encodeU32(counts.importedMemories + i));
  }
  for (const index of counts.mutableGlobals) {
    const name = `${STATE_GLOBAL_PREFIX}${index}`;
    globals.push(name);
    added.push(...encodeName(name), KIND_GLOBAL, ...encodeU32(index));
  }
  const entries = memories.length + globals.length;
  if (entries === 0) return { bytes, memories, globals };

  const exportSection = sections.find((s) => s.id === SECTION_EXPORT);
  let body: number[];
  if (exportSection) {
    const [n, first] = readU32(bytes, exportSection.start);
    body = [...encodeU32(n + entries), ...bytes.subarray(first, exportSection.end), ...added];
  } else {
    body = [...encodeU32(entries), ...added];
  }
  const section = [SECTION_EXPORT, ...encodeU32(body.length), ...body];
  // The export section goes where it was, or right before the first section that must follow it.
  const ORDER_AFTER_EXPORT = new Set([8, 9, 12, 10, 11]);
  const at = exportSection ?? sections.find((s) => ORDER_AFTER_EXPORT.has(s.id));
  const cutStart = at ? at.headerStart : bytes.length;
  const cutEnd = exportSection ? exportSection.end : cutStart;
  const out = new Uint8Array(cutStart + section.length + (bytes.length - cutEnd));
  out.set(bytes.subarray(0, cutStart), 0);
  out.set(section, cutStart);
  out.set(bytes.subarray(cutEnd), cutStart + section.length);
  return { bytes: out, memories, globals };
}
