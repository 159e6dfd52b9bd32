/**
 * The request inspector of `sc run --inspector` (docs/inspector.md) from a test: its JSON routes, its live feed
 * (Server-Sent Events) and a HAR validator (the har-validator package's HAR 1.2 JSON schemas).
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import { onCleanup } from './cleanup.js';

const require = createRequire(import.meta.url);
const harValidator = require('har-validator') as { har(data: unknown): Promise<boolean> };

export interface ApiAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET on sc's local API with optional basic-auth `user:pass` and extra headers (Host, for one). */
export function apiRequest(
  apiUrl: string,
  path: string,
  opts: { basicAuth?: string; headers?: Record<string, string> } = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.basicAuth) headers['authorization'] = `Basic ${Buffer.from(opts.basicAuth).toString('base64')}`;
  return new Promise((resolvePromise, reject) => {
    const req = http.get(apiUrl + path, { headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

/** GET a JSON route of the inspector; fails the test on any status but 200. */
export async function inspectorJson<T = unknown>(
  apiUrl: string,
  path: string,
  basicAuth?: string,
): Promise<T> {
  const r = await apiRequest(apiUrl, path, { basicAuth });
  if (r.status !== 200) throw new Error(`GET ${path} answered ${r.status}: ${r.body}`);
  return JSON.parse(r.body) as T;
}

export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Subscribes to the inspector's live feed; `next(pred)` resolves with the first event (received so far or later)
 * that matches. Closed by cleanup().
 */
export async function inspectorFeed(
  apiUrl: string,
): Promise<{ events: SseEvent[]; next(pred: (e: SseEvent) => boolean, ms?: number): Promise<SseEvent> }> {
  const events: SseEvent[] = [];
  const waiters: (() => void)[] = [];
  const req = http.get(`${apiUrl}/inspector/api/events`);
  onCleanup(() => void req.destroy());
  await new Promise<void>((resolvePromise, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      if (res.statusCode !== 200) return reject(new Error(`feed answered ${res.statusCode}`));
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const e: SseEvent = { event: 'message', data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) e.event = line.slice(7);
            else if (line.startsWith('data: ')) e.data += line.slice(6);
          }
          if (e.data) events.push(e);
        }
        for (const w of waiters.splice(0)) w();
      });
      res.on('error', () => undefined);
      resolvePromise();
    });
  });
  return {
    events,
    next(pred, ms = 20_000) {
      return new Promise((resolvePromise, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching event in ${ms} ms: ${JSON.stringify(events)}`)),
          ms,
        );
        const look = (): void => {
          const e = events.find(pred);
          if (e) {
            clearTimeout(timer);
            resolvePromise(e);
          } else waiters.push(look);
        };
        look();
      });
    },
  };
}

/** Resolves when `data` is a valid HAR 1.2 log; rejects with the schema's complaints. */
export async function validateHar(data: unknown): Promise<void> {
  try {
    await harValidator.har(data);
  } catch (err) {
    const e = err as { errors?: unknown };
    throw new Error(`invalid HAR: ${JSON.stringify(e.errors ?? String(err))}`, { cause: err });
  }
}
