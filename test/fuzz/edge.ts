/** Hand-written tunnel handshakes at the edge, for the protocol-version test and the handshake fuzzer. */
import { rest, type TestServer } from '../kit/index.js';
import { exchange, type WireAnswer } from './wire.js';

export interface CreatedTunnel {
  id: string;
  token: string;
}

export async function createTunnel(
  server: TestServer,
  auth: { username: string; accessKey: string },
  name: string,
): Promise<CreatedTunnel> {
  const r = await rest<{ id: string; connection_token: string }>(
    server,
    'POST',
    `/${auth.username}/tunnels`,
    auth,
    {
      tunnel_identifier: name,
    },
  );
  if (r.status !== 200) throw new Error(`create tunnel: ${r.status} ${r.text}`);
  return { id: r.json.id, token: r.json.connection_token };
}

export function handshakeHead(fields: string[], path = '/tunnel/v1/connect', eol = '\r\n'): Buffer {
  return Buffer.from([`GET ${path} HTTP/1.1`, 'Host: edge', ...fields].join(eol) + eol + eol, 'latin1');
}

export const upgradeFields = (t: CreatedTunnel): string[] => [
  'Connection: Upgrade',
  'Upgrade: sluice-tunnel/1',
  `Authorization: Bearer ${t.id}.${t.token}`,
];

/** One handshake over TLS to the edge (optionally with bytes before TLS), answered or closed within the bound. */
export function edgeExchange(
  server: TestServer,
  bytes: Buffer[],
  opts: { plain?: Buffer; localAddress?: string; boundMs?: number; end?: boolean } = {},
): Promise<WireAnswer> {
  const port = Number(server.edgeAddress.slice(server.edgeAddress.lastIndexOf(':') + 1));
  return exchange({
    port,
    localAddress: opts.localAddress,
    plain: opts.plain,
    tls: { ca: server.caPem, servername: 'localhost' },
    chunks: bytes,
    end: opts.end,
    boundMs: opts.boundMs ?? 20_000,
  });
}
