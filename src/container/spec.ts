/**
 * The parts of the OCI runtime spec (config.json) that nodewasm reads or rewrites. Fields it does
 * not know are kept as they are: a derived spec starts from a deep copy of the user's.
 */
export interface OciUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

export interface OciProcess {
  terminal?: boolean;
  user: OciUser;
  args?: string[];
  env?: string[];
  cwd: string;
  [field: string]: unknown;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface OciRoot {
  path: string;
  readonly?: boolean;
}

export interface OciNamespace {
  type: string;
  path?: string;
}

export interface OciLinuxResources {
  memory?: { limit?: number; swap?: number; reservation?: number; [field: string]: unknown };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string; [field: string]: unknown };
  pids?: { limit: number };
  [field: string]: unknown;
}

export interface OciLinux {
  namespaces?: OciNamespace[];
  resources?: OciLinuxResources;
  cgroupsPath?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  [field: string]: unknown;
}

export interface OciSpec {
  ociVersion: string;
  process?: OciProcess;
  root?: OciRoot;
  hostname?: string;
  mounts?: OciMount[];
  annotations?: Record<string, string>;
  linux?: OciLinux;
  [field: string]: unknown;
}

/** Annotations the CRI plugin sets; the shim reads them for grouping and logs. */
export const CriAnnotation = {
  containerType: 'io.kubernetes.cri.container-type',
  sandboxId: 'io.kubernetes.cri.sandbox-id',
} as const;

export function specEnvValue(env: readonly string[] | undefined, key: string): string | undefined {
  const prefix = `${key}=`;
  const entry = env?.find((e) => e.startsWith(prefix));
  return entry?.slice(prefix.length);
}
