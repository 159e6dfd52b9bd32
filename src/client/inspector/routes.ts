/**
 * The inspector's routes on sc's local API (api-server.ts calls `handle` for paths under /inspector):
 *
 *   /inspector/                   the page (page.ts: HTML, one ES module, one stylesheet)
 *   /inspector/api/requests       the records, oldest first, without headers or bodies (JSON)
 *   /inspector/api/requests/ID    one record with headers and bodies (JSON)
 *   /inspector/api/events         live feed: Server-Sent Events "add", "update" (a record's summary), "evict" (id)
 *   /inspector/har                every record as HAR 1.2
 *
 * Without --api-basic-auth the API listens on loopback only (run-command.ts refuses otherwise); a page on any
 * web site could still reach it through DNS rebinding, so the Host header must then name loopback or an IP.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import { detail, har } from './har.js';
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './page.js';
import type { Change, Inspector } from './recorder.js';

/** Between SSE comments, so proxies and the API's idle timeout see traffic on a quiet feed. */
const HEARTBEAT_MS = 15_000;
/**
 * A feed whose reader stopped reading (a frozen tab) is closed once this much is waiting, rather than held in
 * memory; EventSource reconnects and the page reloads the list.
 */
const MAX_FEED_BACKLOG = 1024 * 1024;

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
};

function send(res: ServerResponse, status: number, body: string, type: string, extra = {}): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    ...extra,
  });
  res.end(body);
}

const json = (res: ServerResponse, status: number, v: unknown, extra = {}): void =>
  send(res, status, JSON.stringify(v), 'application/json; charset=utf-8', extra);

/** A Host header naming loopback or an IP literal (not a name some DNS could point here). */
export function hostAllowed(host: string | undefined): boolean {
  if (!host) return false;
  const name = host
    .replace(/:\d+$/, '')
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost') || net.isIP(name) !== 0;
}

export function inspectorRoutes(
  inspector: Inspector,
  opts: { checkHost: boolean },
): (req: IncomingMessage, res: ServerResponse, path: string) => void {
  return (req, res, path) => {
    if (opts.checkHost && !hostAllowed(req.headers.host))
      return send(
        res,
        403,
        'inspector: open it as http://127.0.0.1:PORT/inspector/ (or set --api-basic-auth)\n',
        'text/plain; charset=utf-8',
      );
    switch (path) {
      case '/inspector':
        res.writeHead(301, { location: '/inspector/' });
        return void res.end();
      case '/inspector/':
        return send(res, 200, PAGE_HTML, 'text/html; charset=utf-8', {
          'content-security-policy':
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        });
      case '/inspector/app.js':
        return send(res, 200, PAGE_JS, 'text/javascript; charset=utf-8');
      case '/inspector/style.css':
        return send(res, 200, PAGE_CSS, 'text/css; charset=utf-8');
      case '/inspector/api/requests':
        return json(res, 200, {
          requests: inspector.list().map((r) => r.summary()),
          maxRequests: inspector.cfg.maxRequests,
          maxBytes: inspector.cfg.maxBytes,
          usedBytes: inspector.usedBytes(),
        });
      case '/inspector/har':
        return json(res, 200, har(inspector.list()), {
          'content-disposition': 'attachment; filename="sc-inspector.har"',
        });
      case '/inspector/api/events':
        return events(inspector, req, res);
    }
    const m = /^\/inspector\/api\/requests\/(\d{1,15})$/.exec(path);
    if (m) {
      const r = inspector.get(Number(m[1]));
      if (!r)
        return json(res, 404, { error: `no request ${m[1]} (never seen, or evicted by the memory bound)` });
      return json(res, 200, detail(r));
    }
    return send(res, 404, 'Not Found\n', 'text/plain; charset=utf-8');
  };
}

function events(inspector: Inspector, req: IncomingMessage, res: ServerResponse): void {
  req.socket.setTimeout(0);
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': 'text/event-stream; charset=utf-8',
    connection: 'keep-alive',
  });
  if (req.method === 'HEAD') return void res.end();
  res.write('retry: 2000\n\n');
  const unsubscribe = inspector.subscribe((c: Change) => {
    if (res.writableLength > MAX_FEED_BACKLOG) return void res.destroy();
    const data = c.type === 'evict' ? { id: c.id } : c.record.summary();
    res.write(`event: ${c.type}\ndata: ${JSON.stringify(data)}\n\n`);
  });
  const beat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS).unref();
  res.on('close', () => {
    clearInterval(beat);
    unsubscribe();
  });
}
