/**
 * In-process parts of --proxy and --pac: proxy URLs, PAC result lists, PAC sources (file, data:, stdin) and the
 * PAC sandbox's compile errors, throws and deadline.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { loadPacScript, PacError, PacEvaluator, parsePacResult } from '../../../src/client/egress/pac.js';
import { parseProxyUrl, proxyLabel } from '../../../src/client/egress/upstream.js';
import { cleanup, tempDir } from '../../kit/index.js';

after(cleanup);

test('parseProxyUrl: schemes, default ports, percent-decoded credentials; the label has no credentials', () => {
  assert.deepEqual(parseProxyUrl('proxy.corp:3128'), { kind: 'http', host: 'proxy.corp', port: 3128 });
  assert.deepEqual(parseProxyUrl('https://p'), { kind: 'https', host: 'p', port: 443 });
  assert.deepEqual(parseProxyUrl('socks://[::1]'), { kind: 'socks5', host: '::1', port: 1080 });
  const p = parseProxyUrl('socks5://us%40er:p%3Ass@h:1');
  assert.equal(p.username, 'us@er');
  assert.equal(p.password, 'p:ss');
  assert.equal(proxyLabel(p), 'socks5://h:1');
});

test('parsePacResult: fallback order, every kind, unknown entries skipped, nothing usable is an error', () => {
  const r = parsePacResult('PROXY a:1; HTTPS b:2;SOCKS c:3 ; SOCKS5 d:4; BOGUS e:5; HTTP f:6; DIRECT');
  assert.deepEqual(
    r.map((x) => (x.kind === 'direct' ? 'direct' : `${x.proxy.kind}:${x.proxy.host}:${x.proxy.port}`)),
    ['http:a:1', 'https:b:2', 'socks5:c:3', 'socks5:d:4', 'http:f:6', 'direct'],
  );
  assert.throws(() => parsePacResult('BOGUS x:1; PROXY noport'), PacError);
  assert.throws(() => parsePacResult(''), /no usable route/);
});

test('loadPacScript reads a file, a file:// URL, data: URLs and stdin', async () => {
  const dir = await tempDir();
  const file = join(dir, 'p.pac');
  await writeFile(file, 'function FindProxyForURL(){return "DIRECT"}');
  assert.match(await loadPacScript('p.pac', dir), /DIRECT/);
  assert.match(await loadPacScript(`file://${file}`, '/'), /DIRECT/);
  assert.equal(await loadPacScript(`data:base64,${Buffer.from('x()').toString('base64')}`, '/'), 'x()');
  assert.equal(await loadPacScript('data:application/x-ns-proxy-autoconfig;base64,eSgp', '/'), 'y()');
  assert.equal(await loadPacScript('data:,a%20b', '/'), 'a b');
  assert.equal(
    await loadPacScript('-', '/', Readable.from([Buffer.from('from '), Buffer.from('stdin')]) as never),
    'from stdin',
  );
  await assert.rejects(loadPacScript(join(dir, 'missing.pac'), '/'), /ENOENT/);
});

test('PacEvaluator: compile error at start, a throw per call, a loop hits the deadline and the worker is replaced', async () => {
  await assert.rejects(PacEvaluator.start('function FindProxyForURL(u, h) { return '), /does not compile/);

  const ok = await PacEvaluator.start(
    'function FindProxyForURL(u, h) { return shExpMatch(h, "*.corp") ? "PROXY p:1" : "DIRECT"; }',
  );
  assert.equal(await ok.find('http://a.corp/', 'a.corp'), 'PROXY p:1');
  assert.equal(await ok.find('http://b.test/', 'b.test'), 'DIRECT');
  ok.close();

  const throws = await PacEvaluator.start('function FindProxyForURL(u, h) { throw new Error("nope " + h); }');
  await assert.rejects(
    throws.find('http://x/', 'x'),
    (e: PacError) => e.code === 'ESC_PAC_FAILED' && /nope x/.test(e.message),
  );
  throws.close();

  const loops = await PacEvaluator.start(
    'function FindProxyForURL(u, h) { if (h == "loop") for (;;) {} return "DIRECT"; }',
    500,
  );
  await assert.rejects(loops.find('http://loop/', 'loop'), (e: PacError) => e.code === 'ESC_PAC_TIMEOUT');
  // A fresh worker answers the next call.
  assert.equal(await loops.find('http://fine/', 'fine'), 'DIRECT');
  loops.close();
});
