import { describe, expect, it } from 'vitest';
import { GetContainerResponse, GetImageResponse, ReadContentRequest, ReadContentResponse } from '../../proto/containerd-api.js';
import { message } from '../../proto/message.js';
import { Any } from '../../proto/google.js';

// containerd's own Container and Image records, with the fields the shim does not declare.
const FullContainer = message('test.Container', {
  id: { no: 1, type: 'string' },
  labels: { no: 2, map: 'string' },
  image: { no: 3, type: 'string' },
  spec: { no: 5, message: Any },
  snapshotter: { no: 6, type: 'string' },
  sandbox: { no: 11, type: 'string' },
});
const FullContainerResponse = message('test.GetContainerResponse', { container: { no: 1, message: FullContainer } });
const FullDescriptor = message('test.Descriptor', {
  mediaType: { no: 1, type: 'string' },
  digest: { no: 2, type: 'string' },
  size: { no: 3, type: 'int64' },
  annotations: { no: 5, map: 'string' },
});
const FullImage = message('test.Image', {
  name: { no: 1, type: 'string' },
  labels: { no: 2, map: 'string' },
  target: { no: 3, message: FullDescriptor },
  createdAt: { no: 7, message: Any },
});
const FullImageResponse = message('test.GetImageResponse', { image: { no: 1, message: FullImage } });

describe('containerd API messages the shim reads', () => {
  it('decodes a container record, skipping the fields it does not declare', () => {
    const bytes = FullContainerResponse.encode({
      container: { id: 'c1', labels: { a: 'b' }, image: 'ghcr.io/x/y:1', spec: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: new Uint8Array([1, 2, 3]) }, snapshotter: 'overlayfs', sandbox: 'pod' },
    });
    expect(GetContainerResponse.decode(bytes).container).toEqual({ id: 'c1', image: 'ghcr.io/x/y:1' });
  });

  it('decodes an image record with its target descriptor', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const bytes = FullImageResponse.encode({
      image: { name: 'n', labels: { l: 'v' }, target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 1234n, annotations: { k: 'v' } }, createdAt: { typeUrl: 't', value: new Uint8Array([9]) } },
    });
    const image = GetImageResponse.decode(bytes).image!;
    expect(image.name).toBe('n');
    expect(image.target).toEqual({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 1234n, annotations: { k: 'v' } });
  });

  it('round-trips a content read and its chunks', () => {
    const request = ReadContentRequest.decode(ReadContentRequest.encode({ digest: 'sha256:00', offset: 5n, size: 0n }));
    expect(request).toEqual({ digest: 'sha256:00', offset: 5n, size: 0n });
    const chunk = ReadContentResponse.decode(ReadContentResponse.encode({ offset: 16n, data: new Uint8Array([1, 2]) }));
    expect(chunk.offset).toBe(16n);
    expect(Array.from(chunk.data)).toEqual([1, 2]);
  });
});
