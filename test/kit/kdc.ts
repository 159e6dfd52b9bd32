/**
 * Kerberos on loopback for the tests: an MIT KDC (Debian's krb5-kdc) with a throwaway realm in a temp dir, on a
 * free 127.0.0.1 port, and two services that demand SPNEGO (`Negotiate`): squid with its negotiate_kerberos_auth
 * helper as a forward proxy that reaches loopback destinations only, and an HTTP origin that checks tokens with
 * the `kerberos` package's acceptor side. Service principals are HTTP/localhost: clients address them as
 * `localhost`. Every process stops and every file goes in cleanup().
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { onCleanup, tempDir, waitFor } from './cleanup.js';
import { freePort, listening, spawnDaemon } from './daemon.js';
import { startSquid } from './proxies.js';

const SBIN = ['/usr/sbin', '/usr/bin'];
const tool = (name: string): string | undefined => SBIN.map((d) => join(d, name)).find((p) => existsSync(p));

export const NEGOTIATE_HELPER = '/usr/lib/squid/negotiate_kerberos_auth';

/**
 * Why the Kerberos tests cannot run here (a missing Debian package or the optional npm package), or undefined
 * when everything is present. scripts/setup-debian.sh installs the packages.
 */
export function kerberosMissing(): string | undefined {
  const need: string[] = [];
  for (const [bin, pkg] of [
    ['krb5kdc', 'krb5-kdc'],
    ['kdb5_util', 'krb5-kdc'],
    ['kadmin.local', 'krb5-admin-server'],
    ['kinit', 'krb5-user'],
    ['kvno', 'krb5-user'],
    ['squid', 'squid'],
  ] as const)
    if (!tool(bin)) need.push(`${bin} (Debian package ${pkg})`);
  if (!existsSync(NEGOTIATE_HELPER)) need.push(`${NEGOTIATE_HELPER} (Debian package squid)`);
  try {
    createRequire(import.meta.url)('kerberos');
  } catch {
    need.push('the npm package kerberos (npm ci with libkrb5-dev installed)');
  }
  return need.length ? `Kerberos tests need ${need.join(', ')}: run scripts/setup-debian.sh` : undefined;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
      else resolve(`${stdout}${stderr}`);
    });
  });
}

export interface Kdc {
  realm: string;
  port: number;
  dir: string;
  /** The clients' krb5.conf (KDC on 127.0.0.1:port, no DNS, no reverse lookups): for --kerberos-cfg-file. */
  krb5Conf: string;
  /** KRB5_CONFIG and KRB5_KDC_PROFILE for the realm's tools. */
  env: NodeJS.ProcessEnv;
  /** Runs one kadmin.local query (for example `modprinc -expire yesterday alice`). */
  kadmin(query: string): Promise<string>;
  /** Adds a principal with a random key (`addprinc -randkey`, plus `options` such as `-maxlife "10 sec"`). */
  addPrincipal(name: string, options?: string): Promise<void>;
  /** Exports the principal's current key to a new keytab file (a new key version); returns its path. */
  keytab(name: string): Promise<string>;
  /** kinit with a keytab into the ccache `FILE:<path>` (lifetime as kinit's -l, e.g. "3s"). */
  kinit(name: string, keytab: string, ccache: string, lifetime?: string): Promise<void>;
  /**
   * Can the ccache's ticket still get a ticket for `service` (kvno)? The library's own test, which counts whole
   * seconds: klist -s may already call a ticket expired that the library would still use.
   */
  ticketUsable(ccache: string, service: string): Promise<boolean>;
  log(): Promise<string>;
}

/** Starts an MIT KDC for `realm` on a free loopback port (UDP and TCP), with an empty database. */
export async function startKdc(realm = 'SLUICE.TEST'): Promise<Kdc> {
  const dir = await tempDir('sluice-kdc-');
  await chmod(dir, 0o755);
  const port = await freePort();
  const kdcConf = join(dir, 'kdc.conf');
  const krb5Conf = join(dir, 'krb5.conf');
  await writeFile(join(dir, 'kadm5.acl'), '');
  await writeFile(
    kdcConf,
    [
      '[kdcdefaults]',
      ` kdc_listen = 127.0.0.1:${port}`,
      ` kdc_tcp_listen = 127.0.0.1:${port}`,
      '[realms]',
      ` ${realm} = {`,
      `  database_name = ${join(dir, 'principal')}`,
      `  key_stash_file = ${join(dir, 'stash')}`,
      `  acl_file = ${join(dir, 'kadm5.acl')}`,
      '  max_life = 1h',
      '  max_renewable_life = 0',
      '  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal',
      ' }',
      '[logging]',
      ` kdc = FILE:${join(dir, 'kdc.log')}`,
      '',
    ].join('\n'),
  );
  await writeFile(
    krb5Conf,
    [
      '[libdefaults]',
      ` default_realm = ${realm}`,
      ' dns_lookup_kdc = false',
      ' dns_lookup_realm = false',
      ' rdns = false',
      ' dns_canonicalize_hostname = false',
      ' udp_preference_limit = 1',
      '[realms]',
      ` ${realm} = {`,
      `  kdc = 127.0.0.1:${port}`,
      ' }',
      '[domain_realm]',
      ` localhost = ${realm}`,
      '',
    ].join('\n'),
  );
  await chmod(krb5Conf, 0o644);
  const env: NodeJS.ProcessEnv = { ...process.env, KRB5_CONFIG: krb5Conf, KRB5_KDC_PROFILE: kdcConf };
  await run(tool('kdb5_util')!, ['create', '-s', '-P', 'throwaway-master-key', '-r', realm], env);
  const { output } = spawnDaemon(tool('krb5kdc')!, ['-n'], env);
  await waitFor(
    `krb5kdc on 127.0.0.1:${port}`,
    async () => (await listening(port)) || undefined,
    20_000,
    output,
  );
  let n = 0;
  const kdc: Kdc = {
    realm,
    port,
    dir,
    krb5Conf,
    env,
    kadmin: (query) => run(tool('kadmin.local')!, ['-r', realm, '-q', query], env),
    async addPrincipal(name, options = '') {
      await kdc.kadmin(`addprinc -randkey ${options} ${name}`);
    },
    async keytab(name) {
      const file = join(dir, `${name.replace(/[^\w.-]+/g, '_')}-${++n}.keytab`);
      await kdc.kadmin(`ktadd -k ${file} ${name}`);
      // squid's helper runs as user proxy.
      await chmod(file, 0o644);
      return file;
    },
    async kinit(name, keytab, ccache, lifetime) {
      await run(
        tool('kinit')!,
        [...(lifetime ? ['-l', lifetime] : []), '-k', '-t', keytab, '-c', `FILE:${ccache}`, name],
        env,
      );
    },
    ticketUsable: (ccache, service) =>
      run(tool('kvno')!, ['-q', '-c', `FILE:${ccache}`, service], env).then(
        () => true,
        () => false,
      ),
    log: () => readFile(join(dir, 'kdc.log'), 'utf8').catch(() => ''),
  };
  return kdc;
}

