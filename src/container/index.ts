export { Container, type CreateContainerOptions, type ExecOptions, type StartedProcess } from './container.js';
export { cleanupAfterShim } from './cleanup.js';
export type { ExecProcess } from './exec-process.js';
export { ContainerError, type ContainerErrorKind } from './errors.js';
export type { ExitResult } from './runc.js';
export type { StdioPaths } from './stdio.js';
export type { RootfsMount } from './rootfs.js';
export { CriAnnotation, type OciSpec } from './spec.js';
