/**
 * Target answers the one pipeline must carry the same way on both plain-HTTP paths (spliced, and per request
 * with `--proxy-splice false`): a response without length that ends with the connection, an interim 1xx before
 * the final answer, a target that closes a kept-alive connection between requests, and one that sends more than
 * its response. The targets are raw TCP servers on loopback writing fixed bytes.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import http from 'node:http';
import { cleanup, proxyRequest, startClient, startServer, type TestServer } from '../../kit/index.js';

after(cleanup);

/** A raw target: for each request head it reads, `answer` says what bytes to write and whether to close. */
async function rawTarget(answer: (n: number) => { bytes: string; close?: boolean }): Promise<{
  url: string;
  seen: () => number;
  close: () => void;
}> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let i;
      while ((i = buf.indexOf('\r\n\r\n')) >= 0) {
        buf = buf.slice(i + 4);
        const a = answer(++n);
        if (a.close) s.end(a.bytes);
        else s.write(a.bytes);
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen: () => n,
    close: () => {
      for (const s of sockets) s.destroy();
      srv.close();
    },
  };
}

async function setup(
  splice: boolean,
): Promise<{ server: TestServer; auth: Parameters<typeof proxyRequest>[1] }> {
  const server = await startServer({ args: splice ? [] : ['--proxy-splice', 'false'] });
  const name = splice ? 'shapes-spliced' : 'shapes-per-request';
  await startClient(server, { tunnelName: name });
  return {
    server,
    auth: { username: server.admin.username, accessKey: server.admin.accessKey, tunnel: name },
  };
}

for (const splice of [true, false]) {
  const path = splice ? 'spliced' : 'per request';

  test(`${path}: a response without length ends with the target's close; an interim 102 is not the answer`, async (t) => {
    const { server, auth } = await setup(splice);
    const target = await rawTarget((n) =>
      n === 1
        ? { bytes: 'HTTP/1.1 200 OK\r\nX-Kind: until-close\r\n\r\nall of this, then the close', close: true }
        : { bytes: 'HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone' },
    );
    t.after(() => target.close());
    const r = await proxyRequest(server, auth, { url: `${target.url}/a` });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-kind'], 'until-close');
    assert.equal(r.body.toString(), 'all of this, then the close');
    const r2 = await proxyRequest(server, auth, { url: `${target.url}/b` });
    assert.equal(r2.status, 201);
    assert.equal(r2.body.toString(), 'done');
  });

  test(`${path}: a kept-alive target connection closed between requests is replaced; extra bytes are not an answer`, async (t) => {
    const { server, auth } = await setup(splice);
    // Answer 1 announces keep-alive and then closes; answer 2 sends a stray second response after its own.
    const target = await rawTarget((n) =>
      n === 1
        ? { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none', close: true }
        : n === 2
          ? {
              bytes:
                'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwoHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray',
            }
          : { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthree' },
    );
    t.after(() => target.close());
    // One browser connection for all three, so the spliced path reuses its target connection when it can.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const bodies = [];
    for (const p of ['/1', '/2', '/3']) {
      const r = await proxyRequest(server, auth, { url: `${target.url}${p}`, agent });
      assert.equal(r.status, 200, p);
      bodies.push(r.body.toString());
    }
    assert.deepEqual(bodies, ['one', 'two', 'three']);
    assert.equal(target.seen(), 3);
  });
}
