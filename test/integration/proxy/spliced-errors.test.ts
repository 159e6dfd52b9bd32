/**
 * Documented proxy answers with no end-to-end test (docs/errors.md): a CONNECT on a spliced keep-alive
 * connection gets 400 bad_request and the connection closes; a target that resets mid-request is 502
 * upstream_reset, both on a spliced connection (sc answers) and with splicing off (per request).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import {
  cleanup,
  onCleanup,
  proxyAuthorization,
  proxyGet,
  startClient,
  startOrigin,
  startServer,
} from '../../kit/index.js';

after(cleanup);

/** Writes `requests` on one raw connection to the proxy entry and reads until the proxy closes it. */
function rawExchange(port: number, first: string, then: (sock: net.Socket) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    let sent = false;
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      // Once the first response is complete (its body is short), send the next request on the same connection.
      if (!sent && /\r\n\r\n[\s\S]*spliced$/.test(got)) {
        sent = true;
        then(sock);
      }
    });
    sock.on('error', reject);
    sock.on('close', () => resolve(got));
    sock.write(first);
  });
}

test('CONNECT on a spliced keep-alive connection: 400 bad_request, then the connection closes', async () => {
  const origin = await startOrigin('spliced');
  const server = await startServer();
  await startClient(server, { tunnelName: 'spl' });
  const auth = proxyAuthorization({ ...server.admin, tunnel: 'spl' });
  const target = origin.host;
  const got = await rawExchange(
    server.proxyPort,
    `GET ${origin.url} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${auth}\r\n\r\n`,
    (sock) =>
      sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${auth}\r\n\r\n`),
  );
  const answers = got.split(/(?=HTTP\/1\.1 \d{3} )/);
  assert.equal(answers.length, 2, got);
  assert.match(answers[0]!, /^HTTP\/1\.1 200 /);
  assert.match(answers[1]!, /^HTTP\/1\.1 400 /);
  assert.match(answers[1]!, /x-sluice-error: bad_request/i);
  assert.equal(origin.requests.length, 1, 'the CONNECT reached nothing');
});

/** A target that reads the request head and resets the connection without answering. */
async function resettingTarget(): Promise<string> {
  const srv = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.resetAndDestroy());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  onCleanup(() => new Promise<void>((r) => srv.close(() => r())));
  return `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/reset`;
}

for (const splice of ['true', 'false']) {
  test(`a target that resets mid-request is 502 upstream_reset (--proxy-splice ${splice})`, async () => {
    const url = await resettingTarget();
    const server = await startServer({ args: ['--proxy-splice', splice] });
    await startClient(server, { tunnelName: `reset-${splice}` });
    const r = await proxyGet(server, { ...server.admin, tunnel: `reset-${splice}` }, url);
    assert.deepEqual([r.status, r.error], [502, 'upstream_reset'], r.body);
  });
}
