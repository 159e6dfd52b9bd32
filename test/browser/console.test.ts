/**
 * The web console (docs/console.md) in a real Chromium driven by playwright-core: sign-in with a good and a bad
 * key, the tunnels list and its filter, a tunnel's detail with traffic that really went through `sc`, stopping a
 * tunnel, what a team member may not do, and an admin creating a user whose key is shown once. Screenshots go to
 * test-output/console/ (git-ignored). The browser reaches loopback only (test/kit/browser.ts).
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  cleanup,
  proxyGet,
  rest,
  ROOT,
  startClient,
  startHttpApp,
  startServer,
  type RestCredentials,
  type TestServer,
} from '../kit/index.js';
import { launchChromium, presentedSpki } from '../kit/browser.js';

after(cleanup);

const OUTPUT = join(ROOT, 'test-output', 'console');

let server: TestServer;
let browser: Browser;
let consoleUrl: string;
const users: Record<string, RestCredentials> = {};
const tunnelIds: Record<string, string> = {};

async function makeUser(username: string, role: string, teams: string[]): Promise<void> {
  const r = await rest<{ access_key: string }>(server, 'POST', '/admin/users', server.admin, {
    username,
    role,
    teams,
  });
  assert.equal(r.status, 201, r.text);
  users[username] = { username, accessKey: r.json.access_key };
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(OUTPUT, `${name}.png`), fullPage: true });
}

async function signIn(creds: RestCredentials): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(consoleUrl);
  await page.getByLabel('Username').fill(creds.username);
  await page.getByLabel('Access key').fill(creds.accessKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Tunnels', level: 1 }).waitFor();
  return page;
}

/** Rows of the tunnels table: their name cells' text. */
async function listedNames(page: Page): Promise<string[]> {
  return page.locator('[data-testid=tunnels] tbody tr:not(.group) td:first-child').allInnerTexts();
}

