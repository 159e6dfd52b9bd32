/**
 * Direct routing: requests a tunnel's rules send "direct" are carried by the server itself, from its own network,
 * through routing/direct-dial.ts (which refuses the server's own network unless the operator allows it).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { codeForSocketError } from '../../protocol/errors.js';
import { endToEndHeaders, withVia } from '../../protocol/tunnel-protocol.js';
import { dialDirect, DirectDialError, type DirectPolicy } from '../routing/direct-dial.js';
import { sendError, writeSocketError } from './error-response.js';
import { upgradeHead } from './forward.js';

function fail(err: unknown, answer: (code: DirectDialError['code'], detail: string) => void): void {
  if (err instanceof DirectDialError) answer(err.code, err.message);
  else answer('dial_failed', (err as Error).message);
}

function pipeBoth(a: Duplex, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
}

/** Absolute-form http:// request, sent by the server to the target. */
export function forwardHttpDirect(
  policy: DirectPolicy,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): void {
  dialDirect(url.hostname, Number(url.port || 80), policy).then(
    (socket) => {
      const headers = endToEndHeaders(req.headers, ['expect']);
      headers['host'] = url.host;
      headers['via'] = withVia(req.headers.via, req.httpVersion);
      const out = http.request({
        createConnection: () => socket,
        method: req.method,
        path: url.pathname + url.search,
        headers,
        setHost: false,
      });
      out.on('response', (r) => {
        const h = endToEndHeaders(r.headers);
        h['via'] = withVia(r.headers.via, r.httpVersion);
        res.writeHead(r.statusCode ?? 502, h);
        r.pipe(res);
      });
      out.on('error', (err) => {
        if (!res.headersSent) sendError(res, codeForSocketError(err), err.message);
        else res.destroy();
      });
      res.on('close', () => {
        if (!res.writableFinished) out.destroy();
      });
      req.pipe(out);
    },
    (err: unknown) => fail(err, (code, detail) => sendError(res, code, detail)),
  );
}

/** CONNECT host:port: a raw pipe from the server to the target. */
export function forwardConnectDirect(
  policy: DirectPolicy,
  host: string,
  port: number,
  socket: Duplex,
  head: Buffer,
): void {
  dialDirect(host, port, policy).then(
    (target) => {
      if (socket.destroyed) return target.destroy();
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) target.write(head);
      pipeBoth(socket, target);
    },
    (err: unknown) => fail(err, (code, detail) => writeSocketError(socket, code, detail)),
  );
}

/** ws:// upgrade: the request rewritten to origin form, then a raw pipe. */
export function forwardUpgradeDirect(
  policy: DirectPolicy,
  req: IncomingMessage,
  url: URL,
  socket: Duplex,
  head: Buffer,
): void {
  dialDirect(url.hostname, Number(url.port || 80), policy).then(
    (target) => {
      if (socket.destroyed) return target.destroy();
      target.write(upgradeHead(req, url));
      if (head.length) target.write(head);
      pipeBoth(socket, target);
    },
    (err: unknown) => fail(err, (code, detail) => writeSocketError(socket, code, detail)),
  );
}
