/**
 * Issue 3, point 1: 1 GiB down and 1 GiB up through the full path (proxy entry, TLS tunnel, sc) with SHA-256
 * checked end to end, while the RSS of sc and sc-server stays flat: backpressure must hold on every leg, so
 * neither process may buffer the transfer.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, test } from 'node:test';
import { cleanup, startClient, startServer } from '../../kit/index.js';

afterEach(cleanup);

const GiB = 1024 * 1024 * 1024;
const block = randomBytes(1024 * 1024);
const blocks = GiB / block.length;
const expected = (() => {
  const h = createHash('sha256');
  for (let i = 0; i < blocks; i++) h.update(block);
  return h.digest('hex');
})();

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Samples the peak RSS of `pids` while `work` runs. */
async function peakRss<T>(pids: number[], work: () => Promise<T>): Promise<{ result: T; peaks: number[] }> {
  const peaks = pids.map(rssOf);
  const timer = setInterval(() => pids.forEach((p, i) => (peaks[i] = Math.max(peaks[i]!, rssOf(p)))), 50);
  try {
    return { result: await work(), peaks };
  } finally {
    clearInterval(timer);
  }
}

/** Writes the 1 GiB pattern to `out`, honouring backpressure. */
function writePattern(out: NodeJS.WritableStream & { once(e: 'drain', f: () => void): unknown }): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < blocks) {
      sent++;
      if (!out.write(block)) {
        out.once('drain', pump);
        return;
      }
    }
    out.end();
  };
  pump();
}

test('1 GiB each way through the tunnel: SHA-256 intact, RSS of sc and sc-server flat', async (t) => {
  const origin = http.createServer((req, res) => {
    if (req.method === 'POST') {
      const h = createHash('sha256');
      let n = 0;
      req.on('data', (c: Buffer) => {
        h.update(c);
        n += c.length;
      });
      req.on('end', () => res.end(JSON.stringify({ bytes: n, sha256: h.digest('hex') })));
      return;
    }
    res.writeHead(200, { 'content-length': GiB });
    writePattern(res);
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  t.after(() => origin.close());
  const target = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/bulk`;

  const srv = await startServer();
  const admin = srv.admin;
  const sc = await startClient(srv, {
    tunnelName: 'bulk',
    args: ['--tunnel-connections', '2'],
  });
  const pids = [srv.proc.pid!, sc.proc.pid!];
  const before = pids.map(rssOf);
  const [host, port] = srv.info.proxy_address.split(':');
  const auth = 'Basic ' + Buffer.from(`${admin.username};tunnel=bulk:${admin.accessKey}`).toString('base64');

  const down = await peakRss(
    pids,
    () =>
      new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
        const req = http.request(
          { host, port: Number(port), path: target, headers: { 'proxy-authorization': auth } },
          (res) => {
            const h = createHash('sha256');
            let n = 0;
            res.on('data', (c: Buffer) => {
              h.update(c);
              n += c.length;
            });
            res.on('end', () => resolve({ bytes: n, sha256: h.digest('hex') }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end();
      }),
  );
  assert.equal(down.result.bytes, GiB);
  assert.equal(down.result.sha256, expected);

  const up = await peakRss(
    pids,
    () =>
      new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
        const req = http.request(
          {
            host,
            port: Number(port),
            path: target,
            method: 'POST',
            headers: { 'proxy-authorization': auth, 'content-length': GiB },
          },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve(JSON.parse(body) as { bytes: number; sha256: string }));
          },
        );
        req.on('error', reject);
        writePattern(req);
      }),
  );
  assert.equal(up.result.bytes, GiB);
  assert.equal(up.result.sha256, expected);

  // Flat: growth far below the 1 GiB that passed through (windows allow up to ~64 MiB in flight per connection).
  const limit = 192 * 1024 * 1024;
  for (const [i, name] of ['sc-server', 'sc'].entries()) {
    const peak = Math.max(down.peaks[i]!, up.peaks[i]!);
    const grew = Math.round((peak - before[i]!) / 1048576);
    t.diagnostic(`${name} RSS grew by ${grew} MiB at most`);
    assert.ok(peak - before[i]! < limit, `${name} RSS grew by ${grew} MiB`);
  }
});
