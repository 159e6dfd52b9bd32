/**
 * Carrying one browser request over a tunnel stream. The stream is already opened on the least-loaded
 * connection (registry.acquire); here the bytes move, with backpressure from HTTP/2 flow control on both legs.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import http2, { type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { Duplex } from 'node:stream';
import { ERROR_HEADER, isProxyErrorCode, proxyErrors } from '../../protocol/errors.js';
import { coalescingPipe } from '../../protocol/coalescing-pipe.js';
import {
  endToEndHeaders,
  HOP_BY_HOP,
  SPLICE_HEADER,
  SPLICE_MAX_HEADER,
  TLS_HEADER,
  withVia,
} from '../../protocol/tunnel-protocol.js';
import type { Connection } from '../registry/tunnel-connection.js';
import { sendError, answeredErrors, writeSocketError } from './error-response.js';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;

/**
 * True when the client refused the stream before doing anything with it: it had sent GOAWAY (draining) while
 * the stream was on its way. Such a request can safely go to another connection.
 */
function refused(stream: ClientHttp2Stream): boolean {
  return stream.rstCode === NGHTTP2_REFUSED_STREAM;
}

function hasRequestBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  if (len !== undefined) return Number(len) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

/** Absolute-form HTTP request -> HTTP/2 request stream -> response back to the browser. */
export function forwardHttp(
  conn: Connection,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  retry?: () => void,
): void {
  const headers = endToEndHeaders(req.headers, ['expect']);
  headers['via'] = withVia(req.headers.via, req.httpVersion);
  const withBody = hasRequestBody(req);
  let stream: ClientHttp2Stream;
  try {
    stream = conn.request(
      {
        ...headers,
        ':method': req.method ?? 'GET',
        // https: a request from a resigned TLS connection (resign.ts): sc makes the TLS to the target itself.
        ':scheme': url.protocol === 'https:' ? 'https' : 'http',
        ':authority': url.host,
        ':path': url.pathname + url.search,
      },
      !withBody,
    );
  } catch {
    return sendError(res, 'tunnel_stream_failed');
  }
  if (withBody) req.pipe(stream);
  else req.resume();
  stream.on('response', (h: IncomingHttpHeaders) => {
    const relayed = h[ERROR_HEADER];
    if (typeof relayed === 'string') answeredErrors.set(res, relayed);
    const out = endToEndHeaders(h);
    out['via'] = withVia(h.via, '2');
    try {
      res.writeHead(Number(h[':status']), out);
    } catch {
      stream.close(NGHTTP2_CANCEL);
      return sendError(res, 'tunnel_stream_failed', 'invalid response header');
    }
    coalescingPipe(stream, res);
  });
  let retried = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (!res.headersSent && retry && !withBody && refused(stream)) {
      retried = true;
      retry();
    } else if (!res.headersSent) sendError(res, 'tunnel_stream_failed', err.code);
    else res.destroy();
  });
  // A stream can also end without an error event (its session was destroyed): never leave the browser waiting.
  stream.on('close', () => {
    if (retried || res.writableEnded) return;
    if (!res.headersSent) sendError(res, 'tunnel_stream_failed', 'tunnel connection closed');
    else res.destroy();
  });
  // Cancel only when the browser went away mid-response: a reset for a stream the peer already finished counts
  // as an invalid frame there, and nghttp2 closes the whole session after 1000 of them.
  res.on('close', () => {
    if (!res.writableFinished && !stream.closed) stream.close(NGHTTP2_CANCEL);
  });
}

