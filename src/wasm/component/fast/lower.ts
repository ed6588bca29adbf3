/**
 * Lowering of the WASI 0.2 variants and results the hand-written bindings return through a
 * return pointer, following the canonical ABI's memory layout (discriminant first, payload at the
 * payload's alignment).
 */
import { IoError, type StreamError } from '../io.js';
import type { ErrorCode } from '../http-types.js';
import type { Canon } from './canon.js';

/** A host call's outcome: jco-style host methods return the value or throw the error value. */
export type Outcome<T> = { ok: true; val: T } | { ok: false; err: unknown };

export function attempt<T>(fn: () => T): Outcome<T> {
  try {
    return { ok: true, val: fn() };
  } catch (e) {
    // An Error is a host failure or a trap, never a WIT error value: it propagates.
    if (e instanceof Error) throw e;
    return { ok: false, err: e };
  }
}

/** stream-error { last-operation-failed(own<error>), closed } at `at` (4-byte aligned, 8 bytes). */
export function storeStreamError(c: Canon, at: number, e: unknown): void {
  const err = e as StreamError;
  const dv = c.dv();
  if (err?.tag === 'last-operation-failed') {
    dv.setUint8(at, 0);
    dv.setUint32(at + 4, c.own(err.val instanceof IoError ? err.val : new IoError(String(err.val))), true);
  } else {
    dv.setUint8(at, 1);
  }
}

const HEADER_ERRORS: Record<string, number> = { 'invalid-syntax': 0, forbidden: 1, immutable: 2 };

/** result<_, header-error> at `at`: discriminant, then the error's case at offset 1. */
export function storeHeaderResult(c: Canon, at: number, outcome: Outcome<unknown>): void {
  const dv = c.dv();
  if (outcome.ok) {
    dv.setUint8(at, 0);
    return;
  }
  dv.setUint8(at, 1);
  dv.setUint8(at + 1, HEADER_ERRORS[(outcome.err as { tag?: string })?.tag ?? ''] ?? 0);
}

/** wasi:http error-code cases, in WIT order. */
export const ERROR_CODE_CASES = [
  'DNS-timeout', 'DNS-error', 'destination-not-found', 'destination-unavailable', 'destination-IP-prohibited',
  'destination-IP-unroutable', 'connection-refused', 'connection-terminated', 'connection-timeout',
  'connection-read-timeout', 'connection-write-timeout', 'connection-limit-reached', 'TLS-protocol-error',
  'TLS-certificate-error', 'TLS-alert-received', 'HTTP-request-denied', 'HTTP-request-length-required',
  'HTTP-request-body-size', 'HTTP-request-method-invalid', 'HTTP-request-URI-invalid', 'HTTP-request-URI-too-long',
  'HTTP-request-header-section-size', 'HTTP-request-header-size', 'HTTP-request-trailer-section-size',
  'HTTP-request-trailer-size', 'HTTP-response-incomplete', 'HTTP-response-header-section-size',
  'HTTP-response-header-size', 'HTTP-response-body-size', 'HTTP-response-trailer-section-size',
  'HTTP-response-trailer-size', 'HTTP-response-transfer-coding', 'HTTP-response-content-coding',
  'HTTP-response-timeout', 'HTTP-upgrade-failed', 'HTTP-protocol-error', 'loop-detected', 'configuration-error',
  'internal-error',
] as const;

const INTERNAL_ERROR = ERROR_CODE_CASES.indexOf('internal-error');

/**
 * error-code at `at` (8-byte aligned). Only cases without payload and internal-error's message are
 * produced by this host; anything else becomes internal-error naming it.
 */
export function storeErrorCode(c: Canon, at: number, code: ErrorCode): void {
  const dv = c.dv();
  const index = ERROR_CODE_CASES.indexOf(code.tag as (typeof ERROR_CODE_CASES)[number]);
  const simple = index >= 0 && index !== INTERNAL_ERROR && code.val === undefined;
  if (simple) {
    dv.setUint8(at, index);
    return;
  }
  const message = index === INTERNAL_ERROR ? (code.val as string | undefined) : `${code.tag}${code.val === undefined ? '' : `: ${JSON.stringify(code.val)}`}`;
  dv.setUint8(at, INTERNAL_ERROR);
  if (message === undefined) {
    dv.setUint8(at + 8, 0);
    return;
  }
  dv.setUint8(at + 8, 1);
  c.storeString(at + 12, message);
}

/** The error-code case name behind a flattened discriminant (for logs). */
export function errorCodeName(disc: number): string {
  return ERROR_CODE_CASES[disc] ?? `case ${disc}`;
}
