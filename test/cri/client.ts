/**
 * A kubelet-like CRI client for the end-to-end tests: the runtime.v1 RuntimeService and
 * ImageService calls the kubelet makes, over gRPC on containerd's socket, with our own
 * api.proto (beside this file). Requests are deep-partial (proto3 defaults fill the rest);
 * responses are fully typed, int64 values as decimal strings (`longs: String`).
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO_PATH = fileURLToPath(new URL('./api.proto', import.meta.url));

/** A proto3 request: every field optional, recursively. */
export type Partial2<T> = T extends readonly (infer E)[]
  ? readonly Partial2<E>[]
  : T extends Buffer
    ? T
    : T extends object
      ? { [K in keyof T]?: Partial2<T[K]> | null }
      : T;

/** int64/uint64 on the wire: decimal strings when read, numbers or strings when written. */
export type Int64 = string;

export const NamespaceMode = { POD: 0, CONTAINER: 1, NODE: 2, TARGET: 3 } as const;
export const ContainerState = { CREATED: 0, RUNNING: 1, EXITED: 2, UNKNOWN: 3 } as const;
export const PodSandboxState = { READY: 0, NOTREADY: 1 } as const;

export interface KeyValue {
  key: string;
  value: string;
}

export interface NamespaceOption {
  network: number;
  pid: number;
  ipc: number;
  targetId: string;
}

export interface LinuxContainerResources {
  cpuPeriod: Int64 | number;
  cpuQuota: Int64 | number;
  cpuShares: Int64 | number;
  memoryLimitInBytes: Int64 | number;
  oomScoreAdj: Int64 | number;
  cpusetCpus: string;
  cpusetMems: string;
  unified: Record<string, string>;
  memorySwapLimitInBytes: Int64 | number;
}

export interface ImageSpec {
  image: string;
  annotations: Record<string, string>;
}

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname: string;
  logDirectory: string;
  dnsConfig: { servers: string[]; searches: string[]; options: string[] };
  labels: Record<string, string>;
  annotations: Record<string, string>;
  linux: {
    cgroupParent: string;
    securityContext: { namespaceOptions: NamespaceOption; readonlyRootfs: boolean; privileged: boolean };
    sysctls: Record<string, string>;
    overhead: LinuxContainerResources;
    resources: LinuxContainerResources;
  };
}

export interface ContainerMetadata {
  name: string;
  attempt: number;
}

export interface ContainerConfig {
  metadata: ContainerMetadata;
  image: ImageSpec;
  command: string[];
  args: string[];
  workingDir: string;
  envs: KeyValue[];
  mounts: Array<{ containerPath: string; hostPath: string; readonly: boolean }>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  logPath: string;
  stdin: boolean;
  stdinOnce: boolean;
  tty: boolean;
  linux: {
    resources: LinuxContainerResources;
    securityContext: { privileged: boolean; namespaceOptions: NamespaceOption; runAsUser: { value: Int64 | number }; readonlyRootfs: boolean };
  };
}

export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata | null;
  state: number;
  createdAt: Int64;
  network: { ip: string; additionalIps: Array<{ ip: string }> } | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtimeHandler: string;
}

export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata | null;
  state: number;
  createdAt: Int64;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtimeHandler: string;
}

