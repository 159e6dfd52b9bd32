/**
 * HTTP calls to a WebDriver upstream (a chromedriver, a Selenium Grid...). Credentials in the upstream URL
 * (`https://user:key@grid/wd/hub`) become Basic auth and never appear in messages: `describeUpstream` is the
 * only way an upstream is named in logs and errors.
 */
import http from 'node:http';
import https from 'node:https';

export interface UpstreamReply {
  status: number;
  contentType: string;
  body: Buffer;
}

export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly kind: 'unreachable' | 'timeout' | 'too_large',
  ) {
    super(message);
  }
}

const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

/** What may be said about an upstream: scheme, host, port and path, no credentials. */
export function describeUpstream(base: URL): string {
  return `${base.protocol}//${base.host}${base.pathname.replace(/\/$/, '')}`;
}

/** base + path, keeping the base's path prefix (`http://grid:4444/wd/hub` + `/session`). */
export function upstreamUrl(base: URL, path: string): URL {
  const u = new URL(base.href);
  u.pathname = base.pathname.replace(/\/+$/, '') + path;
  u.username = '';
  u.password = '';
  return u;
}

export function basicAuthOf(base: URL): string | undefined {
  if (!base.username) return undefined;
  const user = decodeURIComponent(base.username);
  const pass = decodeURIComponent(base.password);
  return 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
}

const MAX_REPLY = 256 * 1024 * 1024; // a full-page screenshot of a big page is tens of MB

/**
 * One request with a deadline for the whole reply. `signal` aborts it early. Rejects with UpstreamError
 * (unreachable, timeout) and never leaves the socket open past the deadline.
 */
export function callUpstream(
  base: URL,
  method: string,
  path: string,
  body: Buffer | null,
  timeoutMs: number,
): Promise<UpstreamReply> {
  const url = upstreamUrl(base, path);
  const name = describeUpstream(base);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { accept: 'application/json' };
    const auth = basicAuthOf(base);
    if (auth) headers['authorization'] = auth;
    if (body) {
      headers['content-type'] = 'application/json; charset=utf-8';
      headers['content-length'] = body.length;
    }
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, {
      method,
      headers,
      agent: agents[url.protocol === 'https:' ? 'https:' : 'http:'],
    });
    let settled = false;
    const fail = (err: UpstreamError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new UpstreamError(`upstream ${name} did not answer within ${timeoutMs / 1000}s`, 'timeout')),
      timeoutMs,
    );
    req.on('error', (err: NodeJS.ErrnoException) =>
      fail(new UpstreamError(`upstream ${name} is unreachable: ${err.code ?? err.message}`, 'unreachable')),
    );
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_REPLY) fail(new UpstreamError(`upstream ${name} answered over 256 MiB`, 'too_large'));
        else chunks.push(c);
      });
      res.on('error', () => fail(new UpstreamError(`upstream ${name} broke off its answer`, 'unreachable')));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 502,
          contentType: String(res.headers['content-type'] ?? 'application/json; charset=utf-8'),
          body: Buffer.concat(chunks),
        });
      });
    });
    req.end(body ?? undefined);
  });
}

/** The JSON of a reply, or null when it is not JSON. */
export function replyJson(reply: UpstreamReply): unknown {
  try {
    return JSON.parse(reply.body.toString('utf8')) as unknown;
  } catch {
    return null;
  }
}
