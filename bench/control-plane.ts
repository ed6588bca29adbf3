/**
 * The shim's control plane: State round trips per second over the shim's ttrpc socket (the one
 * containerd uses, named in the bundle's `address` file), with our own ttrpc client against both
 * shims, one call at a time and with 16 in flight, on a running `sleep` container each.
 */
import { BackgroundContainer, NODEWASM, RUNC, inTurn, uniqueId, type Side } from './containers.js';
import type { BenchContext, Figure } from './figure.js';
import { connectShim, stateRoundTrips } from './shim-client.js';
import type { TtrpcClient } from '../src/ttrpc/client.js';

const MAX_MS = 1_000;
const SEQUENTIAL_CALLS = 10_000;
const CONCURRENT_CALLS = 40_000;
const CONCURRENCY = 16;

export async function controlPlane(ctx: BenchContext): Promise<Figure[]> {
  const live = new Map<Side['name'], { container: BackgroundContainer; client: TtrpcClient }>();
  try {
    for (const side of [NODEWASM, RUNC]) {
      const container = await BackgroundContainer.start(ctx.pc, side.target('sleep', ['3600']), uniqueId(`${side.name}-state`), 'sleeping');
      const client = await connectShim(await container.shimAddress()).catch(async (error: unknown) => {
        await container.stop();
        throw error;
      });
      live.set(side.name, { container, client });
      await stateRoundTrips(client, container.id, CONCURRENCY, 1_000, MAX_MS);
    }
    const sequential = { nodewasm: [] as number[], runc: [] as number[] };
    const concurrent = { nodewasm: [] as number[], runc: [] as number[] };
    for (let round = 0; round < ctx.runs; round++) {
      for (const side of inTurn(round, NODEWASM, RUNC)) {
        const { container, client } = live.get(side.name)!;
        sequential[side.name].push((await stateRoundTrips(client, container.id, 1, SEQUENTIAL_CALLS, MAX_MS)).perSecond);
      }
      for (const side of inTurn(round, NODEWASM, RUNC)) {
        const { container, client } = live.get(side.name)!;
        concurrent[side.name].push((await stateRoundTrips(client, container.id, CONCURRENCY, CONCURRENT_CALLS, MAX_MS)).perSecond);
      }
    }
    const show = (values: number[]): string => values.map(Math.round).join(' ');
    ctx.progress(`State: sequential ${show(sequential.nodewasm)} | runc ${show(sequential.runc)}; x${CONCURRENCY} ${show(concurrent.nodewasm)} | runc ${show(concurrent.runc)}`);
    return [
      {
        title: 'control plane: State round trips, one at a time (calls/s)',
        unit: 'calls/s',
        ours: sequential.nodewasm,
        peerName: 'containerd-shim-runc-v2',
        peer: sequential.runc,
      },
      {
        title: `control plane: State round trips, ${CONCURRENCY} in flight (calls/s)`,
        unit: 'calls/s',
        ours: concurrent.nodewasm,
        peerName: 'containerd-shim-runc-v2',
        peer: concurrent.runc,
      },
    ];
  } finally {
    for (const { container, client } of live.values()) {
      client.close();
      await container.stop();
    }
  }
}
