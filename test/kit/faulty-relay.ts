/**
 * A fault-injecting TCP relay between sc and the server's tunnel edge, and the REST front that makes sc use it.
 *
 * The relay forwards 127.0.0.1:PORT to a target and can, at any moment:
 *   pause()     the network stalls: nothing passes either way, connections stay open (bytes wait in buffers);
 *               new connections are accepted and stall too. heal() lets everything through again.
 *   blackhole() everything sent is lost: bytes are read and discarded, new connections are accepted and get
 *               nothing. heal() closes those connections (their streams lost bytes and cannot be resumed).
 *   drop()      every open connection is reset at once; with `refuse` new ones are reset too until heal().
 *
 * sc dials the edge address the server gives it at tunnel creation, so `startEdgeFront` puts an HTTPS reverse
 * proxy in front of the REST API that rewrites `edge_address` to the relay. sc is then started with
 * `edgeClientTarget(...)` in place of the server.
 */
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { onCleanup, tempDir } from './cleanup.js';
import type { TestServer } from './server.js';
import { testCa } from './test-ca.js';

export type RelayMode = 'pass' | 'pause' | 'blackhole' | 'refuse';

export interface FaultyRelay {
  /** 127.0.0.1:PORT */
  address: string;
  readonly mode: RelayMode;
  /** Open relayed connections (client side). */
  readonly open: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  pause(): void;
  blackhole(): void;
  /** Resets every open connection; with refuse, resets new ones until heal(). */
  drop(opts?: { refuse?: boolean }): void;
  heal(): void;
  close(): Promise<void>;
}

interface Pair {
  a: Socket;
  b: Socket;
  lost: boolean;
}

export async function startFaultyRelay(target: string): Promise<FaultyRelay> {
  const i = target.lastIndexOf(':');
  const host = target.slice(0, i);
  const port = Number(target.slice(i + 1));
  let mode: RelayMode = 'pass';
  let accepted = 0;
  const pairs = new Set<Pair>();

  const wire = (p: Pair): void => {
    const forward = (from: Socket, to: Socket): void => {
      from.on('data', (d: Buffer) => {
        if (mode === 'blackhole' || p.lost) {
          p.lost = true;
          return;
        }
        if (!to.write(d)) {
          from.pause();
          to.once('drain', () => {
            if (mode === 'pass') from.resume();
          });
        }
      });
      from.on('end', () => to.end());
    };
    forward(p.a, p.b);
    forward(p.b, p.a);
    const gone = (): void => {
      p.a.destroy();
      p.b.destroy();
      pairs.delete(p);
    };
    p.a.on('close', gone);
    p.b.on('close', gone);
    p.a.on('error', gone);
    p.b.on('error', gone);
    if (mode === 'pause') {
      p.a.pause();
      p.b.pause();
    }
  };

  const server = net.createServer((a) => {
    accepted++;
    if (mode === 'refuse') {
      a.resetAndDestroy();
      return;
    }
    const b = net.connect({ host, port });
    const p: Pair = { a, b, lost: mode === 'blackhole' };
    pairs.add(p);
    wire(p);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  const relay: FaultyRelay = {
    address,
    get mode() {
      return mode;
    },
    get open() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    pause() {
      mode = 'pause';
      for (const p of pairs) {
        p.a.pause();
        p.b.pause();
      }
    },
    blackhole() {
      mode = 'blackhole';
    },
    drop(opts = {}) {
      if (opts.refuse) mode = 'refuse';
      for (const p of [...pairs]) {
        p.a.resetAndDestroy();
        p.b.resetAndDestroy();
        pairs.delete(p);
      }
    },
    heal() {
      mode = 'pass';
      for (const p of [...pairs]) {
        if (p.lost) {
          p.a.resetAndDestroy();
          p.b.resetAndDestroy();
          pairs.delete(p);
        } else {
          p.a.resume();
          p.b.resume();
        }
      }
    },
    async close() {
      relay.drop();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  onCleanup(() => relay.close());
  return relay;
}

export interface EdgeFront {
  /** https://127.0.0.1:PORT/rest/v1 */
  restUrl: string;
  /** A CA bundle that trusts both the server's CA and the front's certificate. */
  caCert: string;
  close(): Promise<void>;
}

/**
 * An HTTPS reverse proxy for `server`'s REST API that tells sc to dial `edgeAddress` (the relay) instead of the
 * server's edge. Everything else passes unchanged.
 */
export async function startEdgeFront(server: TestServer, edgeAddress: string): Promise<EdgeFront> {
  const ca = await testCa();
  const upstream = new URL(server.restUrl);
  const front = https.createServer({ cert: ca.certPem, key: ca.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = { ...req.headers, host: upstream.host };
      const out = https.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers,
          ca: server.caPem,
          agent: false,
        },
        (up) => {
          const body: Buffer[] = [];
          up.on('data', (c: Buffer) => body.push(c));
          up.on('end', () => {
            let text = Buffer.concat(body);
            const h = { ...up.headers };
            if (/json/.test(String(up.headers['content-type'])) && text.includes('edge_address')) {
              const j = JSON.parse(text.toString('utf8')) as Record<string, unknown>;
              if (typeof j['edge_address'] === 'string') j['edge_address'] = edgeAddress;
              text = Buffer.from(JSON.stringify(j));
              h['content-length'] = String(text.length);
              delete h['transfer-encoding'];
            }
            res.writeHead(up.statusCode ?? 502, h);
            res.end(text);
          });
        },
      );
      out.on('error', (err) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`edge front: ${err.message}`);
      });
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const dir = await tempDir('sluice-front-');
  const caCert = join(dir, 'ca-bundle.pem');
  await writeFile(caCert, server.caPem + '\n' + ca.caPem);
  const close = (): Promise<void> =>
    new Promise<void>((r) => {
      front.closeAllConnections();
      front.close(() => r());
    });
  onCleanup(close);
  const { port } = front.address() as AddressInfo;
  return { restUrl: `https://127.0.0.1:${port}${upstream.pathname}`, caCert, close };
}

/** `server` as startClient should see it when sc goes through `front`: same accounts, REST via the front. */
export function throughFront(server: TestServer, front: EdgeFront): TestServer {
  return { ...server, restUrl: front.restUrl, caCert: front.caCert };
}
