/**
 * What the shim binary's `delete` action prints on stdout: the very same DeleteResponse
 * the Task service returns (`{1 pid, 2 exit_status, 3 exited_at}`), unframed, no newline.
 */
export { DeleteResponse } from './task.js';
