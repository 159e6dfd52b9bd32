/**
 * Real upstream proxies for the tests, on 127.0.0.1 port 0-style free ports, each allowing only loopback
 * destinations: squid (access log in a file) and tinyproxy (optional BasicAuth; its log on stderr).
 */
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { onCleanup, tempDir, waitFor } from './cleanup.js';
import { freePort, listening, spawnDaemon } from './daemon.js';
import { testCa } from './test-ca.js';

export interface RealProxy {
  port: number;
  /** Everything the proxy logged so far (squid: its access log; tinyproxy: its output). */
  log(): Promise<string>;
  proc: ChildProcess;
}

export interface SquidOptions {
  /**
   * squid's access rules (acl, auth_param and http_access lines) in place of the default, loopback clients to
   * loopback destinations only; given squid's own directory and its logs directory (for files the rules name).
   * They must keep destinations on loopback.
   */
  access?: (dir: string, logs: string) => Promise<string[]>;
  /** squid's environment (its helpers inherit it). */
  env?: NodeJS.ProcessEnv;
}

/** squid as a forward proxy on a free loopback port; its access log in a file. */
export async function startSquid(opts: SquidOptions = {}): Promise<RealProxy> {
  const dir = await tempDir('sluice-squid-');
  // squid started by root writes as user proxy: the temp dir must be traversable and its own dir writable.
  await chmod(dir, 0o755);
  const logs = join(dir, 'logs');
  await mkdir(logs);
  await chmod(logs, 0o777);
  const port = await freePort();
  const access = opts.access
    ? await opts.access(dir, logs)
    : [
        'acl loopsrc src 127.0.0.1/32',
        'acl loopdst dst 127.0.0.1/32',
        'http_access allow loopsrc loopdst',
        'http_access deny all',
      ];
  const conf = join(dir, 'squid.conf');
  await writeFile(
    conf,
    [
      `http_port 127.0.0.1:${port}`,
      ...access,
      'cache deny all',
      `access_log stdio:${join(logs, 'access.log')}`,
      `cache_log ${join(logs, 'cache.log')}`,
      `pid_filename ${join(logs, 'squid.pid')}`,
      'pinger_enable off',
      'shutdown_lifetime 0 seconds',
      'dns_nameservers 127.0.0.1',
      `coredump_dir ${logs}`,
      '',
    ].join('\n'),
  );
  const { proc, output } = spawnDaemon('/usr/sbin/squid', ['-N', '-f', conf], opts.env);
  await waitFor(`squid on ${port}`, async () => (await listening(port)) || undefined, 30_000, output);
  return {
    port,
    proc,
    log: () => readFile(join(logs, 'access.log'), 'utf8').catch(() => ''),
  };
}

export async function startTinyproxy(auth?: { user: string; pass: string }): Promise<RealProxy> {
  const dir = await tempDir('sluice-tinyproxy-');
  await chmod(dir, 0o755);
  const port = await freePort();
  const filter = join(dir, 'filter');
  await writeFile(filter, '^127\\.0\\.0\\.1$\n^localhost$\n');
  const conf = join(dir, 'tinyproxy.conf');
  await writeFile(
    conf,
    [
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 30',
      'LogLevel Connect',
      'MaxClients 50',
      'Allow 127.0.0.1',
      `Filter "${filter}"`,
      'FilterDefaultDeny Yes',
      'FilterExtended On',
      ...(auth ? [`BasicAuth ${auth.user} ${auth.pass}`] : []),
      '',
    ].join('\n'),
  );
  const { proc, output } = spawnDaemon('tinyproxy', ['-d', '-c', conf]);
  await waitFor(`tinyproxy on ${port}`, async () => (await listening(port)) || undefined, 30_000).catch(
    (err: Error) => {
      throw new Error(`${err.message}\n${output()}`);
    },
  );
  return { port, proc, log: () => Promise.resolve(output()) };
}

/** dante as a SOCKS5 proxy without authentication, CONNECT to loopback only; its log (connects) on stderr. */
export async function startDante(): Promise<RealProxy> {
  const dir = await tempDir('sluice-dante-');
  await chmod(dir, 0o755);
  const port = await freePort();
  const conf = join(dir, 'danted.conf');
  await writeFile(
    conf,
    [
      'logoutput: stderr',
      `internal: 127.0.0.1 port = ${port}`,
      'external: 127.0.0.1',
      'socksmethod: none',
      'clientmethod: none',
      'user.unprivileged: nobody',
      'client pass {',
      '  from: 127.0.0.1/32 to: 0.0.0.0/0',
      '}',
      'socks pass {',
      '  from: 127.0.0.1/32 to: 127.0.0.1/32',
      '  command: connect',
      '  log: connect',
      '}',
      'socks block {',
      '  from: 0.0.0.0/0 to: 0.0.0.0/0',
      '  log: connect error',
      '}',
      '',
    ].join('\n'),
  );
  const { proc, output } = spawnDaemon('/usr/sbin/danted', ['-f', conf, '-p', join(dir, 'danted.pid')]);
  await waitFor(`danted on ${port}`, async () => (await listening(port)) || undefined, 30_000).catch(
    (err: Error) => {
      throw new Error(`${err.message}\n${output()}`);
    },
  );
  return { port, proc, log: () => Promise.resolve(output()) };
}

