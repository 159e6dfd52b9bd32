/** host:port parsing shared by the server's listeners. `:8080` means all interfaces; port 0 picks a free port. */
export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListenAddress(value: string, flag: string): ListenAddress {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]*):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535)
    throw new Error(`${flag}: "${value}" is not host:port (for example 127.0.0.1:8080 or :8080)`);
  const host = m[1]!.replace(/^\[|\]$/g, '');
  return { host: host === '' ? '::' : host, port };
}

export function formatAddress(host: string, port: number): string {
  const h = host === '::' || host === '0.0.0.0' ? '127.0.0.1' : host;
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
}
