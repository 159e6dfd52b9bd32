/**
 * Splicing: the fast path for plain http:// requests.
 *
 * The proxy entry reads only the head of the first request on a browser connection. When it is an absolute-form
 * http:// request with credentials for a tunnel the requester owns, the whole connection (that request and every
 * later one on it) is carried over one tunnel stream, and sc relays its requests (client/egress/http1-relay.ts).
 * Per request the server then does no HTTP work and no stream set-up: bytes move as they do for CONNECT. Everything else (CONNECT,
 * upgrades, shared tunnels, anything unusual in the head, errors) goes to Node's HTTP server, as if the bytes had
 * never been read. Why and what it costs: docs/decisions/0006-splice.md.
 */
import type { Socket } from 'node:net';
import { CRLF2, parseHead, values, type Head } from '../../protocol/http1-framing.js';
import { writeSocketError } from './error-response.js';

/** How long a new connection may take to send a complete first request head before Node's server takes over. */
const SNIFF_TIMEOUT_MS = 10_000;

export interface FirstRequest {
  method: string;
  url: URL;
  /** The Proxy-Authorization value, exactly once in the head. */
  auth: string;
  /** X-Forwarded-For, for the client address behind a trusted load balancer (client-address.ts). */
  forwardedFor?: string;
}

/**
 * The first request's method, URL and credentials when the head is one we can splice; null for anything else
 * (including every malformed head: Node's parser then answers it as before).
 */
export function parseFirstHead(text: string): FirstRequest | null {
  let head: Head;
  try {
    head = parseHead(text);
  } catch {
    return null;
  }
  const m = /^([A-Z]{1,20}) (http:\/\/[\x21-\x7e]+) HTTP\/1\.1$/.exec(head.line);
  if (!m || m[1] === 'CONNECT' || values(head, 'upgrade').length > 0) return null;
  const auths = values(head, 'proxy-authorization');
  if (auths.length !== 1 || !auths[0]) return null;
  let url: URL;
  try {
    url = new URL(m[2]!);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' || !url.hostname || url.username || url.password) return null;
  const xff = values(head, 'x-forwarded-for');
  return { method: m[1]!, url, auth: auths[0], ...(xff.length ? { forwardedFor: xff.join(',') } : {}) };
}

/** Whether buf[from, to) has an LF not preceded by CR or a CR not followed by LF. */
export function bareLineEnd(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c === 0x0a && (i === 0 || buf[i - 1] !== 0x0d)) return true;
    if (c === 0x0d && i + 1 < buf.length && buf[i + 1] !== 0x0a) return true;
  }
  return false;
}

/**
 * Reads a new connection until its first request head is complete, then calls `splice` with it and the bytes
 * read so far (the socket is paused), or hands the socket to `fallback` with those bytes put back.
 */
export function sniff(
  socket: Socket,
  maxHeaderSize: number,
  fallback: (socket: Socket) => void,
  splice: (socket: Socket, first: FirstRequest, bytes: Buffer) => void,
): void {
  let buf: Buffer = Buffer.alloc(0);
  // Errors are the socket's own business from here on (Node's server adds its handler on fallback).
  const noop = (): void => undefined;
  const stop = (): void => {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.pause();
  };
  // The client stopped sending before a whole head: nothing to splice, and Node's parser, handed a socket whose
  // 'end' has passed, would wait for more. Answer (or just close) here, so the socket does not sit half-open.
  const onEnd = (): void => {
    stop();
    if (buf.length === 0) socket.end();
    else writeSocketError(socket, 'bad_request', 'the connection ended inside the request head');
  };
  const giveUp = (): void => {
    stop();
    if (socket.destroyed) return;
    if (buf.length) socket.unshift(buf);
    fallback(socket);
    socket.resume();
  };
  let scanned = 0;
  const onData = (chunk: Buffer): void => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    const end = buf.indexOf(CRLF2);
    // A line that does not end in CRLF (bare LF or CR) is never spliced: hand it to Node's parser now, which
    // answers or rejects it, instead of waiting for a CRLFCRLF that may never come.
    const bare = bareLineEnd(buf, scanned, end < 0 ? buf.length : end);
    scanned = end < 0 ? Math.max(0, buf.length - 1) : end;
    if (bare) return giveUp();
    if (end < 0 || end > maxHeaderSize) {
      if (end > maxHeaderSize || buf.length > maxHeaderSize) giveUp();
      return;
    }
    const first = parseFirstHead(buf.toString('latin1', 0, end));
    if (!first) return giveUp();
    stop();
    splice(socket, first, buf);
  };
  const timer = setTimeout(giveUp, SNIFF_TIMEOUT_MS);
  socket.once('close', () => clearTimeout(timer));
  socket.on('error', noop);
  socket.on('data', onData);
  socket.once('end', onEnd);
}
