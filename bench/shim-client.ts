/**
 * Talking to a shim the way containerd does, over its ttrpc socket, with our own client: the same
 * code for our daemon and for containerd-shim-runc-v2, since both speak containerd.task.v2.Task.
 */
import { ConnectRequest, ConnectResponse, StateRequest, StateResponse, TASK_SERVICE, TaskStatus } from '../proto/task.js';
import { TtrpcClient } from '../src/ttrpc/client.js';

const CALL_TIMEOUT_MS = 5_000;

export function connectShim(address: string): Promise<TtrpcClient> {
  return TtrpcClient.connect(address, { connectTimeoutMs: CALL_TIMEOUT_MS });
}

/** The shim daemon's pid and the task's (the container's init) pid, from the shim itself. */
export async function shimPids(client: TtrpcClient, id: string): Promise<{ shimPid: number; taskPid: number }> {
  const answer = await client.callTyped(TASK_SERVICE, 'Connect', ConnectRequest, { id }, ConnectResponse, { timeoutMs: CALL_TIMEOUT_MS });
  return { shimPid: answer.shimPid, taskPid: answer.taskPid };
}

export async function state(client: TtrpcClient, id: string): Promise<StateResponse> {
  return client.callTyped(TASK_SERVICE, 'State', StateRequest, { id }, StateResponse, { timeoutMs: CALL_TIMEOUT_MS });
}

export interface RoundTrips {
  calls: number;
  seconds: number;
  perSecond: number;
}

/**
 * State round trips on one connection: `concurrency` callers, each sending its next call when its
 * last one is answered, until `maxCalls` were sent or `maxMs` passed. Every answer is checked.
 */
export async function stateRoundTrips(client: TtrpcClient, id: string, concurrency: number, maxCalls: number, maxMs: number): Promise<RoundTrips> {
  let sent = 0;
  let answered = 0;
  const started = performance.now();
  const deadline = started + maxMs;
  const caller = async (): Promise<void> => {
    while (sent < maxCalls && performance.now() < deadline) {
      sent++;
      const answer = await state(client, id);
      if (answer.id !== id || answer.status !== TaskStatus.RUNNING) {
        throw new Error(`State(${id}) answered id ${answer.id}, status ${answer.status}`);
      }
      answered++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  const seconds = (performance.now() - started) / 1000;
  return { calls: answered, seconds, perSecond: answered / seconds };
}