export interface NegotiateProxy {
  port: number;
  /** squid's access log so far: one line per request, with the Kerberos user name. */
  log(): Promise<string>;
}

/**
 * squid as a forward proxy that demands Negotiate (its negotiate_kerberos_auth helper with `keytab` for
 * HTTP/localhost@REALM, with a replay cache) and reaches 127.0.0.1 destinations only.
 */
export async function startNegotiateSquid(kdc: Kdc, keytab: string): Promise<NegotiateProxy> {
  const squid = await startSquid({
    env: { ...process.env, KRB5_CONFIG: kdc.krb5Conf },
    access: async (dir, logs) => {
      const kt = join(dir, 'http.keytab');
      await copyFile(keytab, kt);
      await chmod(kt, 0o644);
      return [
        `auth_param negotiate program ${NEGOTIATE_HELPER} -k ${kt} -s HTTP/localhost@${kdc.realm} -c ${logs}`,
        'auth_param negotiate children 2 startup=1 idle=1',
        'auth_param negotiate keep_alive on',
        'acl loopsrc src 127.0.0.1/32',
        'acl loopdst dst 127.0.0.1/32',
        'acl kerberos proxy_auth REQUIRED',
        'http_access deny !loopsrc',
        'http_access deny !loopdst',
        'http_access allow kerberos',
        'http_access deny all',
      ];
    },
  });
  return { port: squid.port, log: () => squid.log() };
}

/** What reached a Negotiate origin. */
export interface NegotiateRecord {
  method: string;
  url: string;
  /** The request body as received. */
  body: string;
  /** The Authorization field as received (undefined when absent). */
  authorization?: string;
  /** The client principal when the token was accepted. */
  user?: string;
  /** Why the token was refused. */
  error?: string;
}

export interface NegotiateOrigin {
  port: number;
  /** http://localhost:<port>/ (the service principal is HTTP/localhost). */
  url: string;
  requests: NegotiateRecord[];
}

interface Acceptor {
  initializeServer(service: string): Promise<{ step(token: string): Promise<string>; username: string }>;
}

/**
 * An HTTP origin on 127.0.0.1 that answers 200 `hello <principal>` to a request whose `Authorization: Negotiate`
 * token it accepts (the `kerberos` package's acceptor with `keytab` for HTTP/localhost), and 401
 * `WWW-Authenticate: Negotiate` otherwise. The acceptor reads KRB5_KTNAME and KRB5_CONFIG of this (the test)
 * process, which this sets.
 */
export async function startNegotiateOrigin(kdc: Kdc, keytab: string): Promise<NegotiateOrigin> {
  process.env['KRB5_CONFIG'] = kdc.krb5Conf;
  process.env['KRB5_KTNAME'] = `FILE:${keytab}`;
  const gss = createRequire(import.meta.url)('kerberos') as Acceptor;
  const requests: NegotiateRecord[] = [];
  const server = http.createServer((req, res) => {
    const rec: NegotiateRecord = {
      method: req.method ?? '',
      url: req.url ?? '',
      body: '',
      authorization: req.headers.authorization,
    };
    requests.push(rec);
    req.setEncoding('utf8');
    req.on('data', (d: string) => (rec.body += d));
    req.once('end', () => answer(rec, req.headers.authorization, res));
  });
  const answer = (
    rec: NegotiateRecord,
    authorization: string | undefined,
    res: http.ServerResponse,
  ): void => {
    const m = /^Negotiate (\S+)$/.exec(authorization ?? '');
    const refuse = (why: string): void => {
      rec.error = why;
      res.writeHead(401, { 'www-authenticate': 'Negotiate', 'content-type': 'text/plain' });
      res.end(`refused: ${why}\n`);
    };
    if (!m) return refuse('no Negotiate token');
    gss
      .initializeServer(`HTTP@localhost`)
      .then(async (ctx) => {
        await ctx.step(m[1]!);
        rec.user = ctx.username;
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`hello ${ctx.username}\n`);
      })
      .catch((err: Error) => refuse(err.message));
  };
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onCleanup(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  const port = (server.address() as net.AddressInfo).port;
  return { port, url: `http://localhost:${port}/`, requests };
}
