import { describe, expect, it } from 'vitest';
import { toTtrpcError } from '../../src/shim/status-mapping.js';
import { TaskError } from '../../src/shim/errors.js';
import { ContainerError } from '../../src/container/errors.js';
import { Code } from '../../src/ttrpc/status.js';

describe('toTtrpcError', () => {
  it.each([
    [new TaskError('not-found', 'x'), Code.NOT_FOUND],
    [new TaskError('already-exists', 'x'), Code.ALREADY_EXISTS],
    [new TaskError('precondition', 'x'), Code.FAILED_PRECONDITION],
    [new TaskError('invalid', 'x'), Code.INVALID_ARGUMENT],
    [new ContainerError('invalid', 'x'), Code.INVALID_ARGUMENT],
    [new ContainerError('not-found', 'x'), Code.NOT_FOUND],
    [new ContainerError('unsupported', 'x'), Code.UNIMPLEMENTED],
    [new ContainerError('internal', 'x'), Code.INTERNAL],
    [new Error('plain'), Code.UNKNOWN],
  ])('maps %s to code %i', (err, code) => {
    const mapped = toTtrpcError(err);
    expect(mapped.code).toBe(code);
    expect(mapped.message).toBe(err.message);
  });
});
