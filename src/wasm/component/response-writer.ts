/**
 * Puts a guest's response on the wire with as few writes as possible. What the guest writes and
 * flushes in one turn of the event loop leaves together at the end of that turn (setImmediate:
 * after the promise jobs in which a JSPI guest resumes, and before Node waits for anything, so a
 * flush is never held back): a response finished in its first turn goes out as one write with a
 * Content-Length, as a plain Node server's would; a body still being produced goes out chunked,
 * a turn's worth at a time.
 */
import type { ServerResponse } from 'node:http';
import type { BodyTarget } from './http-body.js';

export class ResponseWriter implements BodyTarget {
  private chunks: Uint8Array[] = [];
  private scheduled = false;
  private finishing = false;
  private ended = false;
  /** The status line and headers are on their way: the host can no longer answer instead. */
  headSent = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly status: number,
    private readonly headers: string[],
    private readonly onError: (e: Error) => void,
  ) {
    this.schedule();
  }

  get writableNeedDrain(): boolean {
    return this.res.writableNeedDrain;
  }

  get destroyed(): boolean {
    return this.res.destroyed;
  }

  once(event: 'drain' | 'close', listener: () => void): this {
    this.res.once(event, listener);
    return this;
  }

  off(event: 'drain' | 'close', listener: () => void): this {
    this.res.off(event, listener);
    return this;
  }

  write(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.schedule();
  }

  end(): void {
    this.finishing = true;
    this.schedule();
  }

  /** The host answers instead (a trap before anything was sent): nothing of the guest's goes out. */
  cancel(): void {
    this.ended = true;
    this.chunks = [];
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.ended || this.res.destroyed) return;
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [];
    try {
      if (!this.headSent) {
        this.headSent = true;
        const headers = this.headers;
        if (this.finishing && !hasHeader(headers, 'content-length')) headers.push('content-length', String(body.length));
        this.res.writeHead(this.status, headers);
      }
      if (this.finishing) {
        this.ended = true;
        this.res.end(body.length > 0 ? body : undefined);
      } else if (body.length > 0) {
        this.res.write(body);
      }
    } catch (e) {
      // Node refused what the guest sent (a Content-Length that does not match the body...).
      this.ended = true;
      this.res.destroy();
      this.onError(e as Error);
    }
  }
}

function hasHeader(raw: string[], lower: string): boolean {
  for (let i = 0; i < raw.length; i += 2) if (raw[i] === lower) return true;
  return false;
}
