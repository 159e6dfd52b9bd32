/**
 * A browser-like GET through the proxy entry that exposes the body as it arrives: for fault tests that act
 * mid-transfer (kill a process once some bytes arrived) and for slow readers (pause and resume reading).
 */
import { createHash } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import { proxyAuthorization, type ProxyAuth, type ProxyTarget } from './proxy.js';

export interface StreamOutcome {
  status: number;
  /** Bytes of body received. */
  bytes: number;
  /** Content-Length announced (NaN when none). */
  expected: number;
  sha256: string;
  /** True when the body ended normally with every announced byte. */
  complete: boolean;
  /** How it failed, when it did ('aborted', an errno code, or a message). */
  error?: string;
}

export interface StreamingGet {
  /** Bytes received so far. */
  readonly received: number;
  readonly response: Promise<IncomingMessage>;
  readonly done: Promise<StreamOutcome>;
  pause(): void;
  resume(): void;
  destroy(): void;
}

export function streamingGet(server: ProxyTarget, auth: ProxyAuth, url: string): StreamingGet {
  let received = 0;
  let res: IncomingMessage | undefined;
  const hash = createHash('sha256');
  const req = http.request({
    host: '127.0.0.1',
    port: server.proxyPort,
    path: url,
    agent: false,
    headers: { 'proxy-authorization': proxyAuthorization(auth) },
  });
  let status = 0;
  let expected = NaN;
  let settle: (o: StreamOutcome) => void = () => undefined;
  const done = new Promise<StreamOutcome>((r) => (settle = r));
  const finish = (error?: string): void => {
    const complete = !error && status > 0 && (Number.isNaN(expected) || received === expected);
    settle({ status, bytes: received, expected, sha256: hash.copy().digest('hex'), complete, error });
  };
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', (r) => {
      res = r;
      status = r.statusCode ?? 0;
      expected = Number(r.headers['content-length'] ?? NaN);
      r.on('data', (d: Buffer) => {
        received += d.length;
        hash.update(d);
      });
      r.on('end', () => finish());
      r.on('aborted', () => finish('aborted'));
      r.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
      resolve(r);
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      reject(e);
      finish(e.code ?? e.message);
    });
  });
  response.catch(() => undefined);
  req.end();
  return {
    get received() {
      return received;
    },
    response,
    done,
    pause: () => res?.pause(),
    resume: () => res?.resume(),
    destroy: () => req.destroy(),
  };
}
