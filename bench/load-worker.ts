/**
 * The HTTP load generator, run as its own process (`node dist/bench.mjs --load-worker <json>`) so
 * that it never shares a thread with the server it measures: autocannon with a fixed number of
 * keep-alive connections, bounded by a request count and a duration, to 127.0.0.1 only. It prints
 * one JSON line: what was answered, in how long, and the latency percentiles it saw.
 */
import autocannon, { type AutocannonResult } from 'autocannon';
import { percentileOfSorted } from './stats.js';

export interface LoadSettings {
  url: string;
  connections: number;
  durationSeconds: number;
  maxRequests: number;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

export function checkLoopback(url: string): void {
  if (new URL(url).hostname !== '127.0.0.1') throw new Error(`the load generator only talks to 127.0.0.1, not ${url}`);
}

export async function runLoadWorker(argument: string): Promise<void> {
  const settings = JSON.parse(argument) as LoadSettings;
  checkLoopback(settings.url);
  const latencies = new Float64Array(settings.maxRequests);
  let answered = 0;
  const started = performance.now();
  const result = await new Promise<AutocannonResult>((resolvePromise, reject) => {
    const instance = autocannon(
      {
        url: settings.url,
        connections: settings.connections,
        duration: settings.durationSeconds,
        maxOverallRequests: settings.maxRequests,
        timeout: 5,
      },
      (error, done) => (error ? reject(error) : resolvePromise(done)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
      if (statusCode >= 200 && statusCode < 300 && answered < latencies.length) latencies[answered++] = responseTimeMs;
    });
  });
  const seconds = (performance.now() - started) / 1000;
  const sorted = latencies.subarray(0, answered).sort();
  const output: LoadResult = {
    requests: answered,
    seconds,
    perSecond: answered / seconds,
    p50Ms: percentileOfSorted(sorted, 50),
    p95Ms: percentileOfSorted(sorted, 95),
    p99Ms: percentileOfSorted(sorted, 99),
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
  process.stdout.write(`${JSON.stringify(output)}\n`);
}
