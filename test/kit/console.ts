/**
 * HTTPS calls to the web console as a browser makes them: with the session cookie, the CSRF header and an
 * Origin (docs/console.md). For the real browser see browser.ts.
 */
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { RestCredentials } from './rest.js';
import type { TestServer } from './server.js';

export interface ConsoleResponse<T = unknown> {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: T;
}

export interface ConsoleCall {
  /** The session cookie's value (without the name). */
  cookie?: string;
  csrf?: string;
  /** Origin header; default this server's own origin; null sends none. */
  origin?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

/** The server's own origin (https://host:port), as its console pages send it. */
export const consoleOrigin = (server: Pick<TestServer, 'restUrl'>): string => new URL(server.restUrl).origin;

export function consoleCall<T = unknown>(
  server: Pick<TestServer, 'restUrl' | 'caPem'>,
  method: string,
  path: string,
  call: ConsoleCall = {},
): Promise<ConsoleResponse<T>> {
  const url = new URL(path, consoleOrigin(server));
  const headers: Record<string, string> = { accept: 'application/json', ...call.headers };
  if (call.cookie !== undefined) headers['cookie'] = `sluice_console=${call.cookie}`;
  if (call.csrf !== undefined) headers['x-csrf-token'] = call.csrf;
  const origin = call.origin === undefined ? consoleOrigin(server) : call.origin;
  if (origin !== null) headers['origin'] = origin;
  const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
  if (payload !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca: server.caPem, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: json as T });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Signs in; returns the session cookie's value, its full Set-Cookie line and the CSRF token. */
export async function consoleSignIn(
  server: Pick<TestServer, 'restUrl' | 'caPem'>,
  creds: RestCredentials,
): Promise<{ cookie: string; setCookie: string; csrf: string }> {
  const r = await consoleCall<{ csrf: string }>(server, 'POST', '/console/api/login', {
    body: { username: creds.username, access_key: creds.accessKey },
  });
  if (r.status !== 200) throw new Error(`console sign-in failed: ${r.status} ${r.text}`);
  const setCookie = (r.headers['set-cookie'] ?? [])[0] ?? '';
  const cookie = /^sluice_console=([^;]*)/.exec(setCookie)?.[1] ?? '';
  return { cookie, setCookie, csrf: r.json.csrf };
}
