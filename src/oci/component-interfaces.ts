/**
 * The names a WebAssembly component imports and exports at its top level (e.g.
 * `wasi:cli/environment@0.2.0`), read straight from the component-model binary: the import
 * (10) and export (11) sections of the outermost component. Nested components and core modules
 * are skipped by their section sizes. The wasm artifact config lists these names.
 */

export interface ComponentInterfaces {
  imports: string[];
  exports: string[];
}

const COMPONENT_PREAMBLE = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
const IMPORT_SECTION = 10;
const EXPORT_SECTION = 11;

export function isComponentBinary(bytes: Uint8Array): boolean {
  return COMPONENT_PREAMBLE.every((byte, i) => bytes[i] === byte);
}

export function componentInterfaces(bytes: Uint8Array): ComponentInterfaces {
  if (!isComponentBinary(bytes)) throw new Error('not a WebAssembly component (wrong preamble)');
  const reader = new BinaryReader(bytes, COMPONENT_PREAMBLE.length);
  const imports: string[] = [];
  const exports: string[] = [];
  while (!reader.atEnd()) {
    const id = reader.byte();
    const size = reader.u32();
    const end = reader.offset + size;
    if (end > bytes.length) throw new Error(`section ${id} runs past the end of the binary`);
    if (id === IMPORT_SECTION || id === EXPORT_SECTION) {
      const section = new BinaryReader(bytes.subarray(0, end), reader.offset);
      const count = section.u32();
      for (let i = 0; i < count; i++) {
        const name = section.externName();
        if (id === IMPORT_SECTION) {
          imports.push(name);
          section.externDesc();
        } else {
          exports.push(name);
          section.sortIndex();
          if (section.byte() === 0x01) section.externDesc();
        }
      }
    }
    reader.offset = end;
  }
  return { imports, exports };
}

class BinaryReader {
  constructor(
    private readonly bytes: Uint8Array,
    public offset: number,
  ) {}

  atEnd(): boolean {
    return this.offset >= this.bytes.length;
  }

  byte(): number {
    if (this.offset >= this.bytes.length) throw new Error('unexpected end of the component binary');
    return this.bytes[this.offset++]!;
  }

  /** Unsigned LEB128 (also consumes signed encodings of the same length, e.g. s33 valtypes). */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new Error('LEB128 number too long');
    }
  }

  string(): string {
    const length = this.u32();
    const end = this.offset + length;
    if (end > this.bytes.length) throw new Error('string runs past the end of the binary');
    const text = new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(this.offset, end));
    this.offset = end;
    return text;
  }

  /** importname' / exportname': 0x00 name, or 0x01 name with a version suffix. */
  externName(): string {
    const form = this.byte();
    const name = this.string();
    if (form === 0x01) this.string();
    else if (form !== 0x00) throw new Error(`unknown extern name form 0x${form.toString(16)}`);
    return name;
  }

  externDesc(): void {
    const kind = this.byte();
    switch (kind) {
      case 0x00: // core module: 0x11 then a core type index
        this.byte();
        this.u32();
        return;
      case 0x01: // func
      case 0x04: // component
      case 0x05: // instance
        this.u32();
        return;
      case 0x02: // value: 0x00 index | 0x01 valtype
      case 0x03: // type: 0x00 eq index | 0x01 sub resource
        if (this.byte() === 0x00 || kind === 0x02) this.u32();
        return;
      default:
        throw new Error(`unknown extern kind 0x${kind.toString(16)}`);
    }
  }

  /** sort (0x00 followed by a core sort) and an index. */
  sortIndex(): void {
    if (this.byte() === 0x00) this.byte();
    this.u32();
  }
}
