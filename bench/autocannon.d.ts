// The part of autocannon's programmatic API (https://github.com/mcollina/autocannon) the HTTP load
// worker uses; the package ships no types.
declare module 'autocannon' {
  export interface AutocannonOptions {
    url: string;
    connections?: number;
    pipelining?: number;
    /** Seconds. */
    duration?: number;
    /** Stop after this many requests in total, whichever comes first with `duration`. */
    maxOverallRequests?: number;
    /** Seconds before a request counts as timed out. */
    timeout?: number;
  }

  export interface AutocannonResult {
    errors: number;
    timeouts: number;
    non2xx: number;
    requests: { total: number; sent: number; average: number };
  }

  export interface AutocannonInstance {
    on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): this;
    stop(): void;
  }

  function autocannon(options: AutocannonOptions, done: (error: Error | null, result: AutocannonResult) => void): AutocannonInstance;

  export default autocannon;
}
