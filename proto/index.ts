export * from './wire.js';
export * from './message.js';
export * from './google.js';
export * from './ttrpc.js';
export * from './task.js';
export * from './events.js';
// shim.ts only re-exports task's DeleteResponse, which is already exported above.
