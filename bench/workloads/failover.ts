/**
 * Failover: two pool members (`sc run --tunnel-pool`, same tunnel name) under load; one is killed with SIGKILL.
 * Reported: how long after the kill new requests still failed, and how many failed. Then drain: a fresh second
 * member joins, one member is stopped with SIGTERM under load, and every failed request counts (goal 0).
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOOPBACK, type Placement } from '../anchors/anchor.js';
import {
  proxyAuthorization,
  startSluiceClient,
  startSluiceServer,
  type SluiceClient,
  type SluiceServer,
} from '../anchors/sluice.js';
import { sleep, start, waitFor } from '../harness/processes.js';

const loadMain = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'failover-load.js');
const NAME = 'bench-pool';

export interface FailoverResult {
  /** From the kill until the last request that failed because of it had started (0: only in-flight ones failed). */
  killRecoveryMs: number;
  /** Requests that failed at or after the kill, in flight then or started later. */
  killFailed: number;
  /** Of those, requests started after the kill. */
  killFailedNew: number;
  killTotal: number;
  drainFailed: number;
  drainTotal: number;
}

function readyz(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: LOOPBACK, port, path: '/readyz', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function member(server: SluiceServer, place: Placement): Promise<SluiceClient> {
  const c = await startSluiceClient(server, NAME, place, ['--tunnel-pool']);
  await waitFor('pool member ready', async () => ((await readyz(c.apiPort)) ? true : undefined), 30_000);
  return c;
}

async function underLoad(server: SluiceServer, place: Placement, seconds: number, act: () => Promise<void>) {
  const load = start(process.execPath, [
    loadMain,
    '--proxy',
    server.info.proxy_address,
    '--auth',
    proxyAuthorization(server, NAME),
    '--url',
    `http://${LOOPBACK}:${place.origin.http}/1k`,
    '--seconds',
    String(seconds),
  ]);
  await sleep(1500);
  await act();
  await load.exited;
  const line = load.output().trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as { total: number; failures: [number, number][] };
}

export async function failoverWorkload(place: Placement, log: (l: string) => void): Promise<FailoverResult> {
  const server = await startSluiceServer(place);
  const a = await member(server, place);
  const b = await member(server, place);
  let killedAt = 0;
  const kill = await underLoad(server, place, 6, async () => {
    killedAt = Date.now();
    await a.proc.stop('SIGKILL');
  });
  const after = kill.failures.filter(([, end]) => end >= killedAt);
  const fresh = after.filter(([begin]) => begin > killedAt);
  const killRecoveryMs = Math.max(0, ...fresh.map(([begin]) => begin - killedAt));
  log(
    `failover: kill -> ${after.length} failed of ${kill.total} (${fresh.length} started after the kill); ` +
      `new requests failed for ${killRecoveryMs} ms`,
  );
  const c = await member(server, place);
  const drain = await underLoad(server, place, 5, () => b.proc.stop('SIGTERM'));
  log(`failover: drain (SIGTERM) -> ${drain.failures.length} failed of ${drain.total}`);
  await c.proc.stop();
  await server.proc.stop();
  return {
    killRecoveryMs,
    killFailed: after.length,
    killFailedNew: fresh.length,
    killTotal: kill.total,
    drainFailed: drain.failures.length,
    drainTotal: drain.total,
  };
}