function relayFailure(stream: ClientHttp2Stream, h: IncomingHttpHeaders, socket: Duplex): void {
  const code = h[ERROR_HEADER];
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (c: Buffer) => {
    if ((size += c.length) <= 4096) chunks.push(c);
  });
  stream.on('end', () => {
    if (!isProxyErrorCode(code))
      return writeSocketError(socket, 'dial_failed', `status ${String(h[':status'])}`);
    // sc's own explanation goes to the browser as sent (bytes, so Content-Length holds whatever they are); the
    // status is the error table's for the code.
    const body = Buffer.concat(chunks);
    const status = proxyErrors[code].status;
    answeredErrors.set(socket, code);
    const head =
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${body.length}\r\nX-Sluice-Error: ${code}\r\nConnection: close\r\n\r\n`;
    socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]));
  });
}

/** Joins a browser socket and a tunnel stream both ways; either side's end half-closes the other. */
function pipeBoth(socket: Duplex, stream: ClientHttp2Stream): void {
  socket.pipe(stream);
  coalescingPipe(stream, socket);
  stream.on('error', () => socket.destroy());
  socket.on('error', () => stream.close(NGHTTP2_CANCEL));
  socket.on('close', () => {
    if (!stream.closed) stream.close(NGHTTP2_CANCEL);
  });
  stream.on('close', () => {
    if (socket.destroyed || socket.writableEnded) return;
    // A clean end of stream half-closes; a reset (tunnel lost, peer aborted) tears the browser's side down.
    if (stream.rstCode && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) socket.destroy();
    else socket.end();
  });
}

function openPipe(
  conn: Connection,
  authority: string,
  socket: Duplex,
  extra: Record<string, string>,
  onOpen: (stream: ClientHttp2Stream) => void,
  retry?: () => void,
): void {
  // The browser can go while its request is routed (authorisation, a wait in the queue for a free stream): then
  // there is nobody to open a stream for, and one opened now would hold the target until it gave up.
  if (socket.destroyed) return;
  let stream: ClientHttp2Stream;
  try {
    stream = conn.request({ ...extra, ':method': 'CONNECT', ':authority': authority }, false);
  } catch {
    return writeSocketError(socket, 'tunnel_stream_failed');
  }
  let open = false;
  stream.on('response', (h: IncomingHttpHeaders) => {
    if (Number(h[':status']) !== 200) return relayFailure(stream, h, socket);
    open = true;
    onOpen(stream);
    pipeBoth(socket, stream);
  });
  let retried = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (!open && retry && refused(stream)) {
      retried = true;
      retry();
    } else if (!open) writeSocketError(socket, 'tunnel_stream_failed', err.code);
  });
  stream.on('close', () => {
    if (!open && !retried) writeSocketError(socket, 'tunnel_stream_failed', 'tunnel connection closed');
  });
  socket.on('close', () => {
    if (!open && !stream.closed) stream.close(NGHTTP2_CANCEL);
  });
}

/** CONNECT host:port -> a byte pipe (TLS stays end to end between browser and app). */
export function forwardConnect(
  conn: Connection,
  authority: string,
  socket: Duplex,
  head: Buffer,
  retry?: () => void,
): void {
  const onOpen = (stream: ClientHttp2Stream): void => {
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) stream.write(head);
  };
  openPipe(conn, authority, socket, {}, onOpen, retry);
}

/** The head of an absolute-form upgrade request rewritten to origin form, for the target. */
export function upgradeHead(req: IncomingMessage, url: URL): Buffer {
  const lines = [`${req.method ?? 'GET'} ${url.pathname}${url.search} HTTP/1.1`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    // The hop-by-hop fields stay here, except the two that ask the target for the upgrade.
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) && lower !== 'connection' && lower !== 'upgrade') continue;
    lines.push(`${name}: ${req.rawHeaders[i + 1]}`);
  }
  lines.push(`Via: ${withVia(req.headers.via, req.httpVersion)}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** Absolute-form upgrade (ws://): a byte pipe that starts with the request, rewritten to origin form. */
export function forwardUpgrade(
  conn: Connection,
  req: IncomingMessage,
  url: URL,
  socket: Duplex,
  head: Buffer,
): void {
  // wss: an upgrade from a resigned TLS connection (resign.ts); sc opens TLS to the target before the bytes flow.
  const secure = url.protocol === 'wss:' || url.protocol === 'https:';
  const port = url.port || (secure ? '443' : '80');
  openPipe(
    conn,
    `${url.hostname}:${port}`,
    socket,
    {
      'x-sluice-upgrade': String(req.headers.upgrade ?? ''),
      ...(secure ? { [TLS_HEADER]: '1' } : {}),
    },
    (stream) => {
      stream.write(upgradeHead(req, url));
      if (head.length) stream.write(head);
    },
  );
}

/**
 * A browser connection whose first request was authorised: one stream carries it whole, starting with the bytes
 * read so far, and sc relays the requests (splice.ts). `first` is told the status and X-Sluice-Error code of the
 * first response, for the metrics. If the stream fails before any response byte came back, the browser gets 502
 * tunnel_stream_failed; later on, only a reset can tell it (as with any proxy connection that dies).
 */
export function forwardSplice(
  conn: Connection,
  authority: string,
  socket: Duplex,
  bytes: Buffer,
  maxHeaderSize: number,
  first: (status: number, code: string | undefined) => void,
  retry?: () => void,
): void {
  const onOpen = (stream: ClientHttp2Stream): void => {
    let replied = false;
    stream.once('data', (chunk: Buffer) => {
      replied = true;
      const head = chunk.toString('latin1', 0, Math.min(chunk.length, 4096));
      const code = /\r\nx-sluice-error: *([a-z_]+)/i.exec(head)?.[1];
      first(Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0), code);
    });
    const failEarly = (): void => {
      if (!replied) writeSocketError(socket, 'tunnel_stream_failed', 'tunnel connection closed');
    };
    // A stream whose session died ends ('end') before it closes: answer before the pipe half-closes the socket.
    stream.once('end', failEarly);
    stream.once('error', failEarly);
    stream.once('close', failEarly);
    stream.write(bytes);
  };
  openPipe(
    conn,
    authority,
    socket,
    { [SPLICE_HEADER]: 'http/1.1', [SPLICE_MAX_HEADER]: String(maxHeaderSize) },
    onOpen,
    retry,
  );
}
