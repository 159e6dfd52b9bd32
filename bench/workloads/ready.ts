/**
 * Time to ready: from spawning `sc run` to its local /readyz answering 200, against a running server; each run
 * is then stopped with SIGTERM (which deletes its tunnel) before the next starts.
 */
import { request } from 'node:http';
import { LOOPBACK, type Placement } from '../anchors/anchor.js';
import { startSluiceClient, startSluiceServer } from '../anchors/sluice.js';
import { sleep } from '../harness/processes.js';
import { median } from '../harness/stats.js';
import type { Results } from '../report/results.js';

function readyz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: LOOPBACK, port, path: '/readyz', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export async function readyWorkload(place: Placement, runs: number, log: (l: string) => void) {
  const server = await startSluiceServer(place);
  const runsMs: number[] = [];
  const apiMs: number[] = [];
  let failures = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    try {
      const client = await startSluiceClient(server, `bench-ready-${i}`, place);
      apiMs.push(performance.now() - t0);
      for (;;) {
        if ((await readyz(client.apiPort)) === 200) break;
        if (performance.now() - t0 > 30_000) throw new Error('not ready after 30 s');
        await sleep(5);
      }
      runsMs.push(performance.now() - t0);
      await client.proc.stop();
    } catch (err) {
      failures++;
      log(`ready run ${i + 1} failed: ${(err as Error).message.slice(0, 200)}`);
    }
  }
  await server.proc.stop();
  const result: NonNullable<Results['ready']> = {
    runsMs,
    medianMs: median(runsMs),
    apiMedianMs: median(apiMs),
    failures,
  };
  log(
    `ready: median ${result.medianMs.toFixed(0)} ms over ${runsMs.length} runs ` +
      `(local API up after ${median(apiMs).toFixed(0)} ms)`,
  );
  return result;
}
