/**
 * A minimal, deterministic tar writer: POSIX ustar headers, with a PAX extended header only for
 * paths that do not fit ustar's name/prefix split. Enough for image layers and OCI layout archives;
 * it writes regular files and directories, nothing else.
 */

export interface TarEntry {
  /** Relative path inside the archive, '/'-separated, no leading '/'. Directories may end in '/'. */
  path: string;
  type: 'file' | 'directory';
  /** Permission bits, e.g. 0o644. */
  mode: number;
  /** File contents; ignored for directories. */
  data?: Uint8Array;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch. Defaults to 0 so archives are reproducible. */
  mtime?: number;
}

const BLOCK = 512;
const encoder = new TextEncoder();

/** Writes `value` as zero-padded octal followed by a NUL into `length` bytes at `offset`. */
function writeOctal(header: Uint8Array, offset: number, length: number, value: number): void {
  const text = value.toString(8).padStart(length - 1, '0');
  if (text.length > length - 1) throw new RangeError(`tar: value ${value} does not fit a ${length}-byte field`);
  header.set(encoder.encode(text), offset);
  header[offset + length - 1] = 0;
}

function writeString(header: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = encoder.encode(value);
  if (bytes.length > length) throw new RangeError(`tar: "${value}" does not fit a ${length}-byte field`);
  header.set(bytes, offset);
}

/** Splits a path into ustar's (prefix, name) pair, or returns undefined when it cannot. */
function splitUstarPath(path: string): { prefix: string; name: string } | undefined {
  const length = encoder.encode(path).length;
  if (length <= 100) return { prefix: '', name: path };
  // The prefix holds up to 155 bytes, the name up to 100, joined by a '/' that is not stored.
  for (let cut = path.indexOf('/'); cut !== -1; cut = path.indexOf('/', cut + 1)) {
    const prefix = path.slice(0, cut);
    const name = path.slice(cut + 1);
    if (encoder.encode(prefix).length <= 155 && encoder.encode(name).length <= 100 && name.length > 0) {
      return { prefix, name };
    }
  }
  return undefined;
}

interface HeaderFields {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
}

function makeHeader(fields: HeaderFields): Uint8Array {
  const header = new Uint8Array(BLOCK);
  writeString(header, 0, 100, fields.name);
  writeOctal(header, 100, 8, fields.mode);
  writeOctal(header, 108, 8, fields.uid);
  writeOctal(header, 116, 8, fields.gid);
  writeOctal(header, 124, 12, fields.size);
  writeOctal(header, 136, 12, fields.mtime);
  header.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  writeString(header, 156, 1, fields.typeflag);
  writeString(header, 257, 6, 'ustar\0');
  writeString(header, 263, 2, '00');
  writeString(header, 265, 32, 'root');
  writeString(header, 297, 32, 'root');
  writeOctal(header, 329, 8, 0);
  writeOctal(header, 337, 8, 0);
  writeString(header, 345, 155, fields.prefix);
  let sum = 0;
  for (const byte of header) sum += byte;
  writeString(header, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return header;
}

function padding(size: number): Uint8Array {
  const rest = size % BLOCK;
  return new Uint8Array(rest === 0 ? 0 : BLOCK - rest);
}

/** One PAX record: "<len> <key>=<value>\n", where <len> counts the whole record including itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLength = encoder.encode(body).length;
  let length = bodyLength + 1;
  while (String(length).length + bodyLength !== length) length = String(length).length + bodyLength;
  return `${length}${body}`;
}

function normalisePath(entry: TarEntry): string {
  let path = entry.path.replace(/^\/+/, '');
  if (path === '' || path.split('/').some((part) => part === '..')) {
    throw new Error(`tar: invalid entry path "${entry.path}"`);
  }
  path = path.replace(/\/+$/, '');
  return entry.type === 'directory' ? `${path}/` : path;
}

/** Serialises entries, in the order given, into a complete tar archive (with its two zero blocks). */
export function writeTar(entries: readonly TarEntry[]): Buffer {
  const chunks: Uint8Array[] = [];
  for (const entry of entries) {
    const path = normalisePath(entry);
    const data = entry.type === 'file' ? (entry.data ?? new Uint8Array(0)) : new Uint8Array(0);
    const common = {
      mode: entry.mode & 0o7777,
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      mtime: entry.mtime ?? 0,
    };
    let split = splitUstarPath(path);
    if (split === undefined) {
      const pax = encoder.encode(paxRecord('path', path));
      const paxName = `PaxHeaders/${path.slice(-80).replace(/^\/+/, '')}`;
      chunks.push(makeHeader({ ...common, name: paxName.slice(0, 100), prefix: '', size: pax.length, typeflag: 'x' }));
      chunks.push(pax, padding(pax.length));
      // The ustar fields then hold a truncated stand-in; readers use the PAX path.
      split = { prefix: '', name: path.slice(-100) };
    }
    chunks.push(
      makeHeader({
        ...common,
        ...split,
        size: data.length,
        typeflag: entry.type === 'directory' ? '5' : '0',
      }),
    );
    chunks.push(data, padding(data.length));
  }
  chunks.push(new Uint8Array(BLOCK * 2));
  return Buffer.concat(chunks);
}

/**
 * Turns a map of guest paths to contents into layer entries: every parent directory gets its own
 * entry (mode 0755), and everything is sorted by path so the archive does not depend on input order.
 */
export function layerEntries(
  files: ReadonlyMap<string, { data: Uint8Array; mode: number }>,
): TarEntry[] {
  const directories = new Set<string>();
  const entries: TarEntry[] = [];
  for (const [guestPath, file] of files) {
    const parts = guestPath.replace(/^\/+/, '').split('/');
    for (let i = 1; i < parts.length; i++) directories.add(parts.slice(0, i).join('/'));
    entries.push({ path: parts.join('/'), type: 'file', mode: file.mode, data: file.data });
  }
  for (const directory of directories) entries.push({ path: directory, type: 'directory', mode: 0o755 });
  // Sorting by the path with a trailing '/' for directories puts each directory before its contents.
  const key = (entry: TarEntry): string => (entry.type === 'directory' ? `${entry.path}/` : entry.path);
  return entries.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