export interface Container {
  id: string;
  podSandboxId: string;
  metadata: ContainerMetadata | null;
  image: ImageSpec | null;
  imageRef: string;
  state: number;
  createdAt: Int64;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface ContainerStatus {
  id: string;
  metadata: ContainerMetadata | null;
  state: number;
  createdAt: Int64;
  startedAt: Int64;
  finishedAt: Int64;
  exitCode: number;
  image: ImageSpec | null;
  imageRef: string;
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  logPath: string;
  resources: { linux: LinuxContainerResources | null } | null;
}

export interface UInt64Value {
  value: Int64;
}

export interface ContainerStats {
  attributes: { id: string; metadata: ContainerMetadata | null; labels: Record<string, string>; annotations: Record<string, string> } | null;
  cpu: { timestamp: Int64; usageCoreNanoSeconds: UInt64Value | null; usageNanoCores: UInt64Value | null } | null;
  memory: {
    timestamp: Int64;
    workingSetBytes: UInt64Value | null;
    availableBytes: UInt64Value | null;
    usageBytes: UInt64Value | null;
    rssBytes: UInt64Value | null;
    pageFaults: UInt64Value | null;
    majorPageFaults: UInt64Value | null;
  } | null;
  writableLayer: { timestamp: Int64; fsId: { mountpoint: string } | null; usedBytes: UInt64Value | null; inodesUsed: UInt64Value | null } | null;
}

export interface Image {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: Int64;
  uid: { value: Int64 } | null;
  username: string;
  spec: ImageSpec | null;
  pinned: boolean;
}

/** Each RPC: its request (as the test writes it) and its response (as containerd answers). */
export interface RuntimeMethods {
  Version: [{ version: string }, { version: string; runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }];
  Status: [{ verbose: boolean }, { status: { conditions: Array<{ type: string; status: boolean; reason: string; message: string }> } | null; info: Record<string, string> }];
  RunPodSandbox: [{ config: PodSandboxConfig; runtimeHandler: string }, { podSandboxId: string }];
  StopPodSandbox: [{ podSandboxId: string }, Record<string, never>];
  RemovePodSandbox: [{ podSandboxId: string }, Record<string, never>];
  PodSandboxStatus: [{ podSandboxId: string; verbose: boolean }, { status: PodSandboxStatus | null; info: Record<string, string> }];
  ListPodSandbox: [{ filter: { id: string; labelSelector: Record<string, string> } }, { items: PodSandbox[] }];
  CreateContainer: [{ podSandboxId: string; config: ContainerConfig; sandboxConfig: PodSandboxConfig }, { containerId: string }];
  StartContainer: [{ containerId: string }, Record<string, never>];
  StopContainer: [{ containerId: string; timeout: number }, Record<string, never>];
  RemoveContainer: [{ containerId: string }, Record<string, never>];
  ListContainers: [{ filter: { id: string; podSandboxId: string; labelSelector: Record<string, string> } }, { containers: Container[] }];
  ContainerStatus: [{ containerId: string; verbose: boolean }, { status: ContainerStatus | null; info: Record<string, string> }];
  UpdateContainerResources: [{ containerId: string; linux: LinuxContainerResources; annotations: Record<string, string> }, Record<string, never>];
  ExecSync: [{ containerId: string; cmd: string[]; timeout: number }, { stdout: Buffer; stderr: Buffer; exitCode: number }];
  ContainerStats: [{ containerId: string }, { stats: ContainerStats | null }];
}

export interface ImageMethods {
  ListImages: [{ filter: { image: ImageSpec } }, { images: Image[] }];
  ImageStatus: [{ image: ImageSpec; verbose: boolean }, { image: Image | null; info: Record<string, string> }];
  PullImage: [{ image: ImageSpec; sandboxConfig: PodSandboxConfig }, { imageRef: string }];
}

/** A failed CRI call: the gRPC status code and containerd's message, with the method named. */
export class CriError extends Error {
  constructor(
    readonly method: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`CRI ${method} failed: ${grpc.status[code] ?? code}: ${details}`);
    this.name = 'CriError';
  }
}

let packageDefinition: protoLoader.PackageDefinition | undefined;

function definitions(): protoLoader.PackageDefinition {
  packageDefinition ??= protoLoader.loadSync(PROTO_PATH, {
    keepCase: false,
    longs: String,
    enums: Number,
    defaults: true,
    arrays: true,
    objects: true,
  });
  return packageDefinition;
}

function service(name: string): protoLoader.ServiceDefinition {
  const found = definitions()[name];
  if (found === undefined || 'format' in found) throw new Error(`api.proto has no service ${name}`);
  return found as protoLoader.ServiceDefinition;
}

export interface CriCallOptions {
  /** Default 120 s: containerd's own CRI calls into the shim carry shorter deadlines. */
  timeoutMs?: number;
}

type Method<M> = keyof M & string;
type Request<M, K extends keyof M> = M[K] extends [infer Req, unknown] ? Partial2<Req> : never;
type Response<M, K extends keyof M> = M[K] extends [unknown, infer Res] ? Res : never;

export class CriClient {
  private readonly client: grpc.Client;
  private readonly runtimeService = service('runtime.v1.RuntimeService');
  private readonly imageService = service('runtime.v1.ImageService');

  /** `address`: containerd's socket, as a path or `unix:///path`. */
  constructor(address: string) {
    const target = address.startsWith('unix:') ? address : `unix://${address}`;
    this.client = new grpc.Client(target, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 32 * 1024 * 1024,
    });
  }

  runtime<K extends Method<RuntimeMethods>>(method: K, request: Request<RuntimeMethods, K>, options: CriCallOptions = {}): Promise<Response<RuntimeMethods, K>> {
    return this.call(this.runtimeService, method, request, options);
  }

  image<K extends Method<ImageMethods>>(method: K, request: Request<ImageMethods, K>, options: CriCallOptions = {}): Promise<Response<ImageMethods, K>> {
    return this.call(this.imageService, method, request, options);
  }

  close(): void {
    this.client.close();
  }

  private call<Res>(definition: protoLoader.ServiceDefinition, method: string, request: unknown, options: CriCallOptions): Promise<Res> {
    const rpc = definition[method];
    if (rpc === undefined) return Promise.reject(new Error(`api.proto has no method ${method}`));
    const deadline = new Date(Date.now() + (options.timeoutMs ?? 120_000));
    return new Promise<Res>((resolve, reject) => {
      this.client.makeUnaryRequest<object, Res>(
        rpc.path,
        (value) => rpc.requestSerialize(value),
        (bytes) => rpc.responseDeserialize(bytes) as Res,
        request as object,
        new grpc.Metadata(),
        { deadline },
        (error, response) => {
          if (error) reject(new CriError(method, error.code, error.details));
          else resolve(response as Res);
        },
      );
    });
  }
}
