/**
 * The few calls of containerd's own gRPC API the shim makes (api/services/{containers,images,
 * content}/v1): enough to find a container's image and read blobs from the content store. Only
 * the fields the shim reads are declared; the codec skips the rest.
 */
import { message } from './message.js';
import type { MessageOf } from './message.js';

export const CONTAINERS_SERVICE = 'containerd.services.containers.v1.Containers';
export const IMAGES_SERVICE = 'containerd.services.images.v1.Images';
export const CONTENT_SERVICE = 'containerd.services.content.v1.Content';

/** The gRPC metadata key that carries the containerd namespace of a call. */
export const NAMESPACE_HEADER = 'containerd-namespace';

export const ContentDescriptor = message('containerd.types.Descriptor', {
  mediaType: { no: 1, type: 'string' },
  digest: { no: 2, type: 'string' },
  size: { no: 3, type: 'int64' },
  annotations: { no: 5, map: 'string' },
});
export type ContentDescriptor = MessageOf<typeof ContentDescriptor>;

export const ContainerRecord = message('containerd.services.containers.v1.Container', {
  id: { no: 1, type: 'string' },
  image: { no: 3, type: 'string' },
});
export type ContainerRecord = MessageOf<typeof ContainerRecord>;

export const GetContainerRequest = message('containerd.services.containers.v1.GetContainerRequest', {
  id: { no: 1, type: 'string' },
});
export type GetContainerRequest = MessageOf<typeof GetContainerRequest>;

export const GetContainerResponse = message('containerd.services.containers.v1.GetContainerResponse', {
  container: { no: 1, message: ContainerRecord },
});
export type GetContainerResponse = MessageOf<typeof GetContainerResponse>;

export const ImageRecord = message('containerd.services.images.v1.Image', {
  name: { no: 1, type: 'string' },
  target: { no: 3, message: ContentDescriptor },
});
export type ImageRecord = MessageOf<typeof ImageRecord>;

export const GetImageRequest = message('containerd.services.images.v1.GetImageRequest', {
  name: { no: 1, type: 'string' },
});
export type GetImageRequest = MessageOf<typeof GetImageRequest>;

export const GetImageResponse = message('containerd.services.images.v1.GetImageResponse', {
  image: { no: 1, message: ImageRecord },
});
export type GetImageResponse = MessageOf<typeof GetImageResponse>;

export const ReadContentRequest = message('containerd.services.content.v1.ReadContentRequest', {
  digest: { no: 1, type: 'string' },
  offset: { no: 2, type: 'int64' },
  /** 0 reads the whole blob. */
  size: { no: 3, type: 'int64' },
});
export type ReadContentRequest = MessageOf<typeof ReadContentRequest>;

/** One chunk of a Read stream. */
export const ReadContentResponse = message('containerd.services.content.v1.ReadContentResponse', {
  offset: { no: 1, type: 'int64' },
  data: { no: 2, type: 'bytes' },
});
export type ReadContentResponse = MessageOf<typeof ReadContentResponse>;
