/**
 * wasi:http/types fields (headers and trailers): an ordered list of (lower-case name, bytes) kept
 * as the guest set them. Names and values are checked here so that nothing Node would refuse
 * (and so turn into a trap) reaches it; hop-by-hop headers are the server's business and are
 * forbidden, as in wasmtime.
 */

export type HeaderError = { tag: 'invalid-syntax' } | { tag: 'forbidden' } | { tag: 'immutable' };

const INVALID: HeaderError = { tag: 'invalid-syntax' };
const FORBIDDEN: HeaderError = { tag: 'forbidden' };
const IMMUTABLE: HeaderError = { tag: 'immutable' };

const FORBIDDEN_NAMES = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function checkName(name: string): string {
  if (!TOKEN.test(name)) throw INVALID;
  const lower = name.toLowerCase();
  if (FORBIDDEN_NAMES.has(lower)) throw FORBIDDEN;
  return lower;
}

function checkValue(value: Uint8Array): Uint8Array {
  for (let i = 0; i < value.length; i++) {
    const b = value[i]!;
    if (b === 0 || b === 10 || b === 13) throw INVALID;
  }
  return value;
}

export class Fields {
  /** Entries in order; names lower-case. */
  entriesList: Array<[string, Uint8Array]> = [];
  immutable = false;

  static fromList(entries: Array<[string, Uint8Array]>): Fields {
    const f = new Fields();
    for (const [name, value] of entries) f.entriesList.push([checkName(name), checkValue(value)]);
    return f;
  }

  /** Request headers as Node received them: a flat [name, value, name, value...] list. */
  static fromRaw(raw: string[], immutable: boolean): Fields {
    const f = new Fields();
    for (let i = 0; i + 1 < raw.length; i += 2) f.entriesList.push([raw[i]!.toLowerCase(), Buffer.from(raw[i + 1]!, 'latin1')]);
    f.immutable = immutable;
    return f;
  }

  private mutate(): void {
    if (this.immutable) throw IMMUTABLE;
  }

  get(name: string): Uint8Array[] {
    const lower = name.toLowerCase();
    return this.entriesList.filter(([n]) => n === lower).map(([, v]) => v);
  }

  has(name: string): boolean {
    const lower = name.toLowerCase();
    return this.entriesList.some(([n]) => n === lower);
  }

  set(name: string, values: Uint8Array[]): void {
    this.mutate();
    const lower = checkName(name);
    values.forEach(checkValue);
    this.remove(lower);
    for (const v of values) this.entriesList.push([lower, v]);
  }

  delete(name: string): void {
    this.mutate();
    this.remove(checkName(name));
  }

  /** In place: a view (below) shares this very list. */
  private remove(lower: string): void {
    let kept = 0;
    for (const entry of this.entriesList) if (entry[0] !== lower) this.entriesList[kept++] = entry;
    this.entriesList.length = kept;
  }

  append(name: string, value: Uint8Array): void {
    this.mutate();
    this.entriesList.push([checkName(name), checkValue(value)]);
  }

  entries(): Array<[string, Uint8Array]> {
    return this.entriesList.map(([n, v]) => [n, v]);
  }

  clone(): Fields {
    const f = new Fields();
    f.entriesList = this.entries();
    return f;
  }

  /** A child sharing these entries (what `headers()` of a request or response returns). */
  view(immutable: boolean): Fields {
    const f = new Fields();
    f.entriesList = this.entriesList;
    f.immutable = immutable;
    return f;
  }

  /** For Node's writeHead/setHeader: a flat [name, value, ...] list. */
  toRaw(): string[] {
    const raw: string[] = [];
    for (const [n, v] of this.entriesList) raw.push(n, Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1'));
    return raw;
  }
}
