/**
 * A wasi:http component's server settings, read from container environment variables at Create
 * and removed from the guest's environment (the guest sees exactly the rest of process.env).
 */
import { isIP } from 'node:net';
import type { HttpSettings } from '../wasm/settings.js';
import { lastEnvValue, withoutEnv } from './env-entries.js';
import { ContainerError } from './errors.js';

export const HttpEnv = {
  /** host:port to listen on inside the container's network namespace; [v6]:port for IPv6. */
  address: 'NODEWASM_HTTP_ADDRESS',
  requestTimeoutMs: 'NODEWASM_HTTP_REQUEST_TIMEOUT_MS',
  maxRequestBodyBytes: 'NODEWASM_HTTP_MAX_BODY_BYTES',
} as const;

export const HTTP_DEFAULTS: HttpSettings = {
  host: '0.0.0.0',
  port: 8080,
  requestTimeoutMs: 30_000,
  maxRequestBodyBytes: 16 * 1024 * 1024,
};

const NAMES = new Set<string>(Object.values(HttpEnv));

/** The environment without the runner's own variables: what a component guest sees. */
export function withoutRunnerVariables(env: readonly string[]): string[] {
  return withoutEnv(env, NAMES);
}

/** "0.0.0.0:8080", "127.0.0.1:9000", "[::]:8080" or ":8080" (all IPv4 addresses). */
export function parseListenAddress(text: string): { host: string; port: number } {
  const bad = () => new ContainerError('invalid', `${HttpEnv.address}="${text}": expected HOST:PORT, e.g. 0.0.0.0:8080 or [::1]:8080`);
  const colon = text.lastIndexOf(':');
  if (colon < 0) throw bad();
  let host = text.slice(0, colon) || '0.0.0.0';
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const portText = text.slice(colon + 1);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535 || isIP(host) === 0) throw bad();
  return { host, port };
}

function positiveInteger(env: readonly string[], name: string, fallback: number): number {
  const text = lastEnvValue(env, name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n <= 0) throw new ContainerError('invalid', `${name}="${text}": expected a positive integer`);
  return n;
}

export function httpSettingsFromEnv(env: readonly string[]): HttpSettings {
  const address = lastEnvValue(env, HttpEnv.address);
  const { host, port } = address === undefined ? HTTP_DEFAULTS : parseListenAddress(address);
  return {
    host,
    port,
    requestTimeoutMs: positiveInteger(env, HttpEnv.requestTimeoutMs, HTTP_DEFAULTS.requestTimeoutMs),
    maxRequestBodyBytes: positiveInteger(env, HttpEnv.maxRequestBodyBytes, HTTP_DEFAULTS.maxRequestBodyBytes),
  };
}
