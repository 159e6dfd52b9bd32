/**
 * The proxy entry's splice sniffer hands a head whose lines end in a bare LF or CR to Node's parser at once,
 * instead of waiting (10 s) for a CRLFCRLF that such a client never sends. Found by the fuzzer
 * (test/integration/fuzz/proxy-entry.test.ts). Timers are mocked, so only an immediate hand-over passes.
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo, type Socket } from 'node:net';
import { after, mock, test } from 'node:test';
import { bareLineEnd, sniff } from '../../src/server/proxy/splice.js';

const servers: net.Server[] = [];
after(() => servers.forEach((s) => s.close()));

async function sniffed(bytes: string): Promise<'fallback' | 'splice'> {
  let result: (v: 'fallback' | 'splice') => void = () => undefined;
  const done = new Promise<'fallback' | 'splice'>((r) => (result = r));
  const server = net.createServer((socket: Socket) =>
    sniff(
      socket,
      16384,
      (s) => {
        result('fallback');
        s.destroy();
      },
      (s) => {
        result('splice');
        s.destroy();
      },
    ),
  );
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  client.on('error', () => undefined);
  client.write(bytes);
  try {
    return await done;
  } finally {
    client.destroy();
  }
}

test('a head with bare LF line ends goes to the parser without waiting for the sniff timeout', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const auth = 'Proxy-Authorization: Basic ' + Buffer.from('u;tunnel=t:k').toString('base64');
    assert.equal(await sniffed(`GET http://127.0.0.1:1/ HTTP/1.1\n${auth}\n\n`), 'fallback');
    assert.equal(await sniffed(`GET http://127.0.0.1:1/ HTTP/1.1\r${auth}\r\r`), 'fallback');
    assert.equal(await sniffed(`GET http://127.0.0.1:1/ HTTP/1.1\r\n${auth}\n\r\n`), 'fallback');
    // The well-formed head is still spliced.
    assert.equal(await sniffed(`GET http://127.0.0.1:1/ HTTP/1.1\r\n${auth}\r\n\r\n`), 'splice');
  } finally {
    mock.timers.reset();
  }
});

test('bareLineEnd', () => {
  assert.equal(bareLineEnd(Buffer.from('a\r\nb\r\n'), 0, 6), false);
  assert.equal(bareLineEnd(Buffer.from('a\nb'), 0, 3), true);
  assert.equal(bareLineEnd(Buffer.from('a\rb'), 0, 3), true);
  // A CR at the end of what has arrived may still be followed by LF.
  assert.equal(bareLineEnd(Buffer.from('a\r'), 0, 2), false);
});
