/** Calls to the server's REST API over HTTPS, trusting the server's CA, with Basic credentials. */
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { TestServer } from './server.js';

export interface RestResponse<T = unknown> {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** Parsed JSON body (undefined when the body is not JSON). */
  json: T;
}

export interface RestCredentials {
  username: string;
  accessKey: string;
}

/** A request body sent as given (not JSON-encoded), e.g. `raw('{"username": ')` for a bad-JSON test. */
export class RawBody {
  constructor(
    readonly text: string,
    readonly contentType = 'application/json',
  ) {}
}
export const raw = (text: string, contentType?: string): RawBody => new RawBody(text, contentType);

/**
 * The one REST call of the kit. `body` is JSON-encoded unless it is a `raw(...)` body.
 * `path` is relative to rest_url ("/alice/tunnels") or absolute from the host ("https://..." or "//readyz" is
 * not supported: pass a full URL for /readyz).
 */
export function rest<T = unknown>(
  server: Pick<TestServer, 'restUrl' | 'caPem'>,
  method: string,
  path: string,
  auth: RestCredentials | null,
  body?: unknown,
  timeoutMs = 20_000,
): Promise<RestResponse<T>> {
  const url = new URL(/^https?:/.test(path) ? path : server.restUrl + path);
  const payload = body === undefined ? undefined : body instanceof RawBody ? body.text : JSON.stringify(body);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (auth)
    headers['authorization'] =
      'Basic ' + Buffer.from(`${auth.username}:${auth.accessKey}`).toString('base64');
  if (payload !== undefined) {
    headers['content-type'] = body instanceof RawBody ? body.contentType : 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolvePromise, reject) => {
    const req = https.request(
      url,
      { method, headers, ca: server.caPem, agent: false, timeout: timeoutMs },
      (res) => {
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
          resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, text, json: json as T });
        });
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`REST ${method} ${url.href} timed out after ${timeoutMs} ms`)),
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** GET {rest_url}/{user}/tunnels: the list of tunnel ids. */
export async function listTunnels(
  server: Pick<TestServer, 'restUrl' | 'caPem'>,
  auth: RestCredentials,
): Promise<string[]> {
  const r = await rest<string[]>(server, 'GET', `/${auth.username}/tunnels`, auth);
  if (r.status !== 200) throw new Error(`list tunnels: ${r.status} ${r.text}`);
  return r.json;
}

/** Full tunnel objects of the account (?full=true). */
export async function listTunnelsFull(
  server: Pick<TestServer, 'restUrl' | 'caPem'>,
  auth: RestCredentials,
): Promise<Record<string, unknown>[]> {
  const r = await rest<Record<string, unknown>[]>(server, 'GET', `/${auth.username}/tunnels?full=true`, auth);
  if (r.status !== 200) throw new Error(`list tunnels: ${r.status} ${r.text}`);
  return r.json;
}
