/** What every fuzzed exchange must satisfy, and the health check run after each batch. */
import assert from 'node:assert/strict';
import { proxyRequest, type TestClient, type TestServer } from '../kit/index.js';
import { header, type WireAnswer } from './wire.js';

/**
 * 5xx answers that are not the proxy's own failure but the documented report of what happened behind the
 * tunnel (a closed port, a target that reset). Anything else 5xx for bad input is a bug. `dns_failed` is left out on
 * purpose: the generators never name a host that needs DNS, so seeing it means one leaked.
 */
const BEHIND_THE_TUNNEL = new Set(['dial_refused', 'dial_failed', 'upstream_reset']);

export interface Tally {
  total: number;
  byStatus: Map<string, number>;
  slowest: { ms: number; label: string }[];
}

export const newTally = (): Tally => ({ total: 0, byStatus: new Map(), slowest: [] });

export function summary(t: Tally): string {
  const parts = [...t.byStatus.entries()].sort().map(([k, v]) => `${k}=${v}`);
  const slow = t.slowest.map((s) => `${s.ms}ms ${s.label.slice(0, 100)}`).join('\n#   ');
  return `${t.total} inputs: ${parts.join(' ')}\n# slowest:\n#   ${slow}`;
}

/** Asserts a clear answer (or a close) within the bound, and no 5xx from our own code. */
export function checkAnswer(a: WireAnswer, label: string, tally: Tally): void {
  tally.total++;
  const code = header(String(a.status), a.head, 'x-sluice-error');
  const key = a.status === null ? 'closed' : `${a.status}${code ? `/${code}` : ''}`;
  tally.byStatus.set(key, (tally.byStatus.get(key) ?? 0) + 1);
  tally.slowest.push({ ms: a.ms, label: `${key} ${label}` });
  tally.slowest.sort((x, y) => y.ms - x.ms).splice(3);
  assert.equal(a.timedOut, false, `no answer and no close within the bound for: ${label}`);
  if (a.status !== null && a.status >= 500) {
    assert.ok(
      code !== undefined && BEHIND_THE_TUNNEL.has(code),
      `5xx from our own code for: ${label}\n${a.head}`,
    );
  }
}

/** Both programs still run, and a normal request through the real tunnel still works. */
export async function healthy(
  server: TestServer,
  client: TestClient | null,
  tunnel: string,
  appUrl: string,
): Promise<void> {
  assert.ok(server.process.running, `sc-server exited\n${server.process.describe()}`);
  if (client) assert.ok(client.process.running, `sc exited\n${client.process.describe()}`);
  if (!client) return;
  const r = await proxyRequest(
    server,
    { username: server.admin.username, accessKey: server.admin.accessKey, tunnel },
    { url: `${appUrl}/bytes/1000?seed=7` },
  );
  assert.equal(r.status, 200, `health request: ${r.status} ${r.body.toString().slice(0, 200)}`);
  assert.equal(r.body.length, 1000);
}
