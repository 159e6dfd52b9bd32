/** Writes proxy errors to browsers, from the one table in protocol/errors.ts. */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  ERROR_HEADER,
  errorBody,
  errorResponse,
  proxyErrors,
  type ProxyErrorCode,
} from '../../protocol/errors.js';

export function sendError(
  res: ServerResponse,
  code: ProxyErrorCode,
  detail?: string,
  extra: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  answeredErrors.set(res, code);
  const body = errorBody(code, detail);
  res.writeHead(proxyErrors[code].status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    [ERROR_HEADER]: code,
    ...extra,
  });
  res.end(body);
}

/**
 * The error code a response or raw socket was answered with, read by the metrics when it finishes. Keyed by the
 * object, so it holds nothing beyond each exchange's life.
 */
export const answeredErrors = new WeakMap<object, string>();

/** The same for a raw socket (CONNECT and upgrade requests, client errors). */
export function writeSocketError(
  socket: Duplex,
  code: ProxyErrorCode,
  detail?: string,
  extra: Record<string, string> = {},
): void {
  if (socket.destroyed || socket.writableEnded) return;
  answeredErrors.set(socket, code);
  socket.end(errorResponse(code, detail, extra));
}

export const PROXY_AUTHENTICATE = { 'proxy-authenticate': 'Basic realm="sluice"' };
