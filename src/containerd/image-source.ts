/**
 * containerd as the place a container's image comes from: its content store, read over gRPC.
 * Loaded only when a container needs it, so ordinary starts never load gRPC.
 */
import type { BlobDescriptor, ImageContentSource } from '../container/wasm-artifact.js';
import { ContainerdClient } from './client.js';

export interface ClosableImageSource extends ImageContentSource {
  close(): void;
}

export function containerdImageSource(address: string, namespace: string): ClosableImageSource {
  const client = new ContainerdClient({ address, namespace });
  return {
    async imageOfContainer(containerId: string): Promise<string> {
      return (await client.getContainer(containerId)).image;
    },
    async imageTarget(imageName: string): Promise<BlobDescriptor> {
      const target = (await client.getImage(imageName)).target;
      if (target === undefined) throw new Error(`containerd's image ${imageName} has no target`);
      return { mediaType: target.mediaType, digest: target.digest, size: Number(target.size), annotations: target.annotations };
    },
    readBlob: (digest, maxBytes) => client.readBlob(digest, maxBytes),
    copyBlobToFile: (digest, file, maxBytes) => client.copyBlobToFile(digest, file, maxBytes),
    close: () => client.close(),
  };
}
