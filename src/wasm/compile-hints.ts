/**
 * Which tier V8 compiles each function of a core module with, told to V8 through the module's
 * `compilationHints` custom section (V8's `--experimental-wasm-compilation-hints`).
 *
 * V8 compiles a function with its baseline compiler (Liftoff) on first call and moves it to its
 * optimising compiler (TurboFan) once it has run enough; it cannot move a function that is
 * already running. A loop in a function that is entered once, as a program's `main` usually is,
 * therefore runs at baseline speed to its end: about half of native speed, measured. Loop-free
 * functions return quickly and tier up well (with call feedback that lets TurboFan inline them,
 * which a function compiled optimised from the start never gets).
 *
 * So: every function that holds a loop inside a loop, does not call itself and is at most
 * `maxBodyBytes` long is compiled by TurboFan on its first call; every other function keeps V8's
 * default.
 * - Nested loops, because a program's heavy work is in them, and libc's loops (memcpy, strlen,
 *   the number formatting printf does) are single ones: hinting every loop had a hello compile
 *   six of them with TurboFan, and the first TurboFan compile in a process costs about 4 MiB of
 *   peak memory, which a program that never needs TurboFan should not pay. A program whose work
 *   is a single loop in `main` runs at baseline speed, as under `baseline`.
 * - A function that calls itself is entered again and again, so it tiers up anyway, and TurboFan
 *   inlines the recursion only with the feedback baseline code collects: measured on fib(42), a
 *   recursion clang turns partly into a loop, up front it ran 1.7x slower.
 * - Large functions (printf's formatter, malloc) stay at baseline because TurboFan takes tens of
 *   milliseconds over them, which a short program would pay at start.
 *
 * A module this reader cannot follow, or that carries hints of its own, is returned unchanged.
 */
import {
  customSectionName,
  encodeU32,
  IMPORT_FUNCTION,
  readImports,
  readU32,
  SECTION_CODE,
  SECTION_CUSTOM,
  SECTION_IMPORT,
  sections,
  Unreadable,
  type Section,
} from './module-bytes.js';
import { BODY_SCAN_WASM_BASE64 } from './body-scan/body-scan-wasm.js';
import { wasm, type WasmMemory } from './wasm-api.js';

const HINTS_SECTION = 'compilationHints';

/**
 * One byte per function: strategy in bits 0-1, baseline tier in 2-3, top tier in 4-5 (V8's
 * encoding). 0 leaves the function to V8's defaults.
 */
const HINT_DEFAULT = 0x00;
const STRATEGY_LAZY = 0x01;
const TIER_OPTIMIZED = 0x02;
/** Compiled on first call, by the optimising compiler, and never by the baseline one. */
const HINT_OPTIMIZED_ON_FIRST_CALL = STRATEGY_LAZY | (TIER_OPTIMIZED << 2) | (TIER_OPTIMIZED << 4);

/** Above this body size a looping function stays at baseline (see the module comment). */
export const DEFAULT_MAX_OPTIMIZED_BODY_BYTES = 4096;

// body-scan.c's answer bits.
const SHAPE_READ = 1;
const SHAPE_HAS_LOOP = 2;
const SHAPE_CALLS_ITSELF = 4;
const SHAPE_NESTED_LOOP = 8;

export interface FunctionShape {
  bodyBytes: number;
  /**
   * What its instructions say; undefined when the body was not read (longer than asked for) or
   * holds an instruction this reader does not know.
   */
  body: { hasLoop: boolean; nestedLoop: boolean; callsItself: boolean } | undefined;
}

/**
 * The shape of every function the code section defines, in order; [] when there is none. Bodies
 * longer than `readUpToBytes` are not read. The bodies are read by body-scan.c built to wasm:
 * this runs at every container start, before V8 has optimised any JavaScript, and the same reader
 * in JavaScript took 4-10 ms over a hello's 28 KB.
 */
export function functionShapes(bytes: Uint8Array, readUpToBytes = Infinity): FunctionShape[] {
  const all = sections(bytes);
  const code = all.find((s) => s.id === SECTION_CODE);
  return code === undefined ? [] : shapesOf(bytes, all, code, readUpToBytes);
}

