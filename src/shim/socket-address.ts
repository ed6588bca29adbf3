import { createHash } from 'node:crypto';

/** Where shim sockets live; the name hashes containerd's address, so private instances never collide. */
export const SOCKET_DIR = '/run/containerd/s';

/** Linux's sun_path holds 108 bytes with the NUL; containerd keeps 106 as its own limit. */
const MAX_SOCKET_PATH = 106;

export function shimSocketPath(containerdAddress: string, namespace: string, groupKey: string): string {
  const hash = createHash('sha256').update(`${containerdAddress}/${namespace}/${groupKey}`).digest('hex');
  const socketPath = `${SOCKET_DIR}/${hash}`;
  if (socketPath.length > MAX_SOCKET_PATH) throw new Error(`shim socket path too long: ${socketPath}`);
  return socketPath;
}

export function withUnixScheme(socketPath: string): string {
  return `unix://${socketPath}`;
}

export function withoutUnixScheme(address: string): string {
  return address.startsWith('unix://') ? address.slice('unix://'.length) : address;
}
