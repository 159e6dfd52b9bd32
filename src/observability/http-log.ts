/**
 * `--log-http`: one log line per HTTP request of a module (proxy = test traffic, api = local API,
 * control = calls to the server's REST API), at the detail the mode asks for.
 *
 *   short-url  GET http://app:3000/path status=200 duration=12ms      (query string dropped)
 *   url        ... with the query string
 *   headers    ... plus request and response headers (credentials masked)
 *   body       as headers: bodies are streamed, not buffered, so they are never logged
 *   errors     url-level line only for failures (status >= 500 or a transport error)
 */
import type { Logger } from './log.js';

export type HttpLogMode = 'none' | 'short-url' | 'url' | 'headers' | 'body' | 'errors';
export type HttpLogModule = 'api' | 'proxy' | 'control';

export interface HttpLogEntry {
  method: string;
  url: string;
  status: number;
  durationMs: number;
  reqHeaders?: Record<string, unknown>;
  resHeaders?: Record<string, unknown>;
  error?: string;
}

export interface HttpLogger {
  log(e: HttpLogEntry): void;
}

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

/** Header values with credentials masked (the scheme of an Authorization value is kept: it helps debugging). */
export function maskHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (!SECRET_HEADERS.has(k.toLowerCase())) out[k] = v;
    else if (typeof v === 'string' && /^\w+ /.test(v) && k.toLowerCase().endsWith('authorization'))
      out[k] = `${v.split(' ')[0]} ****`;
    else out[k] = '****';
  }
  return out;
}

function shortUrl(url: string): string {
  const q = url.search(/[?#]/);
  return q < 0 ? url : url.slice(0, q);
}

/** A logger of HTTP requests for one module; mode "none" logs nothing. */
export function createHttpLogger(log: Logger, mode: HttpLogMode): HttpLogger {
  if (mode === 'none') return { log: () => undefined };
  return {
    log(e) {
      const failed = e.status >= 500 || e.status === 0 || e.error !== undefined;
      if (mode === 'errors' && !failed) return;
      const fields: Record<string, unknown> = { status: e.status, duration: `${Math.round(e.durationMs)}ms` };
      if (e.error) fields['error'] = e.error;
      if (mode === 'headers' || mode === 'body') {
        if (e.reqHeaders) fields['req_headers'] = maskHeaders(e.reqHeaders);
        if (e.resHeaders) fields['res_headers'] = maskHeaders(e.resHeaders);
      }
      const url = mode === 'short-url' ? shortUrl(e.url) : e.url;
      const line = `${e.method} ${url}`;
      if (failed) log.error(line, fields);
      else log.info(line, fields);
    },
  };
}

/**
 * Turns the `--log-http` list (`[api|proxy|control:]mode,...`) into a mode per module. An entry without a
 * module applies to every module; later entries win. Values were checked by the options parser.
 */
export function logHttpModes(entries: readonly string[]): Record<HttpLogModule, HttpLogMode> {
  const modes: Record<HttpLogModule, HttpLogMode> = { api: 'none', proxy: 'none', control: 'none' };
  for (const entry of entries) {
    const i = entry.indexOf(':');
    const mode = (i < 0 ? entry : entry.slice(i + 1)) as HttpLogMode;
    if (i < 0) for (const m of Object.keys(modes) as HttpLogModule[]) modes[m] = mode;
    else modes[entry.slice(0, i) as HttpLogModule] = mode;
  }
  return modes;
}
