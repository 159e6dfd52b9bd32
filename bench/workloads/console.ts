/**
 * The web console's first view with 1,000 tunnel records: sc-server with 1,000 tunnels created over REST (records
 * with no `sc` behind them, as after a mass start), a signed-in session, then Chromium (Debian's, driven by
 * playwright-core, loopback only) opening /console/ until the tunnels list shows its first page (100 rows) under a
 * caption counting all 1,000, then the time to show all 1,000 rows on one page. Each run is a new browser context
 * (empty cache, the session cookie only); the first run also pays Chromium's own warm-up.
 */
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { chromium } from 'playwright-core';
import { chromiumArgs, CHROMIUM, presentedSpki } from '../../test/kit/browser.js';
import { startSluiceServer } from '../anchors/sluice.js';
import type { Placement } from '../anchors/anchor.js';
import { closedPort } from '../../test/kit/origins.js';
import { median } from '../harness/stats.js';
import type { Results } from '../report/results.js';

export const CONSOLE_TUNNELS = 1000;

function call(
  url: URL,
  method: string,
  opts: { ca: string; agent: Agent; auth?: string; body?: unknown; headers?: Record<string, string> },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: opts.ca,
        agent: opts.agent,
        headers: {
          ...(opts.auth ? { authorization: `Basic ${Buffer.from(opts.auth).toString('base64')}` } : {}),
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export async function consoleWorkload(place: Placement, runs: number, log: (l: string) => void) {
  const server = await startSluiceServer(place);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: chromiumArgs(await closedPort(), [await presentedSpki(new URL(server.info.rest_url).host)]),
  });
  try {
    const ca = await readFile(server.info.ca_cert, 'utf8');
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const auth = `${server.username}:${server.accessKey}`;
    const base = new URL(server.info.rest_url + '/');
    let made = 0;
    const worker = async (): Promise<void> => {
      while (made < CONSOLE_TUNNELS) {
        const i = made++;
        // Every tenth name is a pool of two, so the list groups pools as it would in practice.
        const name = i % 10 === 9 ? `bench-pool-${i - 1}` : `bench-console-${i}`;
        const r = await call(new URL(`${server.username}/tunnels`, base), 'POST', {
          ca,
          agent,
          auth,
          body: {
            tunnel_identifier: name,
            tunnel_pool: i % 10 >= 8,
            metadata: { region: 'us-west', release: '5.3.0', hostname: `ci-runner-${i % 37}` },
          },
        });
        if (r.status !== 200) throw new Error(`creating tunnel ${i}: ${r.status} ${r.text.slice(0, 200)}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const origin = new URL(server.info.rest_url).origin;
    const login = await call(new URL('/console/api/login', origin), 'POST', {
      ca,
      agent,
      body: { username: server.username, access_key: server.accessKey },
      headers: { origin },
    });
    const cookie = /^sluice_console=([^;]*)/.exec(String([login.headers['set-cookie']].flat()[0]))?.[1];
    if (login.status !== 200 || !cookie) throw new Error(`console sign-in: ${login.status} ${login.text}`);
    const apiMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = await call(new URL('/console/api/tunnels', origin), 'GET', {
        ca,
        agent,
        headers: { cookie: `sluice_console=${cookie}` },
      });
      if (r.status !== 200) throw new Error(`console list: ${r.status}`);
      apiMs.push(performance.now() - t0);
    }
    const runsMs: number[] = [];
    const allRowsMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext();
      await context.addCookies([
        {
          name: 'sluice_console',
          value: cookie,
          url: origin,
          httpOnly: true,
          secure: true,
          sameSite: 'Strict',
        },
      ]);
      const page = await context.newPage();
      const t0 = performance.now();
      await page.goto(`${origin}/console/`);
      // The first view: the first page of the list (100 rows) under a caption counting all 1,000. The page's CSP
      // forbids eval, so this waits on locators rather than a predicate string.
      const rows = page.locator('[data-testid=tunnels] tbody tr:not(.group)');
      await rows.nth(99).waitFor({ timeout: 30_000 });
      await page
        .locator('[data-testid=tunnels] caption', { hasText: `of ${CONSOLE_TUNNELS} running` })
        .waitFor();
      runsMs.push(performance.now() - t0);
      // Then every row on one page.
      const t1 = performance.now();
      await page.getByLabel('Rows per page').selectOption('10000');
      await rows.nth(CONSOLE_TUNNELS - 1).waitFor({ timeout: 30_000 });
      allRowsMs.push(performance.now() - t1);
      await context.close();
    }
    agent.destroy();
    const result: NonNullable<Results['console']> = {
      tunnels: CONSOLE_TUNNELS,
      runsMs,
      medianMs: median(runsMs),
      apiMedianMs: median(apiMs),
      allRowsMedianMs: median(allRowsMs),
    };
    log(
      `console: first view of ${CONSOLE_TUNNELS} tunnels in ${result.medianMs.toFixed(0)} ms (median of ${runs}; ` +
        `the list API alone ${result.apiMedianMs.toFixed(0)} ms; all rows on one page ${result.allRowsMedianMs.toFixed(0)} ms more)`,
    );
    return result;
  } finally {
    await browser.close();
    await server.proc.stop();
  }
}
