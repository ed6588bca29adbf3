/**
 * A client for the part of containerd's gRPC API the shim reads: a container's record, an
 * image's record, and blobs of the content store. It speaks gRPC with @grpc/grpc-js and encodes
 * messages with the project's own codec (proto/containerd-api.ts).
 *
 * Every call carries the containerd namespace in the `containerd-namespace` header, as
 * containerd's own clients do.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import {
  CONTAINERS_SERVICE,
  CONTENT_SERVICE,
  GetContainerRequest,
  GetContainerResponse,
  GetImageRequest,
  GetImageResponse,
  IMAGES_SERVICE,
  NAMESPACE_HEADER,
  ReadContentRequest,
  ReadContentResponse,
  type ContainerRecord,
  type ImageRecord,
} from '../../proto/containerd-api.js';
import type { MessageType } from '../../proto/message.js';

/** A failed call, with the gRPC status code containerd answered (5 is NOT_FOUND). */
export class ContainerdCallError extends Error {
  override name = 'ContainerdCallError';
  constructor(
    readonly method: string,
    readonly code: number,
    readonly details: string,
  ) {
    super(`containerd ${method}: ${details || grpc.status[code] || `status ${code}`}`);
  }
}

export interface ContainerdClientOptions {
  /** containerd's gRPC socket: a path, or `unix://path`. */
  address: string;
  namespace: string;
  /** Per call. Default 30 s. */
  timeoutMs?: number;
}

export class ContainerdClient {
  private readonly client: grpc.Client;
  private readonly namespace: string;
  private readonly timeoutMs: number;

  constructor(options: ContainerdClientOptions) {
    const path = options.address.replace(/^unix:\/\//, '');
    this.client = new grpc.Client(`unix://${path}`, grpc.credentials.createInsecure(), {
      // containerd's default limit on messages it sends is 16 MiB; Read chunks are far smaller.
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
    });
    this.namespace = options.namespace;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  close(): void {
    this.client.close();
  }

  async getContainer(id: string): Promise<ContainerRecord> {
    const response = await this.unary(CONTAINERS_SERVICE, 'Get', GetContainerRequest, { id }, GetContainerResponse);
    if (response.container === undefined) throw new ContainerdCallError('Containers.Get', grpc.status.NOT_FOUND, `container ${id} not found`);
    return response.container;
  }

  async getImage(name: string): Promise<ImageRecord> {
    const response = await this.unary(IMAGES_SERVICE, 'Get', GetImageRequest, { name }, GetImageResponse);
    if (response.image === undefined) throw new ContainerdCallError('Images.Get', grpc.status.NOT_FOUND, `image ${name} not found`);
    return response.image;
  }

  /** A whole blob, checked against its digest; refused when it is larger than `maxBytes`. */
  async readBlob(digest: string, maxBytes: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    await this.readContent(digest, maxBytes, (chunk) => chunks.push(chunk));
    return Buffer.concat(chunks);
  }

  /**
   * Streams a blob into a new file (mode 0644), checking its digest; on any failure the file is
   * removed. Refused when the blob is larger than `maxBytes`.
   */
  async copyBlobToFile(digest: string, file: string, maxBytes: number): Promise<number> {
    const fd = fs.openSync(file, 'wx', 0o644);
    let size = 0;
    try {
      await this.readContent(digest, maxBytes, (chunk) => {
        fs.writeSync(fd, chunk);
        size += chunk.length;
      });
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
      throw err;
    }
    fs.closeSync(fd);
    return size;
  }

  private readContent(digest: string, maxBytes: number, onChunk: (chunk: Buffer) => void): Promise<void> {
    const [algorithm, expectedHex] = digest.split(':', 2);
    if (algorithm !== 'sha256' || !/^[0-9a-f]{64}$/.test(expectedHex ?? '')) {
      return Promise.reject(new Error(`unsupported digest "${digest}" (only sha256 is read)`));
    }
    const method = `/${CONTENT_SERVICE}/Read`;
    const hash = createHash('sha256');
    let received = 0;
    return new Promise<void>((resolve, reject) => {
      const call = this.client.makeServerStreamRequest(
        method,
        (value: Partial<ReadContentRequest>) => Buffer.from(ReadContentRequest.encode(value)),
        (bytes: Buffer) => ReadContentResponse.decode(bytes),
        { digest },
        this.metadata(),
        { deadline: this.deadline() },
      );
      let failed = false;
      const fail = (err: Error): void => {
        if (failed) return;
        failed = true;
        call.cancel();
        reject(err);
      };
      call.on('data', (response: ReadContentResponse) => {
        if (failed) return;
        const data = Buffer.from(response.data);
        received += data.length;
        if (received > maxBytes) {
          fail(new Error(`blob ${digest} is larger than ${maxBytes} bytes`));
          return;
        }
        hash.update(data);
        try {
          onChunk(data);
        } catch (err) {
          fail(err as Error);
        }
      });
      call.on('error', (err: grpc.ServiceError) => fail(new ContainerdCallError('Content.Read', err.code, err.details)));
      call.on('end', () => {
        if (failed) return;
        const actual = hash.digest('hex');
        if (actual !== expectedHex) reject(new Error(`blob ${digest} read from containerd has digest sha256:${actual}`));
        else resolve();
      });
    });
  }

  private unary<Req, Res>(service: string, name: string, requestType: MessageType<Req>, request: Partial<Req>, responseType: MessageType<Res>): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.client.makeUnaryRequest(
        `/${service}/${name}`,
        (value: Partial<Req>) => Buffer.from(requestType.encode(value)),
        (bytes: Buffer) => responseType.decode(bytes),
        request,
        this.metadata(),
        { deadline: this.deadline() },
        (err: grpc.ServiceError | null, response?: Res) => {
          if (err) reject(new ContainerdCallError(`${service.split('.').pop()}.${name}`, err.code, err.details));
          else resolve(response!);
        },
      );
    });
  }

  private metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set(NAMESPACE_HEADER, this.namespace);
    return metadata;
  }

  private deadline(): Date {
    return new Date(Date.now() + this.timeoutMs);
  }
}