describe('web console in Chromium', { timeout: 180_000 }, () => {
  before(async () => {
    await mkdir(OUTPUT, { recursive: true });
    server = await startServer({ args: ['--team-member-sharing', 'team'] });
    consoleUrl = server.info.console_url;
    assert.match(consoleUrl, /^https:\/\/127\.0\.0\.1:\d+\/console\/$/);
    const team = await rest(server, 'POST', '/admin/teams', server.admin, { name: 'qa' });
    assert.equal(team.status, 201, team.text);
    await makeUser('alice', 'team_member', ['qa']);
    await makeUser('bob', 'team_member', ['qa']);
    // alice's tunnel is a real `sc` with traffic through it; bob's is a shared record with no client.
    const app = await startHttpApp();
    await startClient(server, { tunnelName: 'alice-ci', ...users['alice']! });
    for (let i = 0; i < 5; i++) {
      const r = await proxyGet(server, { ...users['alice']!, tunnel: 'alice-ci' }, `${app.url}/hello`);
      assert.equal(r.status, 200);
    }
    const bob = await rest<{ id: string }>(server, 'POST', '/bob/tunnels', users['bob']!, {
      tunnel_identifier: 'bob-shared',
      shared: 'all',
      metadata: { region: 'eu-central', release: '5.3.0', hostname: 'bob-laptop' },
    });
    assert.equal(bob.status, 200, bob.text);
    tunnelIds['bob'] = bob.json.id;
    // Two members of a pool of the admin's: grouped under one heading in the list.
    for (let i = 0; i < 2; i++) {
      const m = await rest(server, 'POST', `/${server.admin.username}/tunnels`, server.admin, {
        tunnel_identifier: 'ci-pool',
        tunnel_pool: true,
      });
      assert.equal(m.status, 200, m.text);
    }
    browser = await launchChromium({ trustSpki: [await presentedSpki(new URL(consoleUrl).host)] });
  });

  it('refuses a wrong access key with a clear message, then signs in with the right one', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(consoleUrl);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Access key').fill('not-the-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong username or access key' }).waitFor();
    await shot(page, '01-sign-in-refused');
    await page.getByLabel('Access key').fill(users['alice']!.accessKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Tunnels', level: 1 }).waitFor();
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'sluice_console');
    assert.ok(session, 'session cookie set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true);
    assert.equal(session.sameSite, 'Strict');
    // The page's scripts cannot read it.
    assert.equal(await page.evaluate("document.cookie.includes('sluice_console')"), false);
  });

  it('works from the keyboard: a skip link, labelled fields, Enter signs in, focus moves to the heading', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(consoleUrl);
    await page.locator('h1:focus', { hasText: 'Sign in to Sluice' }).waitFor();
    const focused = (): Promise<string> =>
      page.evaluate(
        "(document.activeElement.getAttribute('name') || document.activeElement.textContent || '').trim()",
      );
    // The page's heading has the focus; behind it the skip link, ahead the form.
    assert.equal(await focused(), 'Sign in to Sluice');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), 'Skip to content');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'username');
    await page.keyboard.type(users['bob']!.username);
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'access_key');
    await page.keyboard.type(users['bob']!.accessKey);
    await page.keyboard.press('Enter');
    await page.locator('h1:focus', { hasText: 'Tunnels' }).waitFor();
    // Forward from the heading: the list's filter; back: the header's sign-out, then the navigation links.
    await page.keyboard.press('Tab');
    assert.equal(
      await page.evaluate("document.activeElement.closest('label').firstChild.textContent.trim()"),
      'Filter',
    );
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), 'Sign out');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), 'My access keys');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), 'History');
    await page.keyboard.press('Enter');
    await page.locator('h1:focus', { hasText: 'Stopped tunnels' }).waitFor();
  });

  it('lists the tunnels an admin may see, filters them, and opens one with its traffic', async () => {
    const page = await signIn(server.admin);
    await page.locator('[data-testid=tunnels] tbody tr').first().waitFor();
    assert.deepEqual((await listedNames(page)).sort(), ['alice-ci', 'bob-shared', 'ci-pool', 'ci-pool']);
    await page
      .locator('[data-testid=tunnels] tr.group', {
        hasText: `Pool ci-pool of ${server.admin.username}: 2 members`,
      })
      .waitFor();
    const bobRow = page.locator('tr', { hasText: 'bob-shared' });
    assert.match(
      await bobRow.innerText(),
      /no connection[\s\S]*bob[\s\S]*shared[\s\S]*eu-central[\s\S]*5\.3\.0/,
    );
    await shot(page, '02-admin-tunnels');
    await page.getByLabel('Filter').fill('alice');
    await page.locator('tr', { hasText: 'bob-shared' }).waitFor({ state: 'detached' });
    assert.deepEqual(await listedNames(page), ['alice-ci']);
    await page.getByRole('link', { name: 'alice-ci' }).click();
    await page.getByRole('heading', { name: 'Tunnel alice-ci' }).waitFor();
    const facts = page.locator('[data-testid=tunnel-facts]');
    await facts.getByText('running').waitFor();
    const text = await facts.innerText();
    const requests = Number(/Requests\s+(\d+)/.exec(text)?.[1]);
    assert.ok(requests >= 5, `5 requests went through the tunnel, the console shows ${requests}`);
    assert.match(text, /Connections\s+[1-9]/);
    // Three live charts (uPlot draws on canvas).
    await page.locator('.chart canvas').nth(2).waitFor();
    assert.equal(await page.locator('.chart canvas').count(), 3);
    await shot(page, '03-tunnel-detail');
  });

  it('a team member sees a shared tunnel but may not stop it, and has no admin pages', async () => {
    const page = await signIn(users['alice']!);
    await page.locator('tr', { hasText: 'bob-shared' }).waitFor();
    assert.deepEqual((await listedNames(page)).sort(), ['alice-ci', 'bob-shared']);
    assert.equal(await page.getByRole('button', { name: 'Stop tunnel bob-shared' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Stop tunnel alice-ci' }).count(), 1);
    assert.equal(await page.getByRole('link', { name: 'Users' }).count(), 0);
    await shot(page, '04-member-tunnels');
    await page.goto(consoleUrl + '#/users');
    await page.getByRole('heading', { name: 'Not available' }).waitFor();
    // The server refuses too: a stop without the CSRF token, and with it a stop of another's tunnel.
    const refused = await page.evaluate(async (id) => {
      const r = await fetch(`/rest/v1/bob/tunnels/${id}`, { method: 'DELETE' });
      return { status: r.status, body: (await r.json()) as { code: string } };
    }, tunnelIds['bob']!);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'csrf_failed');
    const csrf = await page.evaluate(
      async () => ((await (await fetch('/console/api/session')).json()) as { csrf: string }).csrf,
    );
    const stop = await page.evaluate(
      async ({ id, csrf }) =>
        (await fetch(`/rest/v1/bob/tunnels/${id}`, { method: 'DELETE', headers: { 'x-csrf-token': csrf } }))
          .status,
      { id: tunnelIds['bob']!, csrf },
    );
    assert.equal(stop, 403, 'a team member may not stop a teammate’s tunnel');
    const administered = await page.evaluate(async () => (await fetch('/rest/v1/admin/users')).json());
    assert.deepEqual(administered, []);
  });

  it('an admin stops a tunnel from the list; it moves to the history with its reason', async () => {
    const page = await signIn(server.admin);
    page.on('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Stop tunnel bob-shared' }).click();
    await page.getByRole('status').filter({ hasText: 'Stopped tunnel bob-shared' }).waitFor();
    await page.locator('[data-testid=tunnels] tr', { hasText: 'bob-shared' }).waitFor({ state: 'detached' });
    const t = await rest<{ status: string; shutdown_reason: string }>(
      server,
      'GET',
      `/bob/tunnels/${tunnelIds['bob']}`,
      users['bob']!,
    );
    assert.equal(t.json.status, 'terminated');
    await page.getByRole('link', { name: 'History' }).click();
    const row = page.locator('[data-testid=history] tr', { hasText: 'bob-shared' });
    await row.waitFor();
    assert.match(await row.innerText(), /user_shutdown/);
    await shot(page, '05-history');
  });

  it('an admin creates a user and sees the new key once', async () => {
    const page = await signIn(server.admin);
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    const form = page.getByRole('form', { name: 'Create a user' });
    await form.getByLabel('Username').fill('carol');
    await form.getByLabel('Role').selectOption('team_member');
    await form.getByLabel('Teams (comma-separated)').fill('qa');
    await form.getByRole('button', { name: 'Create user' }).click();
    const key = await page.getByTestId('new-key').innerText();
    assert.match(key, /^[0-9a-f-]{36}$/);
    await page.locator('[data-testid=users] tr', { hasText: 'carol' }).waitFor();
    await shot(page, '06-user-created');
    const whoami = await rest<{ username: string }>(server, 'GET', '/admin/whoami', null, undefined);
    assert.equal(whoami.status, 401);
    const asCarol = await rest<{ username: string }>(server, 'GET', '/admin/whoami', {
      username: 'carol',
      accessKey: key,
    });
    assert.equal(asCarol.json.username, 'carol');
    await page.getByRole('button', { name: 'I have copied it' }).click();
    assert.equal(await page.getByTestId('new-key').count(), 0);
    await page.reload();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.locator('[data-testid=users] tr', { hasText: 'carol' }).waitFor();
    assert.equal(await page.getByText(key).count(), 0, 'the key is never shown again');
  });
});
