/** `sc doctor` for the tests: run it to its exit with sc run's kit flags, and a TLS listener with an expired certificate. */
import { webcrypto } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { onCleanup, tempDir } from './cleanup.js';
import { CLIENT_MAIN, NodeProcess } from './process.js';
import type { TestServer } from './server.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface DoctorRun {
  code: number | null;
  /** stdout and stderr together. */
  output: string;
  /** The line of check `name` (status, name, detail), or '' when absent. */
  line(name: string): string;
}

export interface DoctorRunOptions {
  tunnelName?: string;
  username?: string;
  accessKey?: string;
  /** --rest-url (default the server's). */
  restUrl?: string;
  /** --cacert-file (default the server's CA; null: none). */
  cacert?: string | null;
  args?: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Runs `sc doctor` with the kit's defaults for `server` (like startClient's) plus `args`, to its exit. */
export async function runDoctor(server: TestServer | null, opts: DoctorRunOptions = {}): Promise<DoctorRun> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('SAUCE_') || k.startsWith('SC_')) delete env[k];
  Object.assign(env, opts.env);
  const cacert = opts.cacert === undefined ? server?.caCert : opts.cacert;
  const args = [
    'doctor',
    '--username',
    opts.username ?? server?.admin.username ?? 'nobody',
    '--access-key',
    opts.accessKey ?? server?.admin.accessKey ?? 'no-key-given',
    '--region',
    'us-west',
    '--tunnel-name',
    opts.tunnelName ?? 'doctor',
    '--rest-url',
    opts.restUrl ?? server!.restUrl,
    ...(cacert ? ['--cacert-file', cacert] : []),
    ...(opts.args ?? []),
  ];
  const p = new NodeProcess('sc doctor', CLIENT_MAIN, args, env);
  const exit = await p.waitExit(opts.timeoutMs ?? 60_000);
  const output = p.logs();
  return {
    code: exit.code,
    output,
    line: (name) =>
      output
        .split('\n')
        .find((l) =>
          new RegExp(`^(OK|FAIL|SKIP) +${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( |$)`).test(l),
        ) ?? '',
  };
}

const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

/**
 * A TLS listener on 127.0.0.1 port 0 whose self-signed certificate (SANs localhost, 127.0.0.1) expired yesterday;
 * `caFile` is that certificate, to trust it (so expiry is the only fault). It answers nothing.
 */
export async function startExpiredTls(): Promise<{ port: number; caFile: string }> {
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01' + Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex'),
    name: 'CN=localhost',
    notBefore: new Date(Date.now() - 30 * DAY),
    notAfter: new Date(Date.now() - DAY),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
    ],
  });
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${der.replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END PRIVATE KEY-----\n`;
  const certPem = cert.toString('pem') + '\n';
  const dir = await tempDir('sluice-expired-');
  const caFile = join(dir, 'expired.pem');
  await writeFile(caFile, certPem);
  const srv = tls.createServer({ cert: certPem, key: keyPem }, (c) => c.on('error', () => undefined));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  onCleanup(() => new Promise<void>((r) => srv.close(() => r())));
  return { port: (srv.address() as net.AddressInfo).port, caFile };
}
