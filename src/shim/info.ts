import fs from 'node:fs';
import { RuntimeInfo } from '../../proto/shim.js';

export const RUNTIME_NAME = 'io.containerd.nodewasm.v1';

/** The bytes `-info` prints: our name and version, no options and no optional OCI features. */
export function runtimeInfo(version: string): Uint8Array {
  return RuntimeInfo.encode({ name: RUNTIME_NAME, version: { version, revision: '' } });
}

/**
 * `-info` (containerd 2.x): containerd sends the runtime options on stdin and reads the
 * protobuf RuntimeInfo from stdout. The options change nothing here, so stdin is drained unread.
 */
export function printRuntimeInfo(version: string): void {
  try {
    if (!process.stdin.isTTY) fs.readFileSync(0);
  } catch {
    // nothing to read
  }
  fs.writeSync(1, runtimeInfo(version));
}
