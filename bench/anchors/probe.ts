/**
 * Readiness probe shared by the anchors: one GET /1k through the path with curl, so it runs in the load
 * generator's namespace like the workloads do.
 */
import { run, sleep } from '../harness/processes.js';
import type { Endpoint } from './anchor.js';

export function curlArgs(ep: Pick<Endpoint, 'proxy' | 'hostHeader'>): string[] {
  const args: string[] = [];
  if (ep.proxy) {
    args.push('--proxy', `http://${ep.proxy.host}:${ep.proxy.port}`);
    if (ep.proxy.authorization) args.push('--proxy-header', `Proxy-Authorization: ${ep.proxy.authorization}`);
  }
  if (ep.hostHeader) args.push('-H', `Host: ${ep.hostHeader}`);
  return args;
}

export async function waitUntilServing(
  ep: Omit<Endpoint, 'stop' | 'pids' | 'name'>,
  netns?: string,
): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const out = await run(
        'curl',
        ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', ...curlArgs(ep), `${ep.url}/1k`],
        { netns },
      );
      if (out.trim() === '200') return;
      last = `status ${out.trim()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`path never served GET /1k: ${last}`);
}