function shapesOf(bytes: Uint8Array, all: readonly Section[], code: Section, readUpToBytes: number): FunctionShape[] {
  const imports = all.find((s) => s.id === SECTION_IMPORT);
  // Defined functions are numbered after the imported ones.
  const firstIndex = imports === undefined ? 0 : readImports(bytes, imports).filter((i) => i.kind === IMPORT_FUNCTION).length;
  const scanner = bodyScanner(bytes);
  let [count, pos] = readU32(bytes, code.contentStart);
  const shapes: FunctionShape[] = [];
  for (let i = 0; i < count; i++) {
    const [size, start] = readU32(bytes, pos);
    const end = start + size;
    if (end > code.end) throw new Unreadable('function body runs past the code section');
    shapes.push({ bodyBytes: size, body: size <= readUpToBytes ? scanner(start, end, firstIndex + i) : undefined });
    pos = end;
  }
  return shapes;
}

interface BodyScanExports {
  memory: WasmMemory;
  guest_at(): number;
  body_shape(start: number, end: number, ownIndex: number): number;
}

/** body-scan.c, instantiated over a copy of `guest`; one call reads one body. */
function bodyScanner(guest: Uint8Array): (start: number, end: number, ownIndex: number) => FunctionShape['body'] {
  // V8 would move body_shape to TurboFan after a few dozen bodies: 11-16 ms of a background
  // thread and 3 MiB of peak memory, for a function whose work is nearly done by then. A budget
  // it never spends keeps it on Liftoff; V8 gives each instance its budget when instantiated.
  const v8 = process.getBuiltinModule('node:v8');
  let scan: BodyScanExports;
  v8.setFlagsFromString(`--wasm-tiering-budget=${NEVER_SPENT_TIERING_BUDGET}`);
  try {
    const module = new wasm.Module(Buffer.from(BODY_SCAN_WASM_BASE64, 'base64'));
    scan = new wasm.Instance(module, {}).exports as unknown as BodyScanExports;
  } finally {
    v8.setFlagsFromString(`--wasm-tiering-budget=${V8_DEFAULT_WASM_TIERING_BUDGET}`);
  }
  const at = scan.guest_at();
  // Room for the guest and for the few bytes a malformed body's last immediate reads past it.
  const needed = at + guest.length + 64;
  const have = scan.memory.buffer.byteLength;
  if (needed > have) scan.memory.grow(Math.ceil((needed - have) / PAGE_BYTES));
  new Uint8Array(scan.memory.buffer, at, guest.length).set(guest);
  return (start, end, ownIndex) => {
    let shape: number;
    try {
      shape = scan.body_shape(start, end, ownIndex);
    } catch (e) {
      if (e instanceof wasm.RuntimeError) return undefined; // read past its memory: malformed
      throw e;
    }
    if ((shape & SHAPE_READ) === 0) return undefined;
    return {
      hasLoop: (shape & SHAPE_HAS_LOOP) !== 0,
      nestedLoop: (shape & SHAPE_NESTED_LOOP) !== 0,
      callsItself: (shape & SHAPE_CALLS_ITSELF) !== 0,
    };
  };
}

const PAGE_BYTES = 65536;

/**
 * V8's default `--wasm-tiering-budget` in the pinned Node, which the guest gets back after the
 * scanner is instantiated (the unit tests check it against `node --v8-options`).
 */
export const V8_DEFAULT_WASM_TIERING_BUDGET = 13_000_000;
const NEVER_SPENT_TIERING_BUDGET = 2_000_000_000;

/** The module with a hints section before its code section, or the module unchanged. */
export function withCompileHints(bytes: Uint8Array, maxBodyBytes = DEFAULT_MAX_OPTIMIZED_BODY_BYTES): Uint8Array {
  try {
    const all = sections(bytes);
    const code = all.find((s) => s.id === SECTION_CODE);
    if (code === undefined) return bytes;
    if (all.some((s) => s.id === SECTION_CUSTOM && customSectionName(bytes, s) === HINTS_SECTION)) return bytes;
    const hints = shapesOf(bytes, all, code, maxBodyBytes).map((f) =>
      f.body?.nestedLoop === true && !f.body.callsItself ? HINT_OPTIMIZED_ON_FIRST_CALL : HINT_DEFAULT,
    );
    if (!hints.includes(HINT_OPTIMIZED_ON_FIRST_CALL)) return bytes;
    const name = [...Buffer.from(HINTS_SECTION)];
    const content = [...encodeU32(name.length), ...name, ...encodeU32(hints.length), ...hints];
    const section = Uint8Array.from([SECTION_CUSTOM, ...encodeU32(content.length), ...content]);
    return Buffer.concat([bytes.subarray(0, code.at), section, bytes.subarray(code.at)]);
  } catch (e) {
    if (e instanceof Unreadable) return bytes;
    throw e;
  }
}

