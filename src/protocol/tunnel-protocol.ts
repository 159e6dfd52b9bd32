/**
 * What `sc` and `sc-server` agree on for a tunnel connection.
 *
 *   sc ──TLS──> edge   GET /tunnel/v1/connect  (HTTP/1.1, Upgrade: sluice-tunnel/1, Bearer <id>.<token>)
 *                <──   101 Switching Protocols  |  4xx {"code","error"} (nothing else happens)
 *   then the same socket carries HTTP/2 with the roles reversed: sc-server is the HTTP/2 client and opens one
 *   stream per proxied request; sc is the HTTP/2 server and answers each from the private network.
 *
 * Streams whose :scheme is CONTROL_SCHEME are control messages from the server (ready, shutdown); the proxy entry
 * only ever sends http/https requests and CONNECT, so a browser cannot forge one.
 */

/**
 * The tunnel protocol's version, sent by sc in HandshakeHeader.protocolVersion. The edge accepts
 * MIN_PROTOCOL_VERSION..PROTOCOL_VERSION and refuses any other with 426 `unsupported_protocol`, on which sc exits
 * 5; a handshake without the header (sc before the header existed) is version 1. Bump PROTOCOL_VERSION for a
 * change an older peer would misread, and raise MIN_PROTOCOL_VERSION only when the server drops the old one
 * (docs/operations.md, "Version compatibility").
 */
export const PROTOCOL_VERSION = 1;
export const MIN_PROTOCOL_VERSION = 1;
export const UPGRADE_TOKEN = 'sluice-tunnel/1';
export const CONNECT_PATH = '/tunnel/v1/connect';
export const CONTROL_SCHEME = 'sluice';
export const CONTROL_AUTHORITY = 'control';

/** Request headers of the upgrade handshake. */
export const HandshakeHeader = {
  connIndex: 'x-sluice-conn-index',
  clientVersion: 'x-sluice-client-version',
  maxStreams: 'x-sluice-max-streams',
  connId: 'x-sluice-conn-id',
  protocolVersion: 'x-sluice-protocol-version',
} as const;

/** The handshake's protocol version: absent = 1, a decimal integer, or null when malformed. */
export function parseProtocolVersion(value: string | string[] | undefined): number | null {
  if (value === undefined) return 1;
  if (typeof value !== 'string' || !/^[0-9]{1,6}$/.test(value.trim())) return null;
  return Number(value.trim());
}

/**
 * A CONNECT stream with this header carries a browser's whole keep-alive connection (HTTP/1.1 forward-proxy
 * requests, the first one already authorised by the server); sc relays it request by request. Its value is
 * the protocol.
 */
export const SPLICE_HEADER = 'x-sluice-splice';
/** With SPLICE_HEADER: the proxy entry's request header size limit, which sc enforces on later requests. */
export const SPLICE_MAX_HEADER = 'x-sluice-max-header-size';
/**
 * On a CONNECT stream (a ws:// upgrade from a resigned browser connection, i.e. wss://): sc opens TLS to the
 * target itself, verifying its certificate, before the bytes flow (docs/decisions/0016-tls-resigning.md). Plain
 * requests from resigned connections say so with `:scheme https`.
 */
export const TLS_HEADER = 'x-sluice-tls';

/** Control operations sent by the server as `POST sluice://control/<op>` with a JSON body. */
export type ControlOp = 'ready' | 'shutdown';

export interface ReadyMessage {
  tunnel_id: string;
  conn_id: string;
}

export interface ShutdownMessage {
  /** Stable reason code: replaced, deleted, server_shutdown, expired. */
  reason: string;
  message: string;
}

/**
 * HTTP/2 settings for both ends. Large windows keep a single stream fast on high-latency links (frp's 256 KiB
 * yamux window cost it 10x at 100 ms RTT); memory is only used when a reader is slow, and flow control caps it.
 */
export const STREAM_WINDOW = 16 * 1024 * 1024;
export const CONNECTION_WINDOW = 64 * 1024 * 1024;
export const MAX_FRAME_SIZE = 64 * 1024;
// Write only Buffers to HTTP/2 streams, never strings: Node 20 writes a short string to an Http2Stream from a
// stack copy that can be reused before nghttp2 sends it, so its bytes can arrive overwritten
// (docs/decisions/0006-splice.md).

/** Upper bound nghttp2 may buffer per session, in MB (Node's default of 10 is too small for 16 MiB windows). */
export const MAX_SESSION_MEMORY_MB = 512;

/** `Authorization` value of the handshake. */
export function bearer(tunnelId: string, token: string): string {
  return `Bearer ${tunnelId}.${token}`;
}

export function parseBearer(value: string | undefined): { tunnelId: string; token: string } | null {
  const m = /^Bearer ([0-9a-f]{32})\.([A-Za-z0-9_-]{16,128})$/.exec(value ?? '');
  return m ? { tunnelId: m[1]!, token: m[2]! } : null;
}

/**
 * The hop-by-hop header fields (RFC 9110 7.6.1, plus the proxy ones and HTTP/2's upgrade setting): never passed
 * from one connection to the next, by the proxy entry, the per-stream path or the splice relay. The one list in
 * the code; the fields a message's Connection header names are hop-by-hop too. Transfer-Encoding is the framing
 * of one connection: a relay that passes a chunked body through as it is writes its own for the next hop.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** Whether a field (lower-case name) stays on its connection: hop-by-hop, or named by the Connection header. */
export function isHopByHop(lower: string, connection: readonly string[]): boolean {
  return HOP_BY_HOP.has(lower) || (connection.length > 0 && connection.includes(lower));
}

/** The tokens of Connection header values, lower case. */
export function connectionTokens(value: string | string[] | undefined): string[] {
  const out: string[] = [];
  for (const v of Array.isArray(value) ? value : value ? [value] : []) {
    for (const name of v.split(',')) {
      const t = name.trim().toLowerCase();
      if (t) out.push(t);
    }
  }
  return out;
}

/**
 * Copies headers for an HTTP/2 message: without hop-by-hop ones (including those the Connection header names),
 * pseudo-headers and Host (HTTP/2 carries it as :authority).
 */
export function endToEndHeaders(
  headers: Record<string, string | string[] | undefined>,
  extraDrop: readonly string[] = [],
): Record<string, string | string[]> {
  const drop = connectionTokens(headers['connection']);
  drop.push('host', ...extraDrop);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':')) continue;
    const lower = name.toLowerCase();
    if (isHopByHop(lower, drop)) continue;
    out[lower] = value;
  }
  return out;
}

/** Appends our hop to a Via header value. */
export function withVia(existing: string | string[] | undefined, protocol = '1.1'): string {
  const prior = Array.isArray(existing) ? existing.join(', ') : existing;
  return prior ? `${prior}, ${protocol} sluice` : `${protocol} sluice`;
}
