/** What /proc says about processes: peak and current resident memory, and process trees. */
import { open, readdir, readFile } from 'node:fs/promises';

/** A field of /proc/<pid>/status in kB (VmHWM, VmRSS...), or undefined when the process is gone. */
export async function statusKb(pid: number, field: 'VmHWM' | 'VmRSS' | 'RssAnon'): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
  return match === null ? undefined : Number(match[1]);
}

async function parentOf(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so cut at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

/** `root` and every process below it, at the moment of the scan. */
export async function processTree(root: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const parent = await parentOf(pid);
    if (parent === undefined) continue;
    const siblings = children.get(parent);
    if (siblings === undefined) children.set(parent, [pid]);
    else siblings.push(pid);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

export async function commandName(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
  } catch {
    return '?';
  }
}

/** The sum of VmHWM (peak RSS) over the given processes, in kB; a process that is gone counts 0. */
export async function peakRssKb(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) total += (await statusKb(pid, 'VmHWM')) ?? 0;
  return total;
}

/**
 * The sum of RssAnon (resident anonymous memory: heaps, stacks, malloc) now, in kB: what the
 * processes hold of their own, without the file pages (the node binary) they share with others.
 */
export async function anonymousRssKb(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) total += (await statusKb(pid, 'RssAnon')) ?? 0;
  return total;
}

const PAGE_BYTES = 4096;
const PRESENT = 1n << 63n;
const FRAME_MASK = (1n << 55n) - 1n;
/** Pagemap entries read at a time: 8 MiB of them. */
const CHUNK_PAGES = 1 << 20;

/**
 * The physical memory the given processes hold now, in kB, each page counted once however many
 * of them map it: the distinct page frames behind their resident pages, read from
 * /proc/<pid>/pagemap (frame numbers need root). Where RSS counts the node binary's pages once in
 * every Node process, this counts them once for the set, as the machine holds them. Only the
 * mappings smaps shows resident are read: V8 reserves gigabytes it never touches.
 */
export async function physicalKb(pids: readonly number[]): Promise<number> {
  const frames = new Set<bigint>();
  const entries = Buffer.alloc(CHUNK_PAGES * 8);
  for (const pid of pids) {
    let smaps: string;
    let pagemap;
    try {
      smaps = await readFile(`/proc/${pid}/smaps`, 'utf8');
      pagemap = await open(`/proc/${pid}/pagemap`, 'r');
    } catch {
      continue; // gone meanwhile
    }
    try {
      let mapping: { start: number; end: number } | undefined;
      for (const line of smaps.split('\n')) {
        const head = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
        if (head !== null) {
          mapping = { start: parseInt(head[1]!, 16), end: parseInt(head[2]!, 16) };
          continue;
        }
        const rss = /^Rss:\s+(\d+) kB$/.exec(line);
        // [vsyscall], above 2^53, is the kernel's page and never resident.
        if (rss === null || mapping === undefined || Number(rss[1]) === 0 || mapping.end > Number.MAX_SAFE_INTEGER) continue;
        for (let page = mapping.start / PAGE_BYTES; page < mapping.end / PAGE_BYTES; page += CHUNK_PAGES) {
          const count = Math.min(CHUNK_PAGES, mapping.end / PAGE_BYTES - page);
          const { bytesRead } = await pagemap.read(entries, 0, count * 8, page * 8);
          for (let offset = 0; offset < bytesRead; offset += 8) {
            const entry = entries.readBigUInt64LE(offset);
            if ((entry & PRESENT) === 0n) continue;
            const frame = entry & FRAME_MASK;
            if (frame === 0n) throw new Error('physicalKb: /proc/<pid>/pagemap hides frame numbers; the bench must run as root');
            frames.add(frame);
          }
        }
      }
    } finally {
      await pagemap.close();
    }
  }
  return (frames.size * PAGE_BYTES) / 1024;
}

/** One process tree's processes with their names and peaks, for the report's notes. */
export async function describeTree(pids: readonly number[]): Promise<string> {
  const parts: string[] = [];
  for (const pid of pids) parts.push(`${await commandName(pid)} ${(((await statusKb(pid, 'VmHWM')) ?? 0) / 1024).toFixed(1)}`);
  return parts.join(' + ');
}

/** The pids of the live processes whose command line (arguments joined by spaces) passes `test`. */
export async function processesWhose(test: (cmdline: string) => boolean): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = (await readFile(`/proc/${name}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      if (test(cmdline)) found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
