/**
 * Caps a core module's linear memory by rewriting the module's bytes before compiling. V8 takes a
 * memory's maximum from the module itself (a defined memory cannot be given one at instantiation),
 * so the maximum in the memory section, or in an imported memory's type in the import section, is
 * lowered to the cap (or added when absent). Only 32-bit memories with 64 KiB pages are touched;
 * memory64 and custom page sizes are left as they are.
 *
 * A module this reader cannot follow (malformed, or an import kind it does not know) is returned
 * unchanged: compiling it then reports what is wrong, and the container's memory limit still holds.
 */

import {
  encodeU32,
  IMPORT_MEMORY,
  readImports,
  readU32,
  SECTION_IMPORT,
  SECTION_MEMORY,
  sections,
  skipLeb,
  Unreadable,
  type Section,
} from './module-bytes.js';

export const PAGE_SIZE = 65536;
/** A 32-bit memory cannot have more pages than this. */
const MAX_PAGES_32 = 65536;

const FLAG_HAS_MAX = 0x01;
const FLAG_SHARED = 0x02;
const FLAG_MEMORY64 = 0x04;
const FLAG_PAGE_SIZE = 0x08;

/** A memory the module defines or imports, as declared. */
export interface MemoryDecl {
  /** Set for an imported memory. */
  import?: { module: string; name: string };
  /** Pages (undefined for memory64 and custom page sizes, which are not read). */
  min: number | undefined;
  max: number | undefined;
  shared: boolean;
  /** 32-bit memory with 64 KiB pages: the only kind capped. */
  cappable: boolean;
}

export class MemoryCapError extends Error {}

interface LimitsAt {
  decl: MemoryDecl;
  /** Byte range of the limits, flags byte included. */
  start: number;
  end: number;
}

function readLimits(bytes: Uint8Array, pos: number, importOf?: MemoryDecl['import']): LimitsAt {
  const start = pos;
  const flags = bytes[pos++];
  if (flags === undefined) throw new Unreadable('unexpected end');
  if (flags > 0x0f) throw new Unreadable(`unknown limits flags 0x${flags.toString(16)}`);
  const shared = (flags & FLAG_SHARED) !== 0;
  const cappable = (flags & (FLAG_MEMORY64 | FLAG_PAGE_SIZE)) === 0;
  let min: number | undefined;
  let max: number | undefined;
  if (cappable) {
    [min, pos] = readU32(bytes, pos);
    if (flags & FLAG_HAS_MAX) [max, pos] = readU32(bytes, pos);
  } else {
    pos = skipLeb(bytes, pos);
    if (flags & FLAG_HAS_MAX) pos = skipLeb(bytes, pos);
    if (flags & FLAG_PAGE_SIZE) pos = skipLeb(bytes, pos);
  }
  const decl: MemoryDecl = { min, max, shared, cappable };
  if (importOf) decl.import = importOf;
  return { decl, start, end: pos };
}

/** The memories an import section declares, with where their limits are. */
function importedMemories(bytes: Uint8Array, s: Section): LimitsAt[] {
  return readImports(bytes, s)
    .filter((i) => i.kind === IMPORT_MEMORY)
    .map((i) => readLimits(bytes, i.typeAt, { module: i.module, name: i.name }));
}

function definedMemories(bytes: Uint8Array, s: Section): LimitsAt[] {
  const found: LimitsAt[] = [];
  let [count, pos] = readU32(bytes, s.contentStart);
  for (let i = 0; i < count; i++) {
    const limits = readLimits(bytes, pos);
    found.push(limits);
    pos = limits.end;
  }
  return found;
}

function scan(bytes: Uint8Array): { section: Section; limits: LimitsAt[] }[] {
  const out: { section: Section; limits: LimitsAt[] }[] = [];
  for (const s of sections(bytes)) {
    if (s.id === SECTION_IMPORT) out.push({ section: s, limits: importedMemories(bytes, s) });
    else if (s.id === SECTION_MEMORY) out.push({ section: s, limits: definedMemories(bytes, s) });
  }
  return out;
}

/** The memories a module imports and defines, imports first (their index order); [] if unreadable. */
export function listMemories(bytes: Uint8Array): MemoryDecl[] {
  try {
    return scan(bytes).flatMap((s) => s.limits.map((l) => l.decl));
  } catch (e) {
    if (e instanceof Unreadable) return [];
    throw e;
  }
}

/**
 * Returns the module with the maximum of every cappable memory lowered to `limitBytes` (whole
 * pages), and the memories as they are declared afterwards. Throws MemoryCapError when a memory's
 * minimum alone is over the cap: such a module can never run within it.
 */
export function capMemory(bytes: Uint8Array, limitBytes: number): { bytes: Uint8Array; memories: MemoryDecl[] } {
  const capPages = Math.min(MAX_PAGES_32, Math.floor(limitBytes / PAGE_SIZE));
  let found: { section: Section; limits: LimitsAt[] }[];
  try {
    found = scan(bytes);
  } catch (e) {
    if (e instanceof Unreadable) return { bytes, memories: [] };
    throw e;
  }

  const pieces: Uint8Array[] = [];
  let copied = 0;
  let changed = false;
  for (const { section, limits } of found) {
    const content: Uint8Array[] = [];
    let from = section.contentStart;
    let sectionChanged = false;
    for (const l of limits) {
      const d = l.decl;
      if (!d.cappable || d.min === undefined) continue;
      if (d.min > capPages) {
        throw new MemoryCapError(
          `its memory starts at ${mib(d.min * PAGE_SIZE)}, over the memory limit of ${mib(limitBytes)}`,
        );
      }
      if (d.max !== undefined && d.max <= capPages) continue;
      d.max = capPages;
      const flags = bytes[l.start]! | FLAG_HAS_MAX;
      content.push(bytes.subarray(from, l.start), Uint8Array.from([flags, ...encodeU32(d.min), ...encodeU32(capPages)]));
      from = l.end;
      sectionChanged = true;
    }
    if (!sectionChanged) continue;
    changed = true;
    content.push(bytes.subarray(from, section.end));
    const size = content.reduce((n, c) => n + c.length, 0);
    pieces.push(bytes.subarray(copied, section.at), Uint8Array.from([section.id, ...encodeU32(size)]), ...content);
    copied = section.end;
  }
  const memories = found.flatMap((s) => s.limits.map((l) => l.decl));
  if (!changed) return { bytes, memories };
  pieces.push(bytes.subarray(copied));
  return { bytes: Buffer.concat(pieces), memories };
}

function mib(bytes: number): string {
  if (bytes < 1048576) return `${Math.round((bytes / 1024) * 10) / 10} KiB`;
  return `${Math.round((bytes / 1048576) * 10) / 10} MiB`;
}
