import { sha256Hex } from '../hash/sha256.js';

/** Where shim sockets live; the name hashes containerd's address, so private instances never collide. */
export const SOCKET_DIR = '/run/containerd/s';

/** Linux's sun_path holds 108 bytes with the NUL; containerd keeps 106 as its own limit. */
const MAX_SOCKET_PATH = 106;

export function shimSocketPath(containerdAddress: string, namespace: string, groupKey: string): string {
  const hash = sha256Hex(`${containerdAddress}/${namespace}/${groupKey}`);
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