/**
 * A small SOCKS5 server (RFC 1928 CONNECT, RFC 1929 username/password required) that connects to 127.0.0.1
 * only: dante's username method needs system accounts. `connects` lists the host:port of every CONNECT it carried.
 */
export async function startSocks5(user: string, pass: string): Promise<{ port: number; connects: string[] }> {
  const connects: string[] = [];
  const srv = net.createServer((c) => {
    c.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let stage: 'greet' | 'auth' | 'request' = 'greet';
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      if (stage === 'greet') {
        if (buf.length < 2 || buf.length < 2 + buf[1]!) return;
        const methods = buf.subarray(2, 2 + buf[1]!);
        buf = buf.subarray(2 + buf[1]!);
        if (!methods.includes(0x02)) return void c.end(Buffer.from([5, 0xff]));
        c.write(Buffer.from([5, 2]));
        stage = 'auth';
      }
      if (stage === 'auth') {
        if (buf.length < 2) return;
        const ulen = buf[1]!;
        if (buf.length < 3 + ulen) return;
        const plen = buf[2 + ulen]!;
        if (buf.length < 3 + ulen + plen) return;
        const u = buf.subarray(2, 2 + ulen).toString();
        const p = buf.subarray(3 + ulen, 3 + ulen + plen).toString();
        buf = buf.subarray(3 + ulen + plen);
        if (u !== user || p !== pass) return void c.end(Buffer.from([1, 1]));
        c.write(Buffer.from([1, 0]));
        stage = 'request';
      }
      if (stage === 'request') {
        if (buf.length < 5) return;
        const atyp = buf[3]!;
        const alen = atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + buf[4]!;
        if (buf.length < 4 + alen + 2) return;
        const host =
          atyp === 1
            ? [...buf.subarray(4, 8)].join('.')
            : atyp === 3
              ? buf.subarray(5, 5 + buf[4]!).toString()
              : '';
        const port = buf.readUInt16BE(4 + alen);
        const rest = buf.subarray(4 + alen + 2);
        c.off('data', onData);
        c.pause();
        const reply = (code: number): Buffer => Buffer.from([5, code, 0, 1, 127, 0, 0, 1, 0, 0]);
        if (host !== '127.0.0.1' && host !== 'localhost') return void c.end(reply(2));
        connects.push(`${host}:${port}`);
        const up = net.connect({ host: '127.0.0.1', port }, () => {
          c.write(reply(0));
          if (rest.length) up.write(rest);
          c.pipe(up).pipe(c);
          c.resume();
        });
        up.on('error', () => c.end(reply(5)));
      }
    };
    c.on('data', onData);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  onCleanup(() => new Promise<void>((r) => srv.close(() => r())));
  return { port: (srv.address() as net.AddressInfo).port, connects };
}

/**
 * An https:// proxy: TLS with the test CA's certificate (SANs localhost, 127.0.0.1), then CONNECT to 127.0.0.1
 * only. `connects` lists what it carried.
 */
export async function startTlsConnectProxy(): Promise<{ port: number; connects: string[] }> {
  const ca = await testCa();
  const connects: string[] = [];
  const srv = tls.createServer({ cert: ca.certPem, key: ca.keyPem }, (c) => {
    c.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      c.off('data', onData);
      const m = /^CONNECT (127\.0\.0\.1|localhost):(\d+) HTTP\/1\.1\r\n/.exec(buf.toString('latin1'));
      if (!m) return void c.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      connects.push(`${m[1]}:${m[2]}`);
      const up = net.connect({ host: '127.0.0.1', port: Number(m[2]) }, () => {
        c.write('HTTP/1.1 200 Connection established\r\n\r\n');
        const rest = buf.subarray(end + 4);
        if (rest.length) up.write(rest);
        c.pipe(up).pipe(c);
      });
      up.on('error', () => c.destroy());
    };
    c.on('data', onData);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  onCleanup(() => new Promise<void>((r) => srv.close(() => r())));
  return { port: (srv.address() as net.AddressInfo).port, connects };
}
