export { Code, TtrpcError } from './status.js';
export { FRAME_HEADER_LENGTH, MAX_MESSAGE_SIZE, FrameDecoder, FrameType, encodeFrame } from './frame.js';
export type { DecodedFrame, Frame, FrameHeader, OversizedFrame } from './frame.js';
export { TtrpcServer, unary } from './server.js';
export type { CallContext, TtrpcServerOptions, UnaryHandler } from './server.js';
export { TtrpcClient, socketPathOf } from './client.js';
export type { CallOptions, ConnectOptions } from './client.js';
